"""Redis 7.0 memory accounting for string keys, as pure functions.

Models how ``used_memory`` grows in Redis 7.0 (``src/zmalloc.c`` counts the allocator's
*usable* size of every allocation) for the objects a string keyspace allocates:

* ``src/dict.h`` ``dictEntry`` (key, value, next: 24 B) and the bucket array of a power-of-two
  table (one 8 B pointer per slot, both tables while rehashing);
* ``src/server.h`` ``robj`` (16 B) and ``src/object.c``: ``createEmbeddedStringObject`` (robj and
  an ``sdshdr8`` string in one allocation, used up to ``OBJ_ENCODING_EMBSTR_SIZE_LIMIT`` = 44
  bytes), ``createRawStringObject`` (robj plus a separate SDS), ``tryObjectEncoding`` (integer
  encoding, shared integers 0..9999 unless maxmemory is set with an LRU/LFU policy);
* ``src/sds.c:sdsReqType`` (header class by length: 1, 3, 5, 9 or 17 bytes);
* ``src/db.c:dbAdd`` (the key is an ``sdsdup`` copy, so short keys use the 1-byte sdshdr5);
* ``src/object.c:memoryCommand`` / ``objectComputeSize`` (``MEMORY USAGE``) and
  ``getMemoryOverheadData`` (the ``used_memory_overhead`` split of INFO memory);
* jemalloc size classes (``deps/jemalloc``; four classes per doubling). Upstream Redis builds
  its bundled jemalloc with ``--with-lg-quantum=3`` (classes 8, 16, 24, ..., 64, 80, 96, ...);
  distribution packages that link the system jemalloc (Debian's redis-server 7.0.15 does) use
  lg-quantum 4 (8, 16, 32, 48, 64, 80, ...). Every function takes ``lg_quantum`` for that reason.

Checks (see tests/test_memory.py): ``SET foo bar`` gives ``MEMORY USAGE`` 56 with lg-quantum 3
(the published figure) and 64 with lg-quantum 4 (what Debian's 7.0.15 answers);
``DEBUG POPULATE 1000000 key 10`` adds 88.39 MB at lg-quantum 4 (Debian 7.0.15 measured
89,450,992 B used_memory in total) and 80.39 MB at lg-quantum 3.

Client connections: :func:`client_buffers` uses per-connection figures measured on Debian
7.0.15, not a model of ``networking.c``'s buffers.

Hashes and lists (:func:`hash_value_alloc`, :func:`list_value_alloc`, and
:func:`memory_usage_collection` for ``MEMORY USAGE``): a listpack-encoded hash is a robj and
one listpack allocation (``listpack.py`` gives its bytes); a hash table is a robj, a ``dict``
(56 B), its bucket array, and per field a dictEntry and two SDS strings; a list is a robj,
a ``quicklist`` (40 B) and per node a ``quicklistNode`` (40 B) and its listpack. Checked
against Debian 7.0.15: a 300-field listpack hash, a 600-field hash table and lists of 1, 50
and 5,000 items give MEMORY USAGE and used_memory to the byte.

Not modelled here: sets and sorted sets, client reply lists, replication/AOF buffers (the caller
adds those as plain byte counts), allocator fragmentation (``used_memory_rss``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redissim.server.listpack import (
    LIST_MAX_LISTPACK_SIZE,
    hash_is_listpack,
    listpack_size,
    quicklist_node_sizes,
)

#: sizeof(dictEntry) on 64-bit (key pointer, value union, next pointer).
DICT_ENTRY_SIZE: int = 24
#: sizeof(robj): type/encoding/lru bitfields (4 B), refcount (4 B), ptr (8 B).
ROBJ_SIZE: int = 16
#: One bucket slot: a dictEntry pointer.
BUCKET_PTR_SIZE: int = 8
#: OBJ_ENCODING_EMBSTR_SIZE_LIMIT: 16 + 3 + 44 + 1 = 64 fits one 64-byte class.
EMBSTR_SIZE_LIMIT: int = 44
#: OBJ_SHARED_INTEGERS: values 0..9999 may point to preallocated shared objects.
SHARED_INTEGERS: int = 10_000
#: DICT_HT_INITIAL_SIZE: the first table of a dict has 4 buckets.
DICT_HT_INITIAL_SIZE: int = 4
#: Upstream Redis's bundled jemalloc is configured with --with-lg-quantum=3.
UPSTREAM_LG_QUANTUM: int = 3
#: used_memory_startup measured on Debian redis-server 7.0.15 (system jemalloc, lg-quantum 4),
#: 16 databases, no clients. A measured figure for that build only; other builds differ by a
#: few tens of KB.
EMPTY_SERVER_USED_MEMORY_DEBIAN_7_0_15: int = 876_272
#: ``functions.caches`` of MEMORY STATS (functionsMemoryOverhead, functions.c): the empty
#: function library's dicts, allocated after used_memory_startup is taken, so they are in
#: used_memory and used_memory_overhead on top of it. Debian 7.0.15, two fresh servers: 200.
FUNCTIONS_CACHES_DEBIAN_7_0_15: int = 200

#: Cluster mode (cluster-enabled yes), measured on the same build by
#: benchmarks/calibrate_cluster.py: used_memory_startup 1,600,360 against 876,328 (the
#: cluster state: its slot tables and node structures), and per key of the main dict 16 B more
#: (dbDictType's entry metadata, clusterDictEntryMetadata: the two pointers of the slot's
#: key list), in the allocation, in MEMORY USAGE and in used_memory_overhead (server.c,
#: object.c:dictMetadataSize). The expires dict has no metadata.
CLUSTER_STARTUP_EXTRA_DEBIAN_7_0_15: int = 724_032
CLUSTER_DICT_ENTRY_METADATA: int = 16

#: used_memory per client connection, measured on Debian redis-server 7.0.15 (100 connections):
#: an idle connection (client struct, 16 KiB reply buffer, connection) and one that has sent a
#: command (plus the 16 KiB query buffer, which clientsCron shrinks again after ~2 s idle).
CLIENT_IDLE_BYTES_DEBIAN_7_0_15: int = 18_112
CLIENT_ACTIVE_BYTES_DEBIAN_7_0_15: int = 38_584

#: maxmemory policies whose flag MAXMEMORY_FLAG_NO_SHARED_INTEGERS is set (LRU and LFU need a
#: private lru field per object, so shared integers cannot be used).
_LRU_LFU_POLICIES = frozenset({"allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu"})


def jemalloc_size(n: int, lg_quantum: int = UPSTREAM_LG_QUANTUM) -> int:
    """Usable size jemalloc returns for a request of ``n`` bytes (``malloc_usable_size``).

    jemalloc has tiny classes (powers of two from 8 below the quantum), then quantum-spaced
    classes up to 4 quanta, then four evenly spaced classes per power-of-two group; large
    (page-multiple) classes follow the same four-per-doubling rule.
    """
    if n <= 0:
        return 0
    quantum = 1 << lg_quantum
    if n <= quantum:
        size = 8
        while size < n:
            size <<= 1
        return size
    if n <= 4 * quantum:
        return (n + quantum - 1) & ~(quantum - 1)
    lg = (n - 1).bit_length() - 1  # n lies in (2**lg, 2**(lg+1)]
    delta = 1 << (lg - 2)
    return (n + delta - 1) & ~(delta - 1)


def sds_header_size(length: int) -> int:
    """Header bytes of an SDS string of ``length`` bytes (sds.c:sdsReqType).

    sdshdr5 (1 B) below 32 bytes, sdshdr8 (3 B) below 256, sdshdr16 (5 B) below 64 KiB,
    sdshdr32 (9 B) below 4 GiB, else sdshdr64 (17 B). An empty string is promoted to sdshdr8
    because it is usually created to be appended to.
    """
    if length == 0:
        return 3
    if length < 1 << 5:
        return 1
    if length < 1 << 8:
        return 3
    if length < 1 << 16:
        return 5
    if length < 1 << 32:
        return 9
    return 17


def sds_alloc(length: int, lg_quantum: int = UPSTREAM_LG_QUANTUM) -> int:
    """Allocated bytes of a standalone SDS (header + bytes + NUL terminator)."""
    return jemalloc_size(sds_header_size(length) + length + 1, lg_quantum)


def shared_integers_allowed(maxmemory: int, policy: str) -> bool:
    """Whether tryObjectEncoding may use shared integers (server.h MAXMEMORY_FLAG_NO_SHARED_INTEGERS).

    They are refused only when maxmemory is set *and* the policy is LRU or LFU, because each
    object must then carry its own access clock.
    """
    return maxmemory == 0 or policy not in _LRU_LFU_POLICIES


def _as_bytes(v: bytes | str | int) -> bytes:
    if isinstance(v, bytes):
        return v
    return str(v).encode()


def _canonical_int(value: bytes) -> int | None:
    """The long long value if ``value`` is the canonical decimal text of one (string2ll)."""
    if not value or len(value) > 20:
        return None
    try:
        n = int(value)
    except ValueError:
        return None
    # string2ll refuses leading zeros, '+', spaces and '-0'; round-tripping checks all of that.
    if str(n).encode() != value or not (-(1 << 63) <= n < (1 << 63)):
        return None
    return n


def string_encoding(value: bytes | str | int, *, shared_ok: bool = True) -> str:
    """Encoding a string value gets when stored by SET: ``shared``, ``int``, ``embstr`` or ``raw``."""
    b = _as_bytes(value)
    n = _canonical_int(b)
    if n is not None:
        if shared_ok and 0 <= n < SHARED_INTEGERS:
            return "shared"
        return "int"
    return "embstr" if len(b) <= EMBSTR_SIZE_LIMIT else "raw"


def string_value_alloc(
    value: bytes | str | int, *, shared_ok: bool = True, lg_quantum: int = UPSTREAM_LG_QUANTUM
) -> int:
    """Bytes ``used_memory`` grows by for the value object of a string key.

    Shared integers allocate nothing; an integer-encoded robj is 16 B; EMBSTR is one allocation
    of robj + sdshdr8 + bytes + NUL; RAW is a robj plus a separate (trimmed) SDS.
    """
    b = _as_bytes(value)
    enc = string_encoding(b, shared_ok=shared_ok)
    if enc == "shared":
        return 0
    if enc == "int":
        return jemalloc_size(ROBJ_SIZE, lg_quantum)
    if enc == "embstr":
        return jemalloc_size(ROBJ_SIZE + 3 + len(b) + 1, lg_quantum)
    return jemalloc_size(ROBJ_SIZE, lg_quantum) + sds_alloc(len(b), lg_quantum)


def key_alloc(
    key: bytes | str,
    value: bytes | str | int,
    *,
    has_ttl: bool = False,
    shared_ok: bool = True,
    lg_quantum: int = UPSTREAM_LG_QUANTUM,
) -> int:
    """Bytes allocated for one string key, excluding bucket arrays.

    dictEntry + key SDS copy + value object, plus an ``expires`` dictEntry (which shares the
    key SDS and stores the expire time in its value union) when the key has a TTL. The bucket
    arrays depend on the table size, not on the key: see :func:`bucket_array_alloc`.
    """
    k = _as_bytes(key)
    total = jemalloc_size(DICT_ENTRY_SIZE, lg_quantum) + sds_alloc(len(k), lg_quantum)
    total += string_value_alloc(value, shared_ok=shared_ok, lg_quantum=lg_quantum)
    if has_ttl:
        total += jemalloc_size(DICT_ENTRY_SIZE, lg_quantum)
    return total


def raw_buffer_key_alloc(
    key_len: int, usable: int, *, has_ttl: bool = False, lg_quantum: int = UPSTREAM_LG_QUANTUM
) -> int:
    """:func:`key_alloc` for a string held in a raw SDS buffer whose allocation is ``usable``
    bytes (a value APPEND or SETRANGE grew, ``sds.py``): dictEntry, key, robj and that
    buffer."""
    total = (jemalloc_size(DICT_ENTRY_SIZE, lg_quantum) + sds_alloc(key_len, lg_quantum)
             + jemalloc_size(ROBJ_SIZE, lg_quantum) + usable)
    if has_ttl:
        total += jemalloc_size(DICT_ENTRY_SIZE, lg_quantum)
    return total


def raw_buffer_memory_usage(key_len: int, usable: int,
                            lg_quantum: int = UPSTREAM_LG_QUANTUM) -> int:
    """``MEMORY USAGE`` of a key whose string is held in a raw SDS buffer of ``usable``
    bytes: for OBJ_ENCODING_RAW objectComputeSize counts ``sizeof(robj)`` and the buffer's
    allocation (``sdsZmallocSize``), whatever the string's length."""
    return DICT_ENTRY_SIZE + sds_alloc(key_len, lg_quantum) + ROBJ_SIZE + usable


def embstr_memory_usage(key_len: int, value_len: int,
                        lg_quantum: int = UPSTREAM_LG_QUANTUM) -> int:
    """``MEMORY USAGE`` of a key holding an embstr of ``value_len`` bytes (at most 44), even
    one that reads as an integer (INCRBYFLOAT's results: createStringObjectFromLongDouble)."""
    return DICT_ENTRY_SIZE + sds_alloc(key_len, lg_quantum) + \
        jemalloc_size(ROBJ_SIZE + 3 + value_len + 1, lg_quantum)


def key_alloc_sizes(
    key_len: int, value_len: int, *, has_ttl: bool = False, lg_quantum: int = UPSTREAM_LG_QUANTUM
) -> int:
    """:func:`key_alloc` for a non-integer value given only lengths (fast path for replays)."""
    total = jemalloc_size(DICT_ENTRY_SIZE, lg_quantum) + sds_alloc(key_len, lg_quantum)
    if value_len <= EMBSTR_SIZE_LIMIT:
        total += jemalloc_size(ROBJ_SIZE + 3 + value_len + 1, lg_quantum)
    else:
        total += jemalloc_size(ROBJ_SIZE, lg_quantum) + sds_alloc(value_len, lg_quantum)
    if has_ttl:
        total += jemalloc_size(DICT_ENTRY_SIZE, lg_quantum)
    return total


def table_size_for(n_keys: int) -> int:
    """Bucket count of a dict after ``n_keys`` inserts from empty (dict.c:_dictExpandIfNeeded).

    The table starts at 4 and, when an insert finds ``used >= size``, is expanded to the
    next power of two >= used + 1; so it is max(4, next power of two >= n).
    """
    if n_keys <= 0:
        return 0
    size = DICT_HT_INITIAL_SIZE
    while size < n_keys:
        size <<= 1
    return size


def bucket_array_alloc(table_size: int, lg_quantum: int = UPSTREAM_LG_QUANTUM) -> int:
    """Allocated bytes of one bucket array of ``table_size`` slots (0 when the table is empty)."""
    return jemalloc_size(table_size * BUCKET_PTR_SIZE, lg_quantum) if table_size else 0


def memory_usage_key(
    key: bytes | str,
    value: bytes | str | int,
    *,
    shared_ok: bool = True,
    lg_quantum: int = UPSTREAM_LG_QUANTUM,
) -> int:
    """What ``MEMORY USAGE key`` answers for a string key (object.c:memoryCommand).

    Note the quirks of 7.0: the dictEntry counts as ``sizeof`` (24, not its allocation class);
    an integer-encoded value counts as a 16 B robj even when it is a shared integer; EMBSTR
    counts its allocation class; RAW counts robj ``sizeof`` plus the SDS allocation. Bucket
    and expires overhead are not included.
    """
    k = _as_bytes(key)
    v = _as_bytes(value)
    usage = DICT_ENTRY_SIZE + sds_alloc(len(k), lg_quantum)
    enc = string_encoding(v, shared_ok=shared_ok)
    if enc in ("shared", "int"):
        usage += ROBJ_SIZE
    elif enc == "embstr":
        usage += jemalloc_size(ROBJ_SIZE + 3 + len(v) + 1, lg_quantum)
    else:
        usage += ROBJ_SIZE + sds_alloc(len(v), lg_quantum)
    return usage


def db_overhead(main_keys: int, main_slots: int, expires_keys: int, expires_slots: int) -> int:
    """Per-database part of ``used_memory_overhead`` (object.c:getMemoryOverheadData).

    Counted with ``sizeof`` (not allocation classes): per main key a dictEntry and a robj, per
    expires key a dictEntry, and 8 B per bucket slot of both dicts (pass the slots of both
    tables while a dict is rehashing).
    """
    return (
        main_keys * (DICT_ENTRY_SIZE + ROBJ_SIZE)
        + main_slots * BUCKET_PTR_SIZE
        + expires_keys * DICT_ENTRY_SIZE
        + expires_slots * BUCKET_PTR_SIZE
    )


@dataclass(frozen=True)
class InfoMemory:
    """The INFO memory fields redissim reports, with Redis's names."""

    used_memory: int
    used_memory_overhead: int
    used_memory_startup: int
    maxmemory: int
    maxmemory_policy: str
    mem_not_counted_for_evict: int

    @property
    def used_memory_dataset(self) -> int:
        return max(0, self.used_memory - self.used_memory_overhead)

    def as_dict(self) -> dict[str, int | str]:
        return {
            "used_memory": self.used_memory,
            "used_memory_startup": self.used_memory_startup,
            "used_memory_overhead": self.used_memory_overhead,
            "used_memory_dataset": self.used_memory_dataset,
            "maxmemory": self.maxmemory,
            "maxmemory_policy": self.maxmemory_policy,
            "mem_not_counted_for_evict": self.mem_not_counted_for_evict,
        }


def info_memory(
    *,
    used_memory: int,
    startup: int,
    db_overheads: int,
    clients: int = 0,
    replication: int = 0,
    aof_buffer: int = 0,
    functions: int = 0,
    maxmemory: int = 0,
    policy: str = "noeviction",
    not_counted: int = 0,
) -> InfoMemory:
    """Assemble INFO memory fields. ``used_memory_overhead`` is startup + client, replication
    and AOF buffers + the function library + the per-db overheads (getMemoryOverheadData's
    sum)."""
    overhead = startup + clients + replication + aof_buffer + functions + db_overheads
    return InfoMemory(used_memory, overhead, startup, maxmemory, policy, not_counted)


def client_buffers(idle_clients: int, active_clients: int) -> int:
    """used_memory of client connections from the measured per-connection figures above.

    A coarse model (the real figure moves with query/reply buffer sizes); reply lists beyond
    the 16 KiB static buffer are not included and must be added by the caller.
    """
    return (idle_clients * CLIENT_IDLE_BYTES_DEBIAN_7_0_15
            + active_clients * CLIENT_ACTIVE_BYTES_DEBIAN_7_0_15)


#: sizeof(dict) in 7.0 (type, two tables, two counts, rehashidx, pauserehash, size exps).
DICT_STRUCT_SIZE: int = 56
#: sizeof(quicklist) (head, tail, count, len, the fill/compress/bookmark bit fields).
QUICKLIST_STRUCT_SIZE: int = 40
#: sizeof(quicklistNode) (prev, next, entry, sz, the count/encoding/container bit fields).
QUICKLIST_NODE_SIZE: int = 40


def hash_value_alloc(h: dict[bytes, bytes], lg_quantum: int = UPSTREAM_LG_QUANTUM) -> int:
    """Bytes allocated for a hash value: the robj and its listpack, or the robj, the dict,
    its bucket array and per field a dictEntry and two SDS strings."""
    total = jemalloc_size(ROBJ_SIZE, lg_quantum)
    if hash_is_listpack(h):
        return total + jemalloc_size(listpack_size(x for kv in h.items() for x in kv), lg_quantum)
    total += jemalloc_size(DICT_STRUCT_SIZE, lg_quantum)
    total += bucket_array_alloc(table_size_for(len(h)), lg_quantum)
    entry = jemalloc_size(DICT_ENTRY_SIZE, lg_quantum)
    for f, v in h.items():
        total += entry + sds_alloc(len(f), lg_quantum) + sds_alloc(len(v), lg_quantum)
    return total


def list_value_alloc(items: Sequence[bytes], lg_quantum: int = UPSTREAM_LG_QUANTUM,
                     fill: int = LIST_MAX_LISTPACK_SIZE) -> int:
    """Bytes allocated for a list value: the robj, the quicklist, and per node the node and
    its listpack (nodes as RPUSH fills them under the list's ``fill``, see ``listpack.py``)."""
    total = jemalloc_size(ROBJ_SIZE, lg_quantum) + jemalloc_size(QUICKLIST_STRUCT_SIZE, lg_quantum)
    node = jemalloc_size(QUICKLIST_NODE_SIZE, lg_quantum)
    for size in quicklist_node_sizes(items, fill):
        total += node + jemalloc_size(size, lg_quantum)
    return total


def memory_usage_collection(key: bytes, value: dict[bytes, bytes] | Sequence[bytes], *,
                            samples: int = 5, lg_quantum: int = UPSTREAM_LG_QUANTUM,
                            fill: int = LIST_MAX_LISTPACK_SIZE) -> int:
    """``MEMORY USAGE key [SAMPLES n]`` for a hash or a list (``objectComputeSize``): the
    structures counted by ``sizeof`` except the listpacks (their usable size), and the
    per-element part of a hash table or of a quicklist's nodes estimated from the first
    ``samples`` of them (0: all) times their number. For a hash table "first" is Redis's
    bucket order, which the model does not have: it averages over all fields instead."""
    usage = DICT_ENTRY_SIZE + sds_alloc(len(key), lg_quantum) + ROBJ_SIZE
    if isinstance(value, dict):
        if hash_is_listpack(value):
            lp = listpack_size(x for kv in value.items() for x in kv)
            return usage + jemalloc_size(lp, lg_quantum)
        usage += DICT_STRUCT_SIZE + BUCKET_PTR_SIZE * table_size_for(len(value))
        if value:
            per = sum(sds_alloc(len(f), lg_quantum) + sds_alloc(len(v), lg_quantum)
                      + DICT_ENTRY_SIZE for f, v in value.items())
            usage += int(per)  # (the average over all fields times their count)
        return usage
    usage += QUICKLIST_STRUCT_SIZE
    sizes = quicklist_node_sizes(value, fill)
    if sizes:
        seen = sizes if samples == 0 else sizes[:samples]
        per = sum(QUICKLIST_NODE_SIZE + jemalloc_size(n, lg_quantum) for n in seen)
        usage += int(per / len(seen) * len(sizes))
    return usage


def populate_used_memory(
    n_keys: int, value_len: int, *, prefix: str = "key", lg_quantum: int = UPSTREAM_LG_QUANTUM
) -> int:
    """Bytes ``DEBUG POPULATE n prefix value_len`` adds to used_memory (keys ``prefix:N``).

    DEBUG POPULATE pre-sizes the dict (dictExpand to n) and stores EMBSTR/RAW values of exactly
    ``value_len`` bytes (non-numeric, they start with "value:").
    """
    total = 0
    # Group keys by decimal width: all keys of a width share one allocation size.
    lo = 0
    width = 1
    while lo < n_keys:
        hi = min(n_keys, 10**width)
        klen = len(prefix) + 1 + width
        total += (hi - lo) * key_alloc_sizes(klen, value_len, lg_quantum=lg_quantum)
        lo = hi
        width += 1
    return total + bucket_array_alloc(table_size_for(n_keys), lg_quantum)
