"""Cost profiles: the CPU time the Redis main thread spends per event-loop iteration, per
syscall and per command, as data (``redissim/profiles/*.yaml``), never as constants in code.

Why these terms: Redis's throughput is shaped by a large fixed cost per round trip (epoll
wake-up, one ``read(2)``, one ``write(2)``) and a small cost per command (``usec_per_call`` in
INFO commandstats is ~1 us for GET/SET), see reference section 7 "Decomposition". Commands that
walk the keyspace add per-key terms: KEYS pays per key scanned (``keysCommand`` tests every key
with ``stringmatchlen``) and per key returned; SCAN pays per bucket visited (``dictScan``).
Every default in a profile file names its source under ``sources:``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from redissim.server.commands import MISS_REPLIES

PROFILE_DIR = Path(__file__).parent / "profiles"


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              alias_generator=lambda s: s.replace("_", "-"))


class LoopCosts(_Base):
    """Per-iteration and per-syscall costs of the ae loop, in microseconds."""

    iteration_us: float = Field(ge=0)
    #: paid when the loop wakes from an epoll_wait that blocked (scheduler wake-up)
    wakeup_us: float = Field(0.0, ge=0)
    read_us: float = Field(ge=0)
    read_per_kb_us: float = Field(ge=0)
    #: per command, outside ``call()``: parsing it into argv objects
    #: (``processMultibulkBuffer``), ``processCommand``'s lookup and checks, and freeing the
    #: argv after it ran (``resetClient``); paid by every command of a pipelined read
    parse_us: float = Field(0.0, ge=0)
    write_us: float = Field(ge=0)
    write_per_kb_us: float = Field(ge=0)
    cron_us: float = Field(ge=0)
    #: serverCron work done every 100 ms whatever hz is (cronUpdateMemoryStats: RSS and
    #: allocator stats, trackInstantaneousMetric)
    cron_100ms_us: float = Field(0.0, ge=0)
    cron_per_client_us: float = Field(ge=0)


class CommandCosts(_Base):
    """Execution cost of command procs (``call()`` duration), in microseconds."""

    default_us: float = Field(ge=0)
    per_command_us: dict[str, float] = Field(default_factory=dict)
    #: the cost of a command whose key does not exist (GET or HGET answering nil, EXISTS or
    #: DEL 0, TTL -2: ``commands.MISS_REPLIES``): the lookup reads the bucket and its chain
    #: but no entry's key, robj or value, so it is cheaper than a hit; a command not listed
    #: costs the same either way
    per_command_miss_us: dict[str, float] = Field(default_factory=dict)
    per_element_us: float = Field(ge=0)
    keys_per_key_scanned_us: float = Field(ge=0)
    keys_per_key_returned_us: float = Field(ge=0)
    scan_per_bucket_us: float = Field(ge=0)
    scan_per_key_us: float = Field(ge=0)
    #: a listpack hash's search (``lpFind``), per field it compares: a field's lookup in a
    #: listpack walks the fields from the head, where a hash table's takes one probe
    listpack_per_entry_us: float = Field(0.0, ge=0)
    distribution: Literal["constant", "exponential"] = "constant"

    @field_validator("per_command_miss_us")
    @classmethod
    def _known_misses(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(MISS_REPLIES))
        if unknown:
            raise ValueError(f"no miss is told apart for {', '.join(unknown)}; allowed: "
                             f"{', '.join(sorted(MISS_REPLIES))}")
        return v


class ExpireCosts(_Base):
    """CPU of the active expire cycle (``expire.c``), in microseconds."""

    bucket_us: float = Field(ge=0)
    sample_us: float = Field(ge=0)
    expire_us: float = Field(ge=0)


class EvictionCosts(_Base):
    """CPU of performEvictions (``evict.c``), in microseconds."""

    sample_us: float = Field(ge=0)
    evict_us: float = Field(ge=0)


class PersistenceCosts(_Base):
    """Costs of fork, AOF writes and loading at restart (``rdb.c``, ``aof.c``)."""

    fork_ms_per_gb: float = Field(ge=0)
    fork_base_us: float = Field(ge=0)
    aof_write_us: float = Field(ge=0)
    aof_write_per_kb_us: float = Field(ge=0)
    rdb_load_per_key_us: float = Field(ge=0)
    #: the RDB writer's CPU (child or SAVE): per key, per KiB written (CRC64 and write(2)
    #: included), per KiB LZF copied as literals and per KiB its matches covered
    rdb_save_per_key_us: float = Field(ge=0)
    rdb_save_per_kb_us: float = Field(ge=0)
    lzf_literal_per_kb_us: float = Field(ge=0)
    lzf_matched_per_kb_us: float = Field(ge=0)
    #: loading at restart: per key, per KiB LZF unpacks, per GiB of memory allocated
    load_s_per_gb: float = Field(ge=0)
    lzf_unpack_per_kb_us: float = Field(ge=0)
    aof_load_per_command_us: float = Field(ge=0)
    startup_ms: float = Field(ge=0)


class ClusterCosts(_Base):
    """What a redis-server in cluster mode spends more than a standalone one."""

    #: per command: the slot check before call() and the slot-to-key lists of 7.0
    per_command_us: float = Field(ge=0)


class DatasetCosts(_Base):
    """How a key lookup's cost grows with the dataset (model.cpu-caches, server/cpu_caches.py):
    a real server's GET fitted as base + l2-miss x (share of lookups missing the L2) +
    llc-miss x (share missing the last-level cache), and the dataset size at which the
    command costs above were measured."""

    reference_bytes: float = Field(gt=0)
    base_us: float = Field(ge=0)
    l2_miss_us: float = Field(ge=0)
    llc_miss_us: float = Field(ge=0)
    l2_bytes: float = Field(gt=0)
    llc_bytes: float = Field(gt=0)


class KernelShare(_Base):
    """How much of each cost is the kernel's (system time, INFO ``used_cpu_sys*``) rather
    than the process's own (user time): fractions, read only by INFO's CPU section. A
    command's own work (``call()``, its parse, expiry and eviction inside it) is user time:
    a real server's system time per command, fitted apart from its reads, is nil. A fork's
    stall is system time: the parent waits inside fork(2) while the kernel copies its page
    tables. (A profile without this section counts everything as user time.)"""

    #: read(2) and write(2) of the clients' sockets and of the AOF, and their bytes
    syscalls: float = Field(0.0, ge=0, le=1)
    #: an iteration of the loop and a wake-up from a blocking epoll_wait
    loop: float = Field(0.0, ge=0, le=1)
    #: serverCron's own work (cron-us, cron-100ms-us, cron-per-client-us)
    cron: float = Field(0.0, ge=0, le=1)
    #: a BGSAVE or AOF-rewrite child's CPU, and SAVE's serialising on the main thread
    child: float = Field(0.0, ge=0, le=1)
    #: a restarted process's startup and loading of its RDB or AOF
    load: float = Field(0.0, ge=0, le=1)


class CostProfile(_Base):
    name: str
    description: str = ""
    loop: LoopCosts
    commands: CommandCosts
    expire: ExpireCosts
    eviction: EvictionCosts
    persistence: PersistenceCosts
    #: (optional, for profiles written before the cluster model: then cluster mode costs
    #: nothing extra)
    cluster: ClusterCosts = Field(default_factory=lambda: ClusterCosts(per_command_us=0.0))
    #: (optional: a profile without it cannot run with model.cpu-caches)
    dataset: DatasetCosts | None = None
    kernel_share: KernelShare = Field(default_factory=KernelShare)
    sources: dict[str, str] = Field(default_factory=dict)

    def command_us(self, name: str) -> float:
        return self.commands.per_command_us.get(name, self.commands.default_us)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml") if p.stem != "postgres")


def load_profile_data(name_or_path: str) -> dict:
    """Raw profile mapping from a built-in name or a file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise FileNotFoundError(
            f"cost profile {name_or_path!r} not found; built-in profiles: "
            + ", ".join(available_profiles()))
    try:
        with path.open() as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise ValueError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:  # (a user's file: one line, not a traceback)
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ValueError(f"{path}:{where}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a cost profile must be a mapping")
    return data
