"""maxmemory on the event loop: used_memory accounting, performEvictions before every command,
OOM rejections, the LRU/LFU fields of objects, and the eviction timer.

Models the parts of ``src/server.c:processCommand`` and ``src/evict.c`` that sit between the
event loop and the keyspace (the eviction *algorithms* -- clocks, sampling, the pool, the time
budget -- are ``server/eviction.py``; the allocation sizes are ``server/memory.py``):

* ``used_memory`` is kept incrementally, as zmalloc does: every command that changes keys
  re-measures those keys (``key_alloc``: dictEntry, key SDS, value object, expires entry),
  plus the bucket arrays of every table, the empty-server baseline and the client buffers.
* When ``maxmemory`` is set, ``performEvictions`` runs before every command (not only writes).
  If it fails (still over the limit and nothing evictable, or ``noeviction``), only commands
  flagged ``denyoom`` are refused with ``-OOM command not allowed when used memory >
  'maxmemory'.``; reads, DEL and the like still run. A command admitted under the limit may
  allocate past it: memory overshoots by at most one command's allocation.
* Each lookup refreshes the object's 24-bit ``lru`` field (LRU clock, or LFU minutes+counter),
  except NOTOUCH commands and while a fork child exists (to spare copy-on-write).
* If ``performEvictions`` ran out of its time budget (``maxmemory-eviction-tenacity``), the 0 ms
  ``evictionTimeProc`` timer goes on evicting once per event-loop iteration.

The lru fields are kept only when a policy needs them (LRU/LFU under maxmemory), so a run
without maxmemory pays nothing on its hot path; OBJECT IDLETIME/FREQ then answer from a
field set at creation.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence
from typing import Any, cast

from redissim.server import memory as mem
from redissim.server import sds
from redissim.server.commands import SUBCOMMANDS
from redissim.server.commands import lookup as lookup_command
from redissim.server.eviction import (
    EVICT_FAIL,
    LFU_POLICIES,
    LRU_POLICIES,
    EvictionConfig,
    Evictor,
    lookup_touches,
)
from redissim.server.keyspace import Db, Keyspace, parse_ll
from redissim.server.listpack import hash_is_listpack
from redissim.server.resp import NIL_BULK, ReplyError
from redissim.sim import trace as tr
from redissim.sim.clock import EPOCH_MS

OOM_ERROR = "OOM command not allowed when used memory > 'maxmemory'."

#: commands whose effect on memory is not limited to the keys they name
_WHOLESALE = frozenset({"flushall", "flushdb", "swapdb", "debug", "move", "copy"})


class _TableView:
    """A keyspace table as the eviction sampler sees it (size, chains, len, membership)."""

    __slots__ = ("t",)

    def __init__(self, table: Any):
        self.t = table

    @property
    def size(self) -> int:
        return self.t.size

    def bucket_keys(self, i: int) -> Sequence[bytes]:
        return self.t.bucket_keys(i)

    def __len__(self) -> int:
        return len(self.t.data)

    def __contains__(self, key: object) -> bool:
        return key in self.t.data


class _DbView:
    """One database for ``Evictor``: its two tables, lru fields and expire times."""

    __slots__ = ("db", "main", "expires", "lru")

    def __init__(self, db: Db):
        self.db = db
        self.main = _TableView(db.main)
        self.expires = _TableView(db.expires)
        self.lru: dict[bytes, int] = {}

    def lru_field(self, key: bytes) -> int:
        return self.lru.get(key, 0)

    def expire_ms(self, key: bytes) -> int:
        return self.db.exp[key]


class MaxMemory:
    """used_memory and eviction for one server; plugs into an ``EventLoop``."""

    def __init__(self, keyspace: Keyspace, loop: Any, server: Any, *, rng_seed: int,
                 sample_us: float, evict_us: float, lg_quantum: int = mem.UPSTREAM_LG_QUANTUM,
                 trace: tr.Trace | None = None, cluster: bool = False):
        self.ks = keyspace
        self.loop = loop
        self.trace = trace
        self.policy = server.maxmemory_policy
        self.maxmemory = server.maxmemory
        self.lg = lg_quantum
        # the raw buffers APPEND and SETRANGE grow follow the same size classes (sds.py)
        keyspace.jemalloc_lg_quantum = lg_quantum
        self.shared_ok = mem.shared_integers_allowed(self.maxmemory, self.policy)
        self.config = EvictionConfig(
            maxmemory=server.maxmemory, maxmemory_policy=server.maxmemory_policy,
            maxmemory_samples=server.maxmemory_samples,
            maxmemory_eviction_tenacity=server.maxmemory_eviction_tenacity,
            lfu_log_factor=server.lfu_log_factor, lfu_decay_time=server.lfu_decay_time,
            sample_cost_s=sample_us * 1e-6)
        self.ev = Evictor(config=self.config, rng=random.Random(rng_seed))
        self.c_evict = evict_us * 1e-6
        self.dbs = [_DbView(db) for db in keyspace.dbs]
        self.track_lru = self.maxmemory > 0 and (self.policy in LRU_POLICIES
                                                  or self.policy in LFU_POLICIES)
        #: per db: key -> bytes its objects take (dictEntry, key, value, expires entry)
        self.key_bytes: list[dict[bytes, int]] = [{} for _ in keyspace.dbs]
        self.keys_total = 0
        self.startup = mem.EMPTY_SERVER_USED_MEMORY_DEBIAN_7_0_15
        #: cluster mode: the cluster state at start, and the metadata of each main dictEntry
        #: (sizeof, as MEMORY USAGE and the overhead count it; and what it adds to the
        #: entry's allocation class)
        self.entry_meta = mem.CLUSTER_DICT_ENTRY_METADATA if cluster else 0
        self.entry_extra = (mem.jemalloc_size(mem.DICT_ENTRY_SIZE + self.entry_meta, lg_quantum)
                            - mem.jemalloc_size(mem.DICT_ENTRY_SIZE, lg_quantum))
        if cluster:
            self.startup += mem.CLUSTER_STARTUP_EXTRA_DEBIAN_7_0_15
        self.functions = mem.FUNCTIONS_CACHES_DEBIAN_7_0_15
        #: what used_memory holds before any key or client: startup and the function library
        self._base = self.startup + self.functions
        #: set by the persistence model while a fork child runs (no LRU updates then)
        self.child_active = False
        #: bytes waiting in aof_buf (the persistence model replaces this)
        self.aof_buffer: Callable[[], int] = lambda: 0
        self.peak = 0
        self.oom_rejections = 0
        #: (time, used_memory) after each eviction burst, for tests and plots
        self._now = 0.0
        self._bucket_cache: dict[int, int] = {}
        self._size_cache: dict[tuple[int, int, bool], int] = {}
        #: databases that ever held keys: only their bucket arrays can be non-empty
        self._active_dbs: set[int] = {i for i, db in enumerate(keyspace.dbs) if db.data}
        #: with maxmemory off nothing asks used_memory per command: measure on demand
        self.tracking = self.maxmemory > 0
        if self.tracking:
            self.resync_all()

    def set_maxmemory(self, maxmemory: int) -> None:
        """CONFIG SET maxmemory in a run that started with a limit (the hooks that keep
        used_memory and evict are in place): the next command's performEvictions works to
        the new limit, and 0 lifts it. Integer values written from now on are shared or not
        by the new setting, as in Redis; MEMORY USAGE of one written before reads it by the
        new setting too (a simplification)."""
        self.maxmemory = maxmemory
        self.config.maxmemory = maxmemory
        self.shared_ok = mem.shared_integers_allowed(maxmemory, self.policy)

    def policy_refused(self, policy: str) -> str | None:
        """Why CONFIG SET maxmemory-policy cannot take ``policy`` in this run (None if it
        can): LRU and LFU need every object's lru field, kept only in a run that started
        with one of them. Between those two the field is read by the new policy as it is,
        as Redis reads it."""
        if (policy in LRU_POLICIES or policy in LFU_POLICIES) and not self.track_lru:
            return ("the objects' lru fields are not kept: the run did not start with an LRU "
                    "or LFU policy")
        return None

    def set_policy(self, policy: str) -> None:
        """CONFIG SET maxmemory-policy (see policy_refused): the next performEvictions
        samples and scores by it; a run that kept lru fields goes on updating them, by the
        LFU or the LRU rule as the new policy says (``updateLFU`` or the LRU clock)."""
        self.policy = policy
        self.config.maxmemory_policy = policy
        self.shared_ok = mem.shared_integers_allowed(self.maxmemory, policy)

    # ------------------------------------------------------------------ accounting
    def _alloc(self, db: Db, key: bytes) -> int:
        val = db.data.get(key)
        if val is None:
            return 0
        if db.strings:
            rec = self._string_object(db, key, val)
            if rec is not None:
                if rec[0] == sds.EMBSTR:  # (text of at most 44 bytes: an embstr by size)
                    return self._string_size(len(key), len(val), key in db.exp)
                return mem.raw_buffer_key_alloc(len(key), rec[1], has_ttl=key in db.exp,
                                                lg_quantum=self.lg) + self.entry_extra
        return self._value_alloc(key, val, key in db.exp)

    @staticmethod
    def _string_object(db: Db, key: bytes, val: Any) -> tuple[int, int] | None:
        """(cap, usable) if the keyspace recorded how ``val`` is held (``Db.strings``: a raw
        buffer APPEND or SETRANGE grew, or INCRBYFLOAT's embstr with cap ``sds.EMBSTR``),
        else None."""
        rec = db.strings.get(key)
        return (rec[1], rec[2]) if rec is not None and rec[0] is val else None

    def _value_alloc(self, key: bytes, val: Any, has_ttl: bool) -> int:
        if val.__class__ is bytes and not val[:1].isdigit() and val[:1] != b"-":
            # not an integer: only the lengths matter (the common case, and a fast one)
            return self._string_size(len(key), len(val), has_ttl)
        if isinstance(val, bytes | int):
            return mem.key_alloc(key, val, has_ttl=has_ttl, shared_ok=self.shared_ok,
                                 lg_quantum=self.lg) + self.entry_extra
        # Hashes and lists: dictEntry + key + the value's robj and encoding (listpack, hash
        # table, quicklist: see memory.py).
        size = mem.jemalloc_size(mem.DICT_ENTRY_SIZE, self.lg) + mem.sds_alloc(len(key), self.lg)
        if isinstance(val, dict):
            size += mem.hash_value_alloc(val, self.lg)
        else:
            size += mem.list_value_alloc(list(val), self.lg, val.fill)
        if has_ttl:
            size += mem.jemalloc_size(mem.DICT_ENTRY_SIZE, self.lg)
        return size + self.entry_extra

    def _string_size(self, klen: int, vlen: int, has_ttl: bool) -> int:
        """What a key holding a string that is not an integer takes (cached by size)."""
        sizes = (klen, vlen, has_ttl)
        n = self._size_cache.get(sizes)
        if n is None:
            n = self._size_cache[sizes] = mem.key_alloc_sizes(
                klen, vlen, has_ttl=has_ttl, lg_quantum=self.lg) + self.entry_extra
        return n

    def remeasure(self, dbid: int, keys: Sequence[bytes]) -> None:
        db = self.ks.dbs[dbid]
        kb = self.key_bytes[dbid]
        for k in keys:
            new = self._alloc(db, k)
            old = kb.pop(k, 0)
            if new:
                kb[k] = new
            self.keys_total += new - old
            if not new and self.track_lru:
                self.dbs[dbid].lru.pop(k, None)

    def resync_all(self) -> None:
        """Measure every key again (after a preload, FLUSHALL, a restart...)."""
        self.keys_total = 0
        for dbid, db in enumerate(self.ks.dbs):
            if db.data or db.main.size:
                self._active_dbs.add(dbid)
            kb = self.key_bytes[dbid] = {}
            for k in db.data:
                n = self._alloc(db, k)
                kb[k] = n
                self.keys_total += n
            if self.track_lru:
                lru = self.dbs[dbid].lru
                field = self.ev.new_object_field(self._now)
                self.dbs[dbid].lru = {k: lru.get(k, field) for k in db.data}

    def _buckets(self) -> int:
        total = 0
        cache = self._bucket_cache
        dbs = self.ks.dbs
        for i in self._active_dbs:
            db = dbs[i]
            for table in (db.main, db.expires):
                size = table.size
                if size:
                    b = cache.get(size)
                    if b is None:
                        b = cache[size] = mem.bucket_array_alloc(size, self.lg)
                    total += b
        return total

    def used_memory(self) -> int:
        return (self._base + self.keys_total + self._buckets() + self._clients_memory()
                + self.aof_buffer())

    def _clients_memory(self) -> int:
        """The connected clients' buffers (clients.normal, mem_clients_normal)."""
        return mem.client_buffers(0, self.loop.connected)

    def _db_overheads(self, db: Db) -> tuple[int, int, int]:
        """getMemoryOverheadData's figures of one database: its main table (entries, robjs,
        buckets), its expires table, and cluster mode's slot-to-keys metadata."""
        n = len(db.data)
        return (mem.db_overhead(n, db.main.size, 0, 0),
                mem.db_overhead(0, 0, len(db.exp), db.expires.size), n * self.entry_meta)

    def measure(self) -> int:
        """used_memory now, exact even when maxmemory is off (then every key is measured
        again: for rare events such as a fork or INFO, not for every command)."""
        if not self.tracking:
            self.keys_total = self._sum_all()
        return self.used_memory()

    def _sum_all(self) -> int:
        """What every key takes, summed without keeping the per-key figures: with maxmemory
        off nothing reads them between two measurements. Strings that are not integers are
        counted by size class in the compiled keyspace, the rest measured one by one."""
        total = 0
        for dbid, db in enumerate(self.ks.dbs):
            if db.data or db.main.size:
                self._active_dbs.add(dbid)
            if not db.data:
                continue
            classes, others = self.ks.string_size_classes(db)
            for (klen, vlen, has_ttl), count in classes.items():
                total += self._string_size(klen, vlen, has_ttl) * count
            for k in others:
                total += self._alloc(db, k)
        return total

    def not_counted_memory(self) -> int:
        """freeMemoryGetNotCountedMemory: the AOF buffer does not count against maxmemory."""
        return self.aof_buffer()

    # ------------------------------------------------------------------ EvictionHost
    def evict_key(self, dbid: int, key: bytes) -> float:
        db = self.ks.dbs[dbid]
        self.ks.delete_key(db, key)
        self.remeasure(dbid, [key])
        if self.trace is not None:
            sampled = tuple(k.decode("utf-8", "replace") for k in self.ev.last_sample)
            self.trace.emit(self._now, tr.K_EVICT, -1, (key.decode("utf-8", "replace"), sampled))
        return self.c_evict

    # ------------------------------------------------------------------ loop hooks
    def attach(self, loop: Any) -> None:
        """Plug the processCommand checks into the loop: MEMORY/OBJECT for those commands
        only; performEvictions before every command only when maxmemory is set (it cannot
        change during a run), so an unlimited server pays nothing per command."""
        loop.add_before_command(self.before_introspect, names=("memory", "object"))
        if self.maxmemory:
            loop.add_before_command(self.before_evict)

    def before_introspect(self, conn: Any, args: list, t: float) -> tuple[float, Any]:
        """MEMORY USAGE/STATS..., OBJECT FREQ/IDLETIME... answered from the memory model."""
        first = args[0]
        if first[:1] in b"mMoO":
            name = first.lower() if isinstance(first, bytes) else first.encode().lower()
            if name == b"memory" or name == b"object":
                reply = self._introspect(name, args, conn, t)
                if reply is not None:
                    if not (isinstance(reply, ReplyError) and reply.rejected):
                        # the command ran: its cost in the profile (the loop charges a
                        # refusal itself)
                        t += self.loop.c_cmd.get(name.decode(), self.loop.c_default)
                    return t, reply
        return t, None

    def before_evict(self, conn: Any, args: list, t: float) -> tuple[float, Any]:
        """performEvictions, then the OOM rejection of denyoom commands."""
        if self.maxmemory == 0:
            return t, None
        first = args[0]
        name = first.lower() if isinstance(first, bytes) else first.encode().lower()
        self._now = t
        # self is an EvictionHost whose keys are bytes; the protocol names them Hashable and is
        # not generic in the key type, so bytes-typed parameters cannot match it.
        res = self.ev.perform(self, t)  # type: ignore[arg-type]
        t += res.cpu_s
        if res.status == EVICT_FAIL:
            spec = lookup_command(name.decode("utf-8", "replace"))
            if spec is not None and spec.denyoom:
                self.oom_rejections += 1
                return t, ReplyError(OOM_ERROR, rejected=True)
        return t, None

    def after_command(self, conn: Any, args: list, t: float) -> None:
        fx = self.ks.effects
        dbid = fx.db
        if dbid not in self._active_dbs:
            self._active_dbs.add(dbid)
        if fx.name in _WHOLESALE and not fx.error:
            self.resync_all()
        elif fx.dirty or fx.deleted or fx.expired:
            self.remeasure(dbid, [*fx.touched, *fx.deleted, *fx.expired])
        if self.track_lru and fx.touched and not self.child_active:
            cmd = fx.name
            if lookup_touches(cmd, self.child_active):
                lru = self.dbs[dbid].lru
                data = self.ks.dbs[dbid].data
                ev = self.ev
                for k in fx.touched:
                    if k in data:
                        old = lru.get(k)
                        lru[k] = ev.new_object_field(t) if old is None else ev.touch(old, t)
        used = self.used_memory()
        if used > self.peak:
            self.peak = used

    def on_expired(self, dbid: int, argv: list[bytes], t: float) -> None:
        """A key deleted by the active expire cycle: what it held leaves used_memory
        (``remeasure`` of a key that is gone, without measuring it again)."""
        key = argv[1]
        self.keys_total -= self.key_bytes[dbid].pop(key, 0)
        if self.track_lru:
            self.dbs[dbid].lru.pop(key, None)

    def cron(self, t: float) -> float:
        self.ev.cron(t)
        return t

    def reset_stats(self) -> None:
        """A restarted process: evicted_keys and the over-the-limit times from zero, the
        peak from what it loaded."""
        self.reset_counters()
        self.peak = self.measure()

    def reset_counters(self) -> None:
        """CONFIG RESETSTAT: evicted_keys and the over-the-limit times from zero (an
        over-the-limit spell going on is timed again from the next eviction, as
        ``stat_last_eviction_exceeded_time`` = 0 makes Redis do); the peak stays."""
        st = self.ev.stats
        st.evicted_keys = 0
        st.total_eviction_exceeded_time_s = 0.0
        st.exceeded_since_s = None

    def timer(self, t: float) -> float:
        """evictionTimeProc, once per iteration while the previous call ran out of time."""
        if not self.ev.timer_running:
            return t
        self._now = t
        res = self.ev.timer_proc(self, t)  # type: ignore[arg-type]  # (see before_evict)
        return t + res.cpu_s

    def pending(self) -> bool:
        return self.ev.timer_running

    # ------------------------------------------------------------------ MEMORY / OBJECT
    def _introspect(self, name: bytes, args: list, conn: Any, t: float) -> Any:
        # processCommand first: the container's arity (-2), then its subcommand (unknown:
        # rejected with no command chosen), then the subcommand's own arity.
        upper = name.decode().upper()
        if len(args) < 2:
            return ReplyError(f"ERR wrong number of arguments for '{name.decode()}' command",
                              rejected=True)
        raw_sub = args[1] if isinstance(args[1], bytes) else str(args[1]).encode()
        sub = raw_sub.lower()
        arity = SUBCOMMANDS[name.decode()].get(sub.decode("utf-8", "replace"))
        if arity is None:
            shown = raw_sub[:128].decode("utf-8", "replace")
            return ReplyError(f"ERR unknown subcommand '{shown}'. Try {upper} HELP.",
                              rejected=True)
        if (len(args) != arity) if arity > 0 else (len(args) < -arity):
            return ReplyError(f"ERR wrong number of arguments for '{name.decode()}|"
                              f"{sub.decode()}' command", rejected=True)
        if sub == b"purge":
            return "OK"  # (jemalloc's purge of dirty pages: nothing the model keeps)
        if name == b"memory" and sub == b"stats":
            return self._memory_stats()
        if len(args) < 3:
            # MEMORY DOCTOR / MALLOC-STATS, the HELP texts: not modelled
            return ReplyError(f"ERR {upper} {sub.decode().upper()} is not modelled by "
                              "redissim")
        key = args[2] if isinstance(args[2], bytes) else args[2].encode()
        dbid = conn.session.db
        db = self.ks.dbs[dbid]
        val = db.data.get(key)
        now_ms = EPOCH_MS + int(t * 1000.0 + 1e-9)
        when = db.exp.get(key)
        if when is not None and now_ms > when:
            val = None
        if name == b"memory" and sub == b"usage":
            # MEMORY USAGE key [SAMPLES count] (memoryCommand): the options are read before
            # the key is looked up; count 0 means every element, the default is 5.
            samples = 5
            rest = args[3:]
            while rest:
                opt = rest[0] if isinstance(rest[0], bytes) else str(rest[0]).encode()
                if opt.lower() != b"samples" or len(rest) < 2:
                    return ReplyError("ERR syntax error")
                raw = rest[1] if isinstance(rest[1], bytes) else str(rest[1]).encode()
                parsed = parse_ll(raw)
                if parsed is None:
                    return ReplyError("ERR value is not an integer or out of range")
                samples = parsed
                if samples < 0:
                    return ReplyError("ERR syntax error")
                rest = rest[2:]
            if val is None:
                return NIL_BULK
            rec = self._string_object(db, key, val)
            if rec is not None:
                usage = mem.embstr_memory_usage(len(key), len(val), lg_quantum=self.lg) \
                    if rec[0] == sds.EMBSTR else \
                    mem.raw_buffer_memory_usage(len(key), rec[1], lg_quantum=self.lg)
                return usage + self.entry_meta
            if isinstance(val, bytes | int):
                return mem.memory_usage_key(key, val, shared_ok=self.shared_ok,
                                            lg_quantum=self.lg) + self.entry_meta
            if isinstance(val, dict):
                return mem.memory_usage_collection(key, val, samples=samples,
                                                   lg_quantum=self.lg) + self.entry_meta
            return mem.memory_usage_collection(key, list(val), samples=samples,
                                               lg_quantum=self.lg, fill=val.fill) \
                + self.entry_meta
        # OBJECT: objectCommandLookupOrReply answers a missing key with a null first
        if val is None:
            return NIL_BULK
        if sub == b"encoding":
            rec = self._string_object(db, key, val)
            if rec is not None:
                return b"embstr" if rec[0] == sds.EMBSTR else b"raw"
            return self._encoding(val).encode()
        if sub == b"refcount":
            # shared integers (0..9999, when maxmemory's policy allows sharing) carry
            # OBJ_SHARED_REFCOUNT; a value the keyspace holds alone, 1
            shared = isinstance(val, bytes) and mem.string_encoding(
                val, shared_ok=self.shared_ok) == "shared" \
                and self._string_object(db, key, val) is None
            return 2147483647 if shared else 1
        if sub == b"idletime" and not self.track_lru and self.policy not in LFU_POLICIES:
            # keys' access times are kept only under an LRU or LFU policy with maxmemory
            # set (the per-command bookkeeping costs the hot path): no made-up figure
            return ReplyError("ERR OBJECT IDLETIME is not modelled by redissim without "
                              "maxmemory and an LRU policy")
        if sub in (b"freq", b"idletime"):
            lru = self.dbs[dbid].lru.get(key, 0)
            if sub == b"freq":
                if self.policy not in LFU_POLICIES:
                    return ReplyError("ERR An LFU maxmemory policy is not selected, access "
                                      "frequency not tracked. Please note that when switching "
                                      "between policies at runtime LRU and LFU data will take "
                                      "some time to adjust.")
                return self.ev.object_freq(lru, t)
            if self.policy in LFU_POLICIES:
                return ReplyError("ERR An LFU maxmemory policy is selected, idle time not "
                                  "tracked. Please note that when switching between policies "
                                  "at runtime LRU and LFU data will take some time to adjust.")
            return self.ev.object_idletime_s(lru)
        return None

    def _memory_stats(self) -> list[Any]:
        """MEMORY STATS (object.c: memoryCommand over getMemoryOverheadData), as RESP2
        sends its map: names and values in turn, a database's own map nested, the two
        percentages as bulk strings (addReplyDouble of a C ``float``).

        The eleven figures Redis sends after the two percentages --
        ``allocator.*``, ``allocator-fragmentation.*``, ``allocator-rss.*``,
        ``rss-overhead.*`` and ``fragmentation*`` -- are jemalloc's and the kernel's view
        of the same memory (pages the allocator holds, resident pages): the model keeps no
        allocator pages nor RSS, so it leaves them out rather than make them up.
        """
        im = self._info_memory()
        used = im.used_memory
        peak = max(self.peak, used)
        out: list[Any] = [
            b"peak.allocated", peak, b"total.allocated", used,
            b"startup.allocated", self.startup, b"replication.backlog", 0,
            b"clients.slaves", 0, b"clients.normal", self._clients_memory(),
            b"cluster.links", 0, b"aof.buffer", self.aof_buffer(), b"lua.caches", 0,
            b"functions.caches", self.functions,
        ]
        keys = 0
        for db in self.ks.dbs:
            if not db.data:
                continue  # (as Redis: only databases that hold keys)
            keys += len(db.data)
            main, expires, slot_to_keys = self._db_overheads(db)
            out += [b"db.%d" % db.id, [
                b"overhead.hashtable.main", main, b"overhead.hashtable.expires", expires,
                b"overhead.hashtable.slot-to-keys", slot_to_keys]]
        # The shares are of the memory used above startup (1 if none), in float arithmetic
        net = used - self.startup if used > self.startup else 1
        dataset = im.used_memory_dataset
        out += [b"overhead.total", im.used_memory_overhead, b"keys.count", keys,
                b"keys.bytes-per-key", net // keys if keys else 0, b"dataset.bytes", dataset,
                b"dataset.percentage", _c_float_percent(dataset, net),
                b"peak.percentage", _c_float_percent(used, peak)]
        return out

    @staticmethod
    def _encoding(val: Any) -> str:
        """OBJECT ENCODING (strEncoding): a string as SET stores it (``int`` -- shared or
        not --, ``embstr`` up to 44 bytes, ``raw``); a hash ``listpack`` or ``hashtable``;
        a list ``quicklist`` (7.0 has no listpack-encoded lists). (The values ``Db.strings``
        records, APPEND's and SETRANGE's raw buffers and INCRBYFLOAT's embstr, are answered
        by the caller first.)"""
        if isinstance(val, bytes | int):
            enc = mem.string_encoding(val)
            return "int" if enc == "shared" else enc
        if isinstance(val, dict):
            return "listpack" if hash_is_listpack(val) else "hashtable"
        return "quicklist"

    # ------------------------------------------------------------------ INFO
    def _info_memory(self) -> mem.InfoMemory:
        used = self.measure()
        overhead_db = sum(sum(self._db_overheads(db)) for db in self.ks.dbs)
        aof = self.aof_buffer()
        return mem.info_memory(used_memory=used, startup=self.startup, db_overheads=overhead_db,
                               clients=self._clients_memory(),
                               aof_buffer=aof, functions=self.functions,
                               maxmemory=self.maxmemory, policy=self.policy, not_counted=aof)

    def used_memory_dataset(self) -> int:
        """INFO's used_memory_dataset now (measures every key when maxmemory is off)."""
        return self._info_memory().used_memory_dataset

    def info_fields(self) -> dict[str, dict[str, object]]:
        im = self._info_memory()
        fields: dict[str, object] = dict(im.as_dict())
        if im.used_memory > self.peak:
            self.peak = im.used_memory  # (INFO updates stat_peak_memory too, server.c)
        fields["used_memory_peak"] = self.peak
        fields["mem_clients_normal"] = self._clients_memory()
        fields["mem_aof_buffer"] = im.mem_not_counted_for_evict
        stats = cast(dict[str, object], self.ev.stats.info(self._now))
        return {"memory": fields, "stats": stats}


_F32 = struct.Struct("f")


def _single(x: float) -> float:
    """``x`` rounded to C's ``float`` (IEEE single precision)."""
    return float(_F32.unpack(_F32.pack(x))[0])


def _c_float_percent(part: int, whole: int) -> bytes:
    """``(float)part * 100 / whole`` in C's single precision (each operation rounded to a
    float, as C does with a float operand), printed as addReplyDouble prints a double in
    RESP2 (``%.17g``): MEMORY STATS's percentages, digit for digit."""
    return b"%.17g" % _single(_single(_single(float(part)) * 100.0) / _single(float(whole)))
