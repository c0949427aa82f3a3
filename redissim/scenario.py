"""Scenario files: YAML validated by pydantic, with redis.conf names for server settings.

A scenario says what server (``server:`` with redis.conf names such as ``hz``,
``dynamic-hz``), what network, what cost profile, what data is preloaded and which
workloads run against it; ``variants:`` run the same scenario again with a few fields changed
(``P=1`` against ``P=16``) so their results print side by side. Sizes and times accept
"64mb", "250us", "2s". Unknown fields are rejected, so a typo never silently does nothing.

``load_scenario`` turns every problem with the user's file into a ``ScenarioError`` whose
message is one line: the file, the field path and what is allowed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from redissim.postgres.config import PostgresConfig
from redissim.profile import CostProfile, load_profile_data
from redissim.sim.devices import DeviceSpec
from redissim.units import UnitError, parse_bandwidth, parse_rate, parse_size, parse_time

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def _unit(fn):
    def convert(v: Any) -> Any:
        if v is None:
            return v
        try:
            return fn(v)
        except UnitError as e:
            raise ValueError(str(e)) from None
    return BeforeValidator(convert)


Seconds = Annotated[float, _unit(parse_time), Field(ge=0)]
Bytes = Annotated[int, _unit(parse_size), Field(ge=0)]
PerSecond = Annotated[float, _unit(parse_rate), Field(gt=0)]
BytesPerSecond = Annotated[float, _unit(parse_bandwidth), Field(gt=0)]


def _yes_no(v: Any) -> Any:
    # redis.conf spells booleans yes/no; YAML 1.1 already maps them, strings too.
    if isinstance(v, str) and v.lower() in ("yes", "no"):
        return v.lower() == "yes"
    return v


YesNo = Annotated[bool, BeforeValidator(_yes_no)]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              alias_generator=lambda s: s.replace("_", "-"))


class ServerConfig(_Base):
    """Server settings under their redis.conf names."""

    hz: int = Field(default=10, ge=1, le=500)
    dynamic_hz: YesNo = True
    databases: int = Field(default=16, ge=1, le=1024)
    active_expire_effort: int = Field(default=1, ge=1, le=10)
    #: DEBUG SET-ACTIVE-EXPIRE 0 in a scenario: lazy expiry only
    active_expire: YesNo = True
    # memory and eviction (evict.c)
    maxmemory: Bytes = 0
    maxmemory_policy: Literal["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu",
                              "volatile-lfu", "allkeys-random", "volatile-random",
                              "volatile-ttl"] = "noeviction"
    maxmemory_samples: int = Field(default=5, ge=1, le=64)
    maxmemory_eviction_tenacity: int = Field(default=10, ge=0, le=100)
    lfu_log_factor: int = Field(default=10, ge=0)
    lfu_decay_time: int = Field(default=1, ge=0)
    # persistence (aof.c, rdb.c)
    appendonly: YesNo = False
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    #: redis.conf syntax: "3600 1 300 100 60 10000" (the 7.0 built-in default); "" disables
    save: str = "3600 1 300 100 60 10000"
    auto_aof_rewrite_percentage: int = Field(default=100, ge=0)
    auto_aof_rewrite_min_size: Bytes = 64 * 1024 * 1024
    no_appendfsync_on_rewrite: YesNo = False
    stop_writes_on_bgsave_error: YesNo = True
    #: LZF-compress strings in RDB files (and the AOF's RDB preamble)
    rdbcompression: YesNo = True
    # encodings (t_hash.c): a hash is a listpack until a write finds it past either limit
    hash_max_listpack_entries: int = Field(default=512, ge=0, le=2**63 - 1)
    hash_max_listpack_value: Bytes = Field(default=64, le=2**63 - 1)
    #: a list's nodes (quicklist.c): -1 .. -5 at most 4 KiB .. 64 KiB each, N > 0 at most N
    #: elements each (and 8 KiB)
    list_max_listpack_size: int = Field(default=-2, ge=-(2**31), le=2**31 - 1)

    @model_validator(mode="after")
    def _save(self) -> ServerConfig:
        parts = self.save.split()
        if len(parts) % 2 or not all(p.isdigit() for p in parts):
            raise ValueError("save: pairs of '<seconds> <changes>', e.g. '3600 1 300 100', or ''")
        return self


class ModelConfig(_Base):
    """Switches of the model itself (not Redis settings).

    ``loop: ae`` is Redis's event loop (replies written in beforeSleep, per-iteration and
    per-syscall costs). ``loop: fcfs`` isolates queueing from batching: each reply leaves the
    moment its command ends and only command costs are charged, an ideal FCFS server, which is
    what the M/M/1, M/D/1 and MVA formulas describe.
    """

    loop: Literal["ae", "fcfs"] = "ae"
    #: jemalloc size classes: upstream Redis builds its jemalloc with lg-quantum 3 (8-byte
    #: steps: SET foo bar -> MEMORY USAGE 56); Debian's package links the system jemalloc,
    #: lg-quantum 4 (16-byte steps: 64). See server/memory.py.
    jemalloc_lg_quantum: Literal[3, 4] = 3
    #: scale each key command's cost with the dataset's size, as the CPU's caches would
    #: (server/cpu_caches.py; the profile's ``dataset`` figures). Off: the profile's costs,
    #: measured with 100k keys, whatever the size.
    cpu_caches: YesNo = False


class NetworkConfig(_Base):
    preset: Literal["loopback", "lan", "cross-az"] = "loopback"
    #: the round trip between a client and a server that both sleep until the other's
    #: message arrives (what one connection measures), wake-ups included
    rtt: Seconds | None = None
    bandwidth: BytesPerSecond | None = None
    #: of each one-way trip in ``rtt``, the time a thread blocked in epoll_wait takes to run
    #: again once the bytes are there; a thread still busy when they arrive does not pay it.
    #: Default: the preset's (loopback 20 us); 0 when ``rtt`` is given without it.
    wakeup: Seconds | None = None

    @model_validator(mode="after")
    def _check_wakeup(self) -> NetworkConfig:
        if self.wakeup is not None:
            from redissim.sim.network import PRESETS

            rtt = self.rtt if self.rtt is not None else PRESETS[self.preset][0]
            if self.wakeup > rtt / 2:
                raise ValueError(f"wakeup ({self.wakeup * 1e6:g} us) is part of each one-way "
                                 f"trip: at most half the rtt ({rtt / 2 * 1e6:g} us)")
        return self


class KeysConfig(_Base):
    """How a workload picks keys: ``prefix`` + an index in [0, space)."""

    distribution: Literal["uniform", "zipf", "sequential", "hotspot", "powerlaw"] = "uniform"
    space: int = Field(default=1, ge=1, le=100_000_000)
    prefix: str = "key:"
    alpha: float = Field(default=1.0, gt=0, le=10, description="zipf or powerlaw exponent")
    hot_fraction: float = Field(default=0.2, gt=0, lt=1,
                                description="hotspot: share of keys that are hot")
    hot_probability: float = Field(default=0.8, ge=0, le=1,
                                   description="hotspot: share of requests to them")
    #: redis-benchmark without -r uses one literal key; with space 1 the key is just the prefix
    #: followed by 0 unless ``fixed`` names it.
    fixed: str | None = None
    #: added to every index (e.g. sequential keys 10000.. for a second batch)
    offset: int = Field(default=0, ge=0)


class FieldsConfig(KeysConfig):
    """How a workload picks hash fields for its ``{field}`` slots: ``prefix`` + an index, as
    keys are picked (``field:0`` .. by default, the names ``preload.hash-fields`` gives)."""

    prefix: str = "field:"


class CommandSpec(_Base):
    """One entry of a command mix. ``args`` is a template: {key}, {value}, {ttl_s}, {ttl_ms},
    and {field} (a hash field drawn by the workload's ``fields``)."""

    cmd: str
    weight: float = Field(default=1.0, gt=0)
    args: list[str] | None = None


class ScriptStep(_Base):
    at: Seconds
    cmd: str | list[str]


class Workload(_Base):
    """A group of clients. ``closed``: redis-benchmark style connections that wait for their
    replies; ``open``: Poisson arrivals at ``rate``; ``script``: timed commands; ``scan``: one
    client walking the keyspace with SCAN (cursor from each reply) until the cursor is 0;
    ``read-modify-write``: clients that increment a counter in the application (GET, then SET
    of the value + 1), ``requests`` increments in all."""

    name: str | None = None
    type: Literal["closed", "open", "script", "scan", "read-modify-write"] = "closed"
    label: str | None = None
    clients: int = Field(default=50, ge=1, le=100_000)
    pipeline: int = Field(default=1, ge=1, le=100_000)
    requests: int | None = Field(default=None, ge=1)
    duration: Seconds | None = None
    start: Seconds | Literal["after-previous"] = 0.0
    think_time: Seconds = 0.0
    think_distribution: Literal["constant", "exponential"] = "constant"
    rate: PerSecond | None = None
    commands: list[CommandSpec] = Field(default_factory=lambda: [CommandSpec(cmd="GET")])
    keys: KeysConfig = Field(default_factory=KeysConfig)
    #: the field of each hash command (HSET, HGET, HDEL, HEXISTS, HINCRBY, HSETNX) and of
    #: every {field} slot, drawn like keys from a random stream of its own; without it the
    #: hash commands name the one field ``field``
    fields: FieldsConfig | None = None
    value_size: int = Field(default=3, ge=0, le=512 * 1024 * 1024)
    ttl: Seconds | None = None
    steps: list[ScriptStep] = Field(default_factory=list)
    count: int = Field(default=10, ge=1)
    match: str | None = None
    repeat: bool = False
    #: ``random``: each command drawn from the weighted mix; ``batches``: each pipeline batch is
    #: one command of the list, in turn (redis-cli --lru-test: 250 SETs, then 250 GETs, ...);
    #: ``ratio``: the commands in turn, each as many times as its (whole) weight says
    #: (memtier_benchmark's --ratio 1:10: one SET, ten GETs, one SET, ...)
    mix: Literal["random", "batches", "ratio"] = "random"
    #: closed workloads: ``shared``: one stream of commands and keys for the workload, dealt
    #: to its connections as they ask, and ``requests`` counted for the workload;
    #: ``per-connection``: every connection replays the same stream from the same seed and
    #: sends its share of ``requests`` (memtier_benchmark's default: each client starts
    #: from one constant seed, so every connection sends the same keys; its
    #: --distinct-client-seed is the shared stream's equal)
    sequence: Literal["shared", "per-connection"] = "shared"
    #: where requests go: Redis; PostgreSQL (GET -> SELECT by primary key, SET -> UPDATE);
    #: Redis in front of PostgreSQL (cache-aside: read Redis, on a miss SELECT then SET with
    #: ttl; write PostgreSQL then DEL or SET the key); or a storage ``device`` (block reads)
    target: Literal["redis", "postgres", "cache-aside", "device"] = "redis"
    #: PostgreSQL protocol: prepared statements (pgbench -M prepared) or simple queries
    prepared: bool = True
    #: cache-aside writes: delete the cached key, or overwrite it with the new value
    write_policy: Literal["delete", "update"] = "delete"
    #: target device: a preset (cpu-cache, ram, nvme, ssd, hdd, cloud) and overrides
    device: DeviceSpec | None = None
    #: cache-aside without a database: a GET that misses is followed by a SET of that key
    #: (value-size bytes, ttl if set) before the client's next request
    fill_on_miss: bool = False
    #: count the replies by value (closed workloads): which of 50 SETNX won the lock
    tally_replies: YesNo = False
    #: the client's own CPU per request (closed and read-modify-write workloads): building
    #: it and handling its reply, on ``client-threads`` threads shared by all the workload's
    #: connections (one, like redis-benchmark or a single-threaded application); 0: the
    #: network's figures already include it (the loopback preset's are measured with
    #: redis-benchmark)
    client_cpu: Seconds = 0.0
    #: the client's CPU per batch of pipelined requests on top of ``client-cpu``: what one
    #: write(2) and one read(2) with their event-loop calls cost, however many requests they
    #: carry (redis-benchmark on the development VM: 11-15 us a batch and 0.14-0.33 us a
    #: request, benchmarks/RESULTS.md)
    client_cpu_per_batch: Seconds = 0.0
    client_cpu_distribution: Literal["constant", "exponential"] = "constant"
    #: the share of ``client-cpu`` and ``client-cpu-per-batch`` spent on the replies after they
    #: arrive (reading and parsing them: redis-benchmark's readHandler), the rest before the
    #: requests are written (its writeHandler). With a share, replies wait for the client's
    #: thread as requests do, and their latency ends when the thread gets to them; with 0
    #: they are handled on arrival.
    client_read_share: float = Field(default=0.0, ge=0, le=1)
    client_threads: int = Field(default=1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _check(self) -> Workload:
        if self.type == "open" and self.rate is None:
            raise ValueError("an open workload needs a rate (requests per second, e.g. 80k)")
        if self.type in ("closed", "open", "read-modify-write") and self.requests is None \
                and self.duration is None:
            raise ValueError("set requests or duration")
        if self.type == "read-modify-write":
            if "commands" in self.model_fields_set:
                raise ValueError("a read-modify-write workload sends GET and SET itself: "
                                 "remove commands")
            if self.pipeline != 1:
                raise ValueError("a read-modify-write workload needs each GET's reply before "
                                 "its SET: pipeline must be 1")
        if self.mix == "ratio" and any(not float(c.weight).is_integer() for c in self.commands):
            raise ValueError("mix ratio needs whole weights (e.g. SET weight 1, GET weight 10)")
        if self.sequence == "per-connection":
            if self.type != "closed" or self.target != "redis":
                raise ValueError("sequence per-connection works with closed workloads "
                                 "against Redis only")
            if self.fill_on_miss:
                raise ValueError("sequence per-connection does not combine with fill-on-miss")
        if self.tally_replies and self.type != "closed":
            raise ValueError("tally-replies works with closed workloads only")
        if (self.client_cpu or self.client_cpu_per_batch) \
                and self.type not in ("closed", "read-modify-write"):
            raise ValueError("client-cpu works with closed and read-modify-write workloads only")
        if self.client_cpu < 0 or self.client_cpu_per_batch < 0:
            raise ValueError("client-cpu must not be negative")
        if self.client_read_share and not (self.client_cpu or self.client_cpu_per_batch):
            raise ValueError("client-read-share is a share of client-cpu: set client-cpu too")
        if self.type == "script" and not self.steps:
            raise ValueError("a script workload needs steps")
        if self.fields is None:
            for i, c in enumerate(self.commands):
                if c.args is not None and "{field}" in c.args:
                    raise ValueError(f"commands[{i}] has a {{field}} slot: give the workload "
                                     "fields (e.g. fields: {space: 100})")
        if self.target != "redis" and self.type != "closed":
            raise ValueError(f"target {self.target} works with closed workloads only")
        if self.target == "device" and self.device is None:
            raise ValueError("target device needs a device (e.g. {preset: ssd})")
        return self


class Fault(_Base):
    """A failure injected at a time: ``crash`` (kill -9 of redis-server: the page cache
    survives), ``power-loss`` (the machine dies: unsynced page-cache data is lost too),
    ``disk-error`` (the storage device starts failing writes)."""

    at: Seconds
    kind: Literal["crash", "power-loss", "disk-error"]
    #: the server comes back after this long (then loads what was durable)
    restart_after: Seconds = 1.0


class Preload(_Base):
    """Keys created before the run, like ``DEBUG POPULATE count prefix size``."""

    keys: int = Field(default=0, ge=0, le=100_000_000)
    prefix: str = "key"
    value_size: int = Field(default=10, ge=0)
    #: false: every key shares one value object of value-size bytes (the same sizes and
    #: memory accounting, a fraction of the simulator's own memory for large datasets)
    distinct_values: YesNo = True
    #: 0: string keys (DEBUG POPULATE); N: every key a hash of N fields ``field:0`` ..
    #: ``field:N-1`` as one HSET builds it, field j of key i holding ``value:(i*N+j)``
    #: (value-size bytes): listpacks or hash tables by the server's listpack limits
    #: (distinct-values applies to string keys only)
    hash_fields: int = Field(default=0, ge=0, le=1_000_000)
    #: give every preloaded key a TTL drawn uniformly from [ttl-min, ttl-max] (PEXPIREAT)
    ttl_min: Seconds | None = None
    ttl_max: Seconds | None = None

    @model_validator(mode="after")
    def _ttl(self) -> Preload:
        if (self.ttl_min is None) != (self.ttl_max is None):
            raise ValueError("set both ttl-min and ttl-max, or neither")
        if self.ttl_min is not None and self.ttl_max is not None and self.ttl_max < self.ttl_min:
            raise ValueError("ttl-max must not be below ttl-min")
        return self


class Variant(_Base):
    name: str
    set: dict[str, Any] = Field(default_factory=dict)


class Caption(_Base):
    """Narration for the view: shown at a time, or at the first trace event of a kind
    (``event: evict``; the kinds are those of ``sim/trace.py``)."""

    text: str
    at: Seconds | None = None
    event: str | None = None


class LruGrid(_Base):
    """antirez's LRU picture: ``old-keys`` keys filled to maxmemory and then read in order,
    then ``new-keys`` more; the report scores where the evictions fell (report/lru_grid.py)."""

    old_keys: int = Field(ge=2)
    new_keys: int = Field(ge=1)
    prefix: str = "lru:"


class MetricsConfig(_Base):
    interval: Seconds = Field(default=0.1, gt=0)
    #: events the replay's trace keeps (``redissim animate``), from ``trace-from`` on
    trace_limit: int = Field(default=200_000, ge=0)
    trace_from: Seconds = Field(default=0.0, ge=0)


def _master_number(v: Any) -> Any:
    if v == "busiest" or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    raise ValueError("a master's number (1, 2, ...) or busiest")


class ClusterConfig(_Base):
    """Redis Cluster: ``masters`` redis-server processes (no replicas), each configured by
    ``server:``, the 16384 hash slots spread over them as ``redis-cli --cluster create``
    does. The clients are cluster-aware (redis-py's RedisCluster, memtier_benchmark
    --cluster-mode): each request goes straight to the master of its key's slot
    (sim/cluster.py)."""

    masters: int = Field(default=3, ge=1, le=1000)
    #: the master whose event trace the replay shows (``redissim animate``): a number from
    #: 1, or ``busiest``, the one that ran the most commands (every master's trace is kept
    #: until the run ends, then one is chosen)
    traced_master: Annotated[int | Literal["busiest"], BeforeValidator(_master_number)] = \
        "busiest"
    #: ``slot``: each request to the master of its key's slot (cluster-aware clients);
    #: ``client``: redis-benchmark --cluster's way: client i talks to master i % masters
    #: only, and its keys carry a hash tag of that master's first slot (``key:{06S}:123``);
    #: ``redirect``: a client that knows no slot map (redis-cli -c): each request to the
    #: client's own master, which answers -MOVED when the key is another's, and the
    #: client sends it again there
    routing: Literal["slot", "client", "redirect"] = "slot"
    #: a command with keys in several slots (MGET, MSET, DEL, UNLINK, EXISTS): ``send`` it
    #: whole to its first key's master, which refuses it -CROSSSLOT (redis-cli -c, plain
    #: clients); ``split`` it into one command per slot and put the replies together, as
    #: Lettuce and redis-py's mget_nonatomic / mset_nonatomic do (routing slot only)
    multi_key: Literal["send", "split"] = "send"

    @model_validator(mode="after")
    def _traced(self) -> ClusterConfig:
        if isinstance(self.traced_master, int) and not 1 <= self.traced_master <= self.masters:
            raise ValueError(f"traced-master must be one of the {self.masters} masters "
                             f"(1..{self.masters})")
        if self.multi_key == "split" and self.routing != "slot":
            raise ValueError("multi-key split is a cluster-aware client's (routing slot), "
                             f"not routing {self.routing}'s")
        return self


class Scenario(_Base):
    name: str
    description: str = ""
    seed: int = 1
    duration: Seconds | None = Field(default=None, description="hard stop of simulated time")
    server: ServerConfig = Field(default_factory=ServerConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    profile: str = "default"
    costs: dict[str, Any] = Field(default_factory=dict)
    preload: Preload | None = None
    #: the disk under Redis's AOF/RDB (and PostgreSQL): a preset name and overrides
    storage: DeviceSpec = Field(default_factory=lambda: DeviceSpec(preset="ssd"))
    faults: list[Fault] = Field(default_factory=list)
    workloads: list[Workload] = Field(min_length=1)
    variants: list[Variant] = Field(default_factory=list)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    captions: list[Caption] = Field(default_factory=list)
    lru_grid: LruGrid | None = None
    #: a simulated PostgreSQL 15 server (postgresql.conf names; see redissim/postgres)
    postgres: PostgresConfig | None = None
    #: the text report: redis-benchmark's summary, redis-cli --lru-test's line per second, or
    #: memtier_benchmark's ALL STATS table (report/memtier.py)
    report: Literal["benchmark", "lru-test", "memtier"] = "benchmark"
    cluster: ClusterConfig | None = None

    @model_validator(mode="after")
    def _cluster(self) -> Scenario:
        if self.cluster is None:
            return self
        # What the cluster model covers: clients that route each request by its first key
        # (a command whose keys are in different slots is answered -CROSSSLOT).
        for i, wl in enumerate(self.workloads):
            where = f"cluster: workloads.{i}"
            if wl.target != "redis":
                raise ValueError(f"{where}: a cluster takes workloads against Redis (got "
                                 f"target {wl.target})")
            if self.cluster.routing == "client" and wl.type not in ("closed", "open"):
                raise ValueError(f"{where}: routing client (redis-benchmark --cluster) "
                                 f"takes closed and open workloads (got type {wl.type})")
        for field_name in ("faults", "postgres", "lru_grid"):
            if getattr(self, field_name):
                raise ValueError(f"cluster: not modelled together with "
                                 f"{field_name.replace('_', '-')}")
        return self


class ScenarioError(Exception):
    """A user's mistake in a scenario: the message is one line naming file and field."""


def builtin_scenarios() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def resolve(name_or_path: str) -> Path:
    """A path as given, else a built-in scenario name (``quickstart``)."""
    p = Path(name_or_path)
    if p.exists():
        return p
    builtins = builtin_scenarios()
    if name_or_path in builtins:
        return builtins[name_or_path]
    raise ScenarioError(
        f"{name_or_path}: no such file or built-in scenario; built-ins: "
        + ", ".join(builtins))


def parse_value(text: str) -> Any:
    """A ``--set`` or ``--vary`` value as YAML reads it (``10`` an int, ``yes`` true), or
    the text itself when it is not valid YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def set_path(data: dict, dotted: str, value: Any, source: str) -> None:
    """Apply ``workloads.0.pipeline=16`` style overrides to the raw mapping."""
    parts = dotted.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"{source}: {dotted}: {part!r} is not an index of a list "
                                    f"of {len(node)} items")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
        else:
            raise ScenarioError(f"{source}: {dotted}: {'.'.join(parts[:i])} is not a mapping")
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and key not in node:
                node[key] = {}
            node = node[key]


def format_validation_error(source: str, err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-"))
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown field"
    elif e["type"] == "literal_error":
        msg = msg.replace("Input should be", "allowed:")
    got = e.get("input")
    more = f" ({len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    shown = "" if e["type"] in ("extra_forbidden", "missing") or isinstance(got, dict | list) \
        else f" (got {got!r})"
    # (a check of the whole scenario has no location; its message starts with the field)
    return f"{source}: {loc + ': ' if loc else ''}{msg}{shown}{more}"


def load_raw(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ScenarioError(f"{path}:{where}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario must be a YAML mapping with name and workloads")
    return data


def validate(data: dict, source: str) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(format_validation_error(source, e)) from None
    build_profile(scenario, source)
    return scenario


def build_profile(scenario: Scenario, source: str = "<scenario>") -> CostProfile:
    """The scenario's cost profile with its ``costs:`` overrides applied and validated."""
    try:
        data = load_profile_data(scenario.profile)
    except (FileNotFoundError, ValueError) as e:
        raise ScenarioError(f"{source}: profile: {e}") from None
    for k, v in scenario.costs.items():
        set_path(data, k, v, f"{source}: costs.{k}")
    try:
        profile = CostProfile.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(format_validation_error(f"{source}: costs", e)) from None
    if scenario.model.cpu_caches and profile.dataset is None:
        raise ScenarioError(f"{source}: model.cpu-caches: cost profile {scenario.profile!r} "
                            "has no dataset figures (a dataset: section, as in the default "
                            "profile)")
    return profile


def load_scenario(name_or_path: str, overrides: list[str] | None = None,
                  seed: int | None = None) -> tuple[Scenario, dict]:
    """Load, apply ``--set`` overrides and validate; returns the Scenario and its raw data."""
    path = resolve(name_or_path)
    data = load_raw(path)
    for ov in overrides or []:
        if "=" not in ov:
            raise ScenarioError(f"--set {ov}: expected dotted.path=value")
        k, v = ov.split("=", 1)
        set_path(data, k.strip(), parse_value(v), f"{path} (--set {k.strip()})")
    if seed is not None:
        data["seed"] = seed
    scenario = validate(data, str(path))
    for variant in scenario.variants:  # validate every variant now, not halfway through a run
        variant_scenario(data, variant, str(path))
    return scenario, data


def variant_scenario(data: dict, variant: Variant, source: str) -> Scenario:
    d = copy.deepcopy(data)
    d.pop("variants", None)
    for k, v in variant.set.items():
        set_path(d, k, v, f"{source} (variant {variant.name}: {k})")
    return validate(d, f"{source} (variant {variant.name})")
