"""The ``postgres:`` section of a scenario (pydantic v2), with postgresql.conf names.

Server knobs use the names PostgreSQL users know (``shared_buffers``, ``max_connections``,
``synchronous_commit``, ``plan_cache_mode``, ``wal_writer_delay``; see
``backend/utils/misc/postgresql.conf.sample``). What PostgreSQL does not configure itself --
cores, the OS page cache size, the storage device, a connection pool in front, the table and
whether caches start warm -- is named plainly. Sizes and times use the project's units
(``redissim/units.py``: "128mb", "4gb", "200ms"; a bare number is bytes or seconds).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from redissim.sim.devices import DeviceSpec
from redissim.units import parse_size, parse_time

BLCKSZ = 8192  # PostgreSQL page size (pg_config.h BLCKSZ, default 8 kB)

Bytes = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
Seconds = Annotated[float, BeforeValidator(parse_time), Field(ge=0)]


class TableConfig(BaseModel):
    """One table with an integer primary key 0..rows-1, loaded in key order (pgbench -i)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "pgbench_accounts"
    rows: int = Field(default=1_000_000, ge=1)
    #: bytes of column data per row (pgbench_accounts: 3 x int4 + char(84) = 97)
    row_width: int = Field(default=97, ge=1)
    #: primary-key width in bytes (int4 = 4, int8 = 8)
    key_width: int = Field(default=4, ge=1)
    #: heap fillfactor in percent (pgbench -F, default 100)
    fillfactor: int = Field(default=100, ge=10, le=100)


class PostgresConfig(BaseModel):
    """Settings of the simulated PostgreSQL 15 server."""

    model_config = ConfigDict(extra="forbid")

    shared_buffers: Bytes = 128 * 1024**2   # initdb default
    max_connections: int = Field(default=100, ge=1)
    synchronous_commit: bool = True
    plan_cache_mode: Literal["auto", "force_custom_plan", "force_generic_plan"] = "auto"
    #: walwriter cadence when synchronous_commit=off ("200ms"; a bare number is seconds)
    wal_writer_delay: Seconds = 0.2
    #: CPU cores the backends are scheduled on
    cores: int = Field(default=2, ge=1)
    #: None: one backend per client connection; N: a pool (PgBouncer-like) of N backends
    pool_size: int | None = Field(default=None, ge=1)
    #: memory the kernel can use as page cache for the data files
    os_cache: Bytes = 4 * 1024**3
    device: DeviceSpec = DeviceSpec(preset="nvme")
    table: TableConfig = TableConfig()
    cache_state: Literal["warm", "cold"] = "warm"
    #: cost profile: a file name under redissim/profiles/ or a path
    cost_profile: str = "postgres.yaml"

    @property
    def nbuffers(self) -> int:
        return max(16, self.shared_buffers // BLCKSZ)  # PostgreSQL's minimum is 16 buffers

    @property
    def os_cache_pages(self) -> int:
        return max(1, self.os_cache // BLCKSZ)
