"""The PostgreSQL cost profile: per-stage CPU costs as data (``profiles/postgres.yaml``).

The stages follow ``tcop/postgres.c``: ``exec_simple_query`` runs ``pg_parse_query`` (parse),
``pg_analyze_and_rewrite_fixedparams`` (analyze + rewrite), ``pg_plan_queries`` (plan) and
``PortalRun`` (execute, which sends the rows); the extended protocol used by prepared statements
runs ``exec_parse_message`` once, then ``exec_bind_message`` (bind; plan choice in
``utils/cache/plancache.c:GetCachedPlan``) and ``exec_execute_message`` per call. Executor work
is split per page touched (``access/nbtree/nbtsearch.c:_bt_search`` per level, ``heapam.c``
for the tuple) so that cache misses and deeper trees cost what they should.

Each cost is ``{mean_us, dist, cv, source}``: ``dist`` is ``const``, ``exp`` (exponential, cv 1)
or ``lognormal`` (mean ``mean_us``, coefficient of variation ``cv``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"

CPU_STAGES = (
    "recv", "parse", "analyze", "plan", "bind", "executor", "buffer_lookup", "index_page",
    "heap_tuple", "heap_update", "wal_insert", "commit", "send",
)


class Cost(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mean_us: float = Field(ge=0.0)
    dist: Literal["const", "exp", "lognormal"] = "const"
    cv: float = Field(default=0.0, ge=0.0)
    source: str = ""

    def sample(self, rng: np.random.Generator) -> float:
        """One draw, in seconds."""
        m = self.mean_us * 1e-6
        if m == 0.0 or self.dist == "const":
            return m
        if self.dist == "exp":
            return float(rng.exponential(m))
        if self.cv == 0.0:
            return m
        s2 = math.log1p(self.cv * self.cv)
        return float(rng.lognormal(math.log(m) - s2 / 2.0, math.sqrt(s2)))


class CpuCosts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    recv: Cost              # read the client's message from the socket (pq_getmessage)
    parse: Cost             # raw parser (gram.y)
    analyze: Cost           # parse analysis + rewrite (catalog lookups)
    plan: Cost              # planner for a PK lookup (one custom or generic plan)
    bind: Cost              # extended protocol Bind (prepared statements only)
    executor: Cost          # ExecutorStart/Run/End fixed part, portal, snapshot
    buffer_lookup: Cost     # buffer mapping lookup + pin/unpin, per page access
    index_page: Cost        # binary search inside one B-tree page
    heap_tuple: Cost        # fetch one heap tuple, visibility check, projection
    heap_update: Cost       # heap_update of one row (HOT), tuple lock
    wal_insert: Cost        # XLogInsert of one record into wal_buffers
    commit: Cost            # CommitTransaction CPU (commit record, clog, cleanup)
    send: Cost              # DataRow + CommandComplete + ReadyForQuery and the send(2)


class WalSizes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    update_record_bytes: int = Field(ge=0)
    commit_record_bytes: int = Field(ge=0)
    source: str = ""


class CostProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    measured_on: str = ""
    cpu: CpuCosts
    #: copying one 8 kB page from the OS page cache (pread hit)
    os_cache_copy: Cost
    wal: WalSizes


class CostSampler:
    """Fast draws of many costs from one numpy Generator: standard normals and exponentials
    are drawn in blocks (a numpy call per draw would dominate the simulation's run time)."""

    BLOCK = 4096

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self._z: list[float] = []
        self._e: list[float] = []
        self._params: dict[int, tuple[str, float, float, float]] = {}

    def _prep(self, c: Cost) -> tuple[str, float, float, float]:
        m = c.mean_us * 1e-6
        kind = c.dist
        if m == 0.0 or kind == "const" or (kind == "lognormal" and c.cv == 0.0):
            return ("const", m, 0.0, 0.0)
        if kind == "exp":
            return ("exp", m, 0.0, 0.0)
        s2 = math.log1p(c.cv * c.cv)
        return ("lognormal", m, math.log(m) - s2 / 2.0, math.sqrt(s2))

    def draw(self, c: Cost) -> float:
        """One draw of ``c`` in seconds (same distribution as ``Cost.sample``)."""
        p = self._params.get(id(c))
        if p is None:
            p = self._params[id(c)] = self._prep(c)
        kind = p[0]
        if kind == "const":
            return p[1]
        if kind == "exp":
            if not self._e:
                self._e = self.rng.standard_exponential(self.BLOCK).tolist()
            return p[1] * self._e.pop()
        if not self._z:
            self._z = self.rng.standard_normal(self.BLOCK).tolist()
        return math.exp(p[2] + p[3] * self._z.pop())


def load_profile(name_or_path: str | Path = "postgres.yaml") -> dict[str, Any]:
    """Load a profile file (a name under ``redissim/profiles/`` or a path) as a mapping."""
    p = Path(name_or_path)
    if not p.is_absolute() and not p.exists():
        p = PROFILES_DIR / p
    with open(p, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    # A file may hold several sections; ours is under "postgres".
    return dict(data.get("postgres", data))


def parse_profile(profile: dict[str, Any] | CostProfile) -> CostProfile:
    return profile if isinstance(profile, CostProfile) else CostProfile.model_validate(profile)
