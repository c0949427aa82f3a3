"""Persistence on the Redis main thread: the AOF (``src/aof.c``) and RDB snapshots
(``src/rdb.c``, the child handling of ``src/server.c:serverCron``), charged to the event loop.

AOF (``aof.c:feedAppendOnlyFile`` / ``flushAppendOnlyFile``)
  Every command that changed the dataset is appended to ``aof_buf`` in its propagated form
  (what ``Keyspace.effects.propagate`` holds: relative expiries already absolute), with a
  SELECT first when the database differs from the last one fed. ``beforeSleep`` flushes the
  whole buffer with one ``write(2)`` *before* the replies are written (group commit), then:

  * ``always``: ``fdatasync`` on the main thread; the loop waits for the device;
  * ``everysec``: a background (BIO thread) fsync, at most once per wall-clock second
    (``unixtime > aof_last_fsync``); while that fsync still runs the write itself is
    postponed, for up to two seconds (``aof_flush_postponed_start``), after which it is
    done anyway and ``aof_delayed_fsync`` counts it. Replies are sent while the data sits
    in ``aof_buf``: that is the window a process crash can lose;
  * ``no``: Redis never fsyncs; the kernel writes the dirty file back once it has been
    dirty for ``dirty_expire_centisecs`` (30 s), checked every ``dirty_writeback_centisecs``
    (5 s). Linux tracks that age per inode (``inode->dirtied_when``), so a continuously
    appended file is written back whole every ~30-35 s.

  ``auto-aof-rewrite-percentage`` / ``-min-size`` start a rewrite child with 7.0's multi-part
  AOF (``rewriteAppendOnlyFileBackground``): the parent flushes, opens a new INCR file and
  forks; the child writes the new BASE (RDB preamble); no rewrite buffer in the parent.
  ``no-appendfsync-on-rewrite yes`` skips every fsync while a child exists.

RDB (``server.c:serverCron``, ``rdb.c:rdbSaveBackground``)
  Save points: the first ``save <seconds> <changes>`` pair with ``dirty >= changes`` and
  ``unixtime - lastsave > seconds`` (strict), provided the last bgsave succeeded or more
  than ``CONFIG_BGSAVE_RETRY_DELAY`` (5 s) passed since the last try, starts a BGSAVE.
  ``fork()`` blocks the main thread in proportion to used memory (page-table copy: a cost
  in ms per GB from the cost profile); the child writes the file at the device's bandwidth,
  fsyncing every 4 MB (``rdb-save-incremental-fsync``); copy-on-write is 4 KiB for every
  distinct page the parent writes while the child runs (keys are mapped to pages by a
  fixed hash); one child at a time; while it runs the hash tables avoid resizing and LRU/LFU
  clocks are not updated (``child_active``, read by the eviction code). The parent notices
  the child's exit in ``serverCron`` (``checkChildrenDone``). A failed save with
  ``stop-writes-on-bgsave-error yes`` (and save points configured) makes write commands and
  PING fail with MISCONF until a save succeeds.

Durability bookkeeping (for ``faults.py``): every dataset change gets a sequence number;
the AOF records, with their local times, up to which change it has been written to the page
cache and up to which it is on the device; RDB snapshots record the change they were forked
at. A reply to a write command is *acknowledged* when the client receives it
(``reply_hooks``' ``t_recv``). With ``track=True`` the model also keeps the durable dataset
(a lagging copy of the keyspace) so that a restart can load exactly what was durable.

Simplifications, stated: the disk is one FIFO timeline (``disk_free``: fsyncs, kernel
writeback and the child's 4 MB chunks queue behind each other; the device's parallel slots
do not matter for these sequential streams); the child runs on a core of its own (it never
slows the loop down, nor the loop it); the AOF's own page-cache footprint and client
buffers do not add COW pages.

RDB size and the writer's CPU (``rdb.c:rdbSaveRio``, ``rdbSaveRawString``; ``lzf.py``)
  The file is sized as Redis writes it, strings LZF-compressed (``rdbcompression yes``),
  small hashes and list nodes as the listpack blobs Redis writes (``listpack.py``);
  checked byte for byte against real dump.rdb files. The writer
  (the child, or the main thread for SAVE) spends CPU per key, per byte written and per
  byte LZF handles (copied as literals costs about seven times a byte its matches cover),
  measured by ``benchmarks/calibrate_rdb.py``; it alternates that CPU with its 4 MB writes.
"""

from __future__ import annotations

import zlib
from array import array
from collections import deque
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any, Final, NamedTuple

import numpy as np
import simpy

from redissim.profile import CostProfile, PersistenceCosts, load_profile_data
from redissim.server.commands import arity_ok
from redissim.server.commands import lookup as lookup_command
from redissim.server.eventloop import CommandObserver
from redissim.server.keyspace import Keyspace, populate_value
from redissim.server.listpack import (
    LIST_MAX_LISTPACK_SIZE,
    hash_is_listpack,
    listpack,
    loaded_hash,
    quicklist_nodes,
)
from redissim.server.lzf import RDB_COMPRESS_MIN_LEN, rdb_compress_work
from redissim.server.memory import (
    EMPTY_SERVER_USED_MEMORY_DEBIAN_7_0_15,
    FUNCTIONS_CACHES_DEBIAN_7_0_15,
    bucket_array_alloc,
    key_alloc_sizes,
    table_size_for,
)
from redissim.server.resp import ReplyError, request_size
from redissim.sim import trace as tr
from redissim.sim.clock import EPOCH_S, unix_ms, unix_s
from redissim.sim.devices import StorageDevice

__all__ = [
    "Persistence",
    "PersistenceCosts",
    "costs_from_profile",
    "parse_save",
    "resp_size",
    "attach_persistence",
    "MISCONF_RDB",
    "CONFIG_BGSAVE_RETRY_DELAY",
]

#: ``CONFIG_BGSAVE_RETRY_DELAY`` (server.h): seconds between retries after a failed bgsave.
CONFIG_BGSAVE_RETRY_DELAY = 5
#: ``REDIS_AUTOSYNC_BYTES`` (server.h): the RDB child fsyncs every 4 MB.
REDIS_AUTOSYNC_BYTES = 4 * 1024 * 1024
#: Kernel writeback defaults: ``vm.dirty_expire_centisecs`` = 3000, ``dirty_writeback`` = 500.
DIRTY_EXPIRE_S = 30.0
DIRTY_WRITEBACK_S = 5.0
PAGE_SIZE = 4096
GIB = 1024 ** 3
#: the empty RDB: "REDIS0010" + aux fields (redis-ver, redis-bits, ctime, used-mem,
#: aof-base) + EOF + CRC64; measured: an empty 7.0.15 dump.rdb is 89 bytes.
RDB_EMPTY_BYTES = 89
#: strerror(EIO), the errno a failing device gives fsync.
EIO_TEXT = "Input/output error"

# The replies Redis gives (observable protocol output, reproduced for fidelity).
MISCONF_RDB = ReplyError(
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about "
    "the RDB error.", rejected=True)
E_BGSAVE_RUNNING = ReplyError("ERR Background save already in progress")
E_OTHER_CHILD = ReplyError(
    "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE "
    "in order to schedule a BGSAVE whenever possible.")
E_REWRITE_RUNNING = ReplyError("ERR Background append only file rewriting already in progress")
E_SYNTAX = ReplyError("ERR syntax error")
E_GENERIC = ReplyError("ERR")

#: FLUSHALL's spec: after it, a server with save points saves the empty dataset
_FLUSHALL: Final = lookup_command("flushall")
#: commands this module answers itself (they are not in the keyspace's command table):
#: name -> arity (Redis 7.0.15 src/commands/*.json)
OWN_COMMANDS = {"bgsave": -1, "save": 1, "bgrewriteaof": 1, "lastsave": 1}

RDB: Final = "rdb"
AOF: Final = "aof"


def default_costs() -> PersistenceCosts:
    """The default cost profile's ``persistence:`` figures (each with its source there)."""
    return CostProfile.model_validate(load_profile_data("default")).persistence


def costs_from_profile(profile: Any) -> PersistenceCosts:
    """The ``persistence:`` costs of a cost profile."""
    return profile.persistence


def _word(arg: Any) -> str:
    """A command argument as a lower-case word (options are matched case-insensitively)."""
    return (arg.decode("latin-1") if isinstance(arg, bytes) else str(arg)).lower()


def parse_save(spec: str) -> list[tuple[int, int]]:
    """``save "3600 1 300 100"`` as [(seconds, changes), ...] in the order given."""
    parts = spec.split()
    return [(int(parts[i]), int(parts[i + 1])) for i in range(0, len(parts), 2)]


#: bytes of one command line in the AOF (``catAppendOnlyGenericCommand`` writes the RESP
#: array of bulk strings a client would send)
resp_size = request_size


def _select_size(db: int) -> int:
    return resp_size([b"SELECT", str(db).encode()])


def _rdb_len_size(n: int) -> int:
    """Bytes of an RDB length prefix (``rdbSaveLen``: 6-bit, 14-bit, 32-bit, 64-bit)."""
    if n < 64:
        return 1
    if n < 16384:
        return 2
    if n <= 0xFFFFFFFF:
        return 5
    return 9


#: LZF results already computed, by content (values repeat: a workload's filler, DEBUG
#: POPULATE's zero padding). It keeps the strings alive, so it is cleared once they add up
#: to _LZF_CACHE_BYTES.
_lzf_cache: dict[bytes, tuple[int, int, int]] = {}
_LZF_CACHE_BYTES = 16 << 20
_lzf_cached_bytes = 0


def _rdb_string_work(b: bytes, compression: bool = True) -> tuple[int, int, int, int]:
    """``rdbSaveRawString``: (bytes written, LZF literal bytes, LZF matched bytes, bytes
    stored compressed: what a load decompresses).
    Integers up to 11 chars are int-encoded; with ``rdbcompression yes`` a string of 21
    bytes or more is LZF-compressed if that saves at least 4 bytes (then: an encoding byte,
    the compressed and the original length, the payload), else written as it is."""
    if len(b) <= 11 and b and (b.isdigit() or (b[0] == 45 and b[1:].isdigit())):
        try:
            v = int(b)
        except ValueError:
            v = None
        if v is not None and str(v).encode() == b:
            if -128 <= v <= 127:
                return 2, 0, 0, 0
            if -32768 <= v <= 32767:
                return 3, 0, 0, 0
            if -(1 << 31) <= v < (1 << 31):
                return 5, 0, 0, 0
    n = len(b)
    if compression and n >= RDB_COMPRESS_MIN_LEN:
        work = _lzf_cache.get(b)
        if work is None:
            global _lzf_cached_bytes
            if _lzf_cached_bytes + n > _LZF_CACHE_BYTES:
                _lzf_cache.clear()
                _lzf_cached_bytes = 0
            work = _lzf_cache[b] = rdb_compress_work(b)
            _lzf_cached_bytes += n
        c, literal, matched = work
        if c:
            return 1 + _rdb_len_size(c) + _rdb_len_size(n) + c, literal, matched, n
        return _rdb_len_size(n) + n, literal, matched, 0
    return _rdb_len_size(n) + n, 0, 0, 0


def _rdb_value_work(v: Any, compression: bool = True) -> tuple[int, int, int, int]:
    """:func:`_rdb_string_work` of a value (``rdbSaveObject``): a string; a hash as one
    listpack blob while it is listpack-encoded, else its count and its fields' and values'
    strings; a list as its node count and, per node, a container byte and the node's
    listpack blob (``RDB_TYPE_LIST_QUICKLIST_2``)."""
    if isinstance(v, bytes):
        return _rdb_string_work(v, compression)
    if isinstance(v, dict):
        if hash_is_listpack(v):
            return _rdb_string_work(listpack([x for kv in v.items() for x in kv]), compression)
        size, literal, matched, packed = _rdb_len_size(len(v)), 0, 0, 0
        for kv in v.items():
            for x in kv:
                s, lit, m, p = _rdb_string_work(x, compression)
                size += s
                literal += lit
                matched += m
                packed += p
        return size, literal, matched, packed
    try:
        items = list(v)
    except TypeError:
        return 8, 0, 0, 0
    nodes = quicklist_nodes(items, getattr(v, "fill", LIST_MAX_LISTPACK_SIZE))
    size, literal, matched, packed = _rdb_len_size(len(nodes)), 0, 0, 0
    for node in nodes:
        s, lit, m, p = _rdb_string_work(node, compression)
        size += 1 + s  # QUICKLIST_NODE_CONTAINER_PACKED, then the listpack
        literal += lit
        matched += m
        packed += p
    return size, literal, matched, packed


def _mem_value_len(v: Any) -> int:
    if isinstance(v, bytes):
        return len(v)
    if isinstance(v, dict):
        return sum(len(f) + len(x) + 16 for f, x in v.items())
    try:
        return sum(len(x) + 11 for x in v)
    except TypeError:
        return 8


#: keys sampled per database for the size estimates (evenly spaced through the dict)
SIZE_SAMPLE = 2048


def _sample(data: dict) -> list[tuple[bytes, Any]]:
    n = len(data)
    if n <= SIZE_SAMPLE:
        return list(data.items())
    step = n // SIZE_SAMPLE
    return list(islice(data.items(), 0, None, step))


class RdbEstimate(NamedTuple):
    """What ``rdbSave`` would write for a dataset, and the work it would do."""

    nbytes: int  #: the file's size
    keys: int
    lzf_literal: int  #: bytes LZF copied as literals (compressing or trying to)
    lzf_matched: int  #: bytes LZF's back-references covered
    lzf_packed: int  #: bytes of the strings stored compressed (a load decompresses them)


def rdb_estimate(ks: Keyspace, compression: bool = True) -> RdbEstimate:
    """The dump.rdb ``rdbSave`` would write for ``ks`` (``rdbSaveRio``): the empty file's
    header, aux fields and trailer, then per non-empty database SELECTDB and RESIZEDB, and
    per key its type byte, name, value and expire time (``EXPIRETIME_MS`` + 8 bytes).
    Strings are sized as ``rdbSaveRawString`` writes them, LZF-compressed unless
    ``compression`` is off (``rdbcompression no``); up to
    SIZE_SAMPLE keys per database are measured one by one (the size is then exact for
    strings), beyond that an even sample of them stands for the rest."""
    total = RDB_EMPTY_BYTES
    keys = literal = matched = packed = 0
    for d in ks.dbs:
        n = len(d.data)
        if not n:
            continue
        sample = _sample(d.data)
        exp = d.exp
        shared = d.populated_shared
        size = lit = m = p = 0
        for k, v in sample:
            if shared is not None and v is shared[0]:
                v = _populated_value(k, shared)
            k_size, kl, km, kp = _rdb_string_work(k, compression)
            v_size, vl, vm, vp = _rdb_value_work(v, compression)
            size += 1 + k_size + v_size + (9 if k in exp else 0)
            lit += kl + vl
            m += km + vm
            p += kp + vp
        if len(sample) != n:
            scale = n / len(sample)
            size, lit, m, p = int(size * scale), int(lit * scale), int(m * scale), int(p * scale)
        total += size + 1 + _rdb_len_size(d.id) + 1 + _rdb_len_size(n) + _rdb_len_size(len(exp))
        keys += n
        literal += lit
        matched += m
        packed += p
    return RdbEstimate(total, keys, literal, matched, packed)


def _populated_value(key: bytes, shared: tuple[bytes, bytes, int]) -> bytes:
    """The value DEBUG POPULATE gave ``key`` where a preload shares one value object (see
    Keyspace.populate): ``value:N`` for ``prefix:N``, at the shared value's size."""
    value, prefix, size = shared
    digits = key[len(prefix):]
    if key.startswith(prefix) and digits.isdigit():
        return populate_value(int(digits), size)
    return value


def rdb_file_size(ks: Keyspace, compression: bool = True) -> int:
    """Bytes of the dump.rdb ``rdbSave`` would write for ``ks`` (:func:`rdb_estimate`)."""
    return rdb_estimate(ks, compression).nbytes


def copy_dataset(ks: Keyspace) -> list[tuple[dict, dict]]:
    """A copy of every database's (data, expires): what a fork freezes or a load restores.

    Strings are immutable bytes and are shared; hashes and lists are copied (a list with
    the fill it was created with)."""
    out = []
    for d in ks.dbs:
        data = d.data
        if any(not isinstance(v, bytes) for v in islice(data.values(), 0, None)):
            data = {k: (v if isinstance(v, bytes) else v.copy()) for k, v in data.items()}
        else:
            data = dict(data)
        out.append((data, dict(d.exp)))
    return out


def _restored(v: Any, load: bool, entries: int, value: int) -> Any:
    """A value as :func:`restore_dataset` puts it back: a string as it is; a hash or a list
    copied, or a hash as a load builds it under the keyspace's limits (``rdbLoadObject``: a
    listpack where it fits them). A loaded list keeps the nodes it was saved with
    (``quicklistAppendListpack``), so here the fill that made them; Redis fills the nodes
    of later pushes by the loading process's list-max-listpack-size (not modelled)."""
    if isinstance(v, bytes):
        return v
    if load and isinstance(v, dict):
        return loaded_hash(v, entries, value)
    return v.copy()


def restore_dataset(ks: Keyspace, dataset: list[tuple[dict, dict]], load: bool = False) -> None:
    """Replace the keyspace's content by ``dataset`` (copied), keeping the Db objects.
    ``load``: the dataset is read from a file, whose hashes come back as listpacks where
    they fit the keyspace's listpack limits (rdbLoadObject), whatever their encoding was
    when saved."""
    entries, value = ks.hash_max_listpack_entries, ks.hash_max_listpack_value
    for d, (data, exp) in zip(ks.dbs, dataset, strict=True):
        d.main.clear()
        d.expires.clear()
        # loaded values are encoded afresh (rdbLoadObject's tryObjectEncoding; an AOF replays
        # SETs): none keeps the encoding APPEND, SETRANGE or INCRBYFLOAT gave it
        d.strings.clear()
        d.avg_ttl = 0
        d.expires_cursor = 0
        if data:
            d.data.update({k: _restored(v, load, entries, value)
                           for k, v in data.items()})
            d.main.expand(len(data))
        if exp:
            d.exp.update(exp)
            d.exp_sorted = False  # (in whatever order it was saved)
            d.exp_min = min(exp.values())
            d.expires.expand(len(exp))


class _Child:
    """A fork child (RDB save or AOF rewrite) and what the parent learns when it exits."""

    __slots__ = ("kind", "t_fork", "t_start", "nbytes", "cpu_s", "written", "exited", "ok",
                 "t_exit", "fork_seq", "dataset", "keys", "cow_pages", "n_pages", "used_memory")

    def __init__(self, kind: str, t_fork: float, t_start: float, nbytes: int, fork_seq: int,
                 used_memory: int, keys: int, cpu_s: float = 0.0):
        self.kind = kind
        self.t_fork = t_fork
        self.t_start = t_start
        self.nbytes = nbytes
        #: the CPU its serialising and compressing take, spread evenly over its writes
        self.cpu_s = cpu_s
        self.written = 0
        self.exited = False
        self.ok = False
        self.t_exit = float("inf")
        self.fork_seq = fork_seq
        self.dataset: list[tuple[dict, dict]] | None = None
        self.keys = keys
        self.cow_pages: set[int] = set()
        self.used_memory = used_memory
        self.n_pages = max(1, used_memory // PAGE_SIZE)


class Persistence(CommandObserver):
    """AOF + RDB state of one server (the ``server.aof_*``, ``server.rdb_*``, ``lastsave``,
    ``dirty`` fields of ``struct redisServer``) and the loop hooks that drive it."""

    # set by _reset_cpu
    cpu_wait: float
    cpu_fork: float
    cpu_aof_write: float
    cpu_save_work: float
    cpu_children: float
    cpu_load: float

    def __init__(self, env: simpy.Environment, loop: Any, keyspace: Keyspace, config: Any,
                 device: StorageDevice, *, costs: PersistenceCosts | None = None,
                 rng: np.random.Generator | None = None, trace: tr.Trace | None = None,
                 track: bool = False, preload_on_disk: bool | None = None):
        #: plugged into the loop, and whether the MISCONF check runs before every command
        #: (set first: the two statuses below are properties that look at them)
        self._attached = False
        #: plugs feed_expired into the active expire cycle (set by attach_persistence, called
        #: once by _plug_expired): only the AOF, the fault model's log and a child's
        #: copy-on-write use the DEL the cycle propagates, so until one of them exists the
        #: cycle builds no DEL line and makes no call per key
        self.hook_expired: Callable[[], None] | None = None
        self._misconf_hooked = False
        #: attach_light's hook while it stands in for the model, and whether FLUSHALL's
        #: foreground save is hooked (only with save points)
        self._light: Callable[[Any, list, float], tuple[float, Any]] | None = None
        self._flushall_hooked = False
        self._lastbgsave_status_ok = self._aof_bio_fsync_ok = True
        self.env = env
        self.loop = loop
        self.ks = keyspace
        self.cfg = config
        self.device = device
        self.costs = costs or default_costs()
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.trace = trace
        self.track = track

        self.saveparams = parse_save(config.save)
        #: ``aof_state != AOF_OFF``: the AOF is on, or waiting for the rewrite that starts it
        self.aof_on = bool(config.appendonly)
        #: ``aof_state == AOF_WAIT_REWRITE``: turned on by CONFIG SET, the AOF exists once
        #: the rewrite that writes its base is done (set_appendonly)
        self.aof_wait_rewrite = False
        #: ``aof_fd != -1``: an INCR file is open (a rewrite then fsyncs and closes it)
        self._aof_fd_open = self.aof_on
        #: the AOF's beforeSleep flush and the kernel's writeback of it are plugged in
        self._aof_hooked = False
        #: what the config file says: a restart loads the AOF or dump.rdb by it, whatever
        #: CONFIG SET made of the running process's (the engine reads its CONFIG's, which
        #: CONFIG REWRITE updates)
        self.file_appendonly: Callable[[], bool] = lambda: bool(config.appendonly)
        #: gives a keyspace the config file's encoding limits (hash-max-listpack-entries and
        #: -value, list-max-listpack-size), under which a restarted process loads its data;
        #: the engine points it at the config file (by default: the limits are left alone)
        self.file_limits: Callable[[Keyspace], None] = lambda ks: None
        #: an AOF is on disk (its manifest): since the start with appendonly yes, or once
        #: the rewrite of one turned on by CONFIG SET is done; turning it off leaves it
        self.aof_exists = self.aof_on
        #: CONFIG SET appendonly changed the AOF during the run (then a restart's source
        #: can differ from what the process ran with)
        self._aof_toggled = False
        self.appendfsync: str = config.appendfsync
        self.no_fsync_on_rewrite = bool(config.no_appendfsync_on_rewrite)
        self.stop_writes_on_bgsave_err = bool(config.stop_writes_on_bgsave_error)
        self.rdbcompression = bool(config.rdbcompression)
        self.aof_rewrite_perc = int(config.auto_aof_rewrite_percentage)
        self.aof_rewrite_min_size = int(config.auto_aof_rewrite_min_size)

        c = self.costs
        self.c_write = c.aof_write_us * 1e-6
        self.c_write_byte = c.aof_write_per_kb_us * 1e-6 / 1024

        # --- server.dirty, save points, RDB status (server.h) -------------------------------
        self.dirty = 0
        self.dirty_before_bgsave = 0
        self.lastsave = EPOCH_S              # initServer: lastsave = time(NULL)
        self.lastbgsave_try = 0
        self.lastbgsave_status_ok = True
        self.rdb_bgsave_scheduled = False
        self.rdb_saves = 0
        #: ``rdb_save_time_start`` / ``_last``: Unix seconds (time(NULL)) when the running
        #: BGSAVE forked, and how many of them the last one took, as INFO shows them (-1:
        #: none; SAVE sets neither)
        self.rdb_save_time_start = -1
        self.rdb_last_bgsave_time_sec = -1
        self.rdb_last_cow_size = 0
        self.aof_last_cow_size = 0
        self.latest_fork_usec = 0
        self.total_forks = 0
        self.stat_fork_time = 0.0
        self._reset_cpu()
        #: (t_fork, stall seconds, used_memory) of every fork, for tests and reports
        self.forks: list[tuple[float, float, int]] = []
        #: (t_start, kind, reason) of every save/rewrite started, for tests
        self.saves_started: list[tuple[float, str, str]] = []

        # --- the child -------------------------------------------------------------------
        self.child: _Child | None = None
        #: True while a fork child exists: no LRU/LFU updates, no dict resizing
        self._child_active = False

        # --- AOF state -------------------------------------------------------------------
        self.aof_buf_len = 0
        self.aof_buf_seq = 0                 # last change fed to aof_buf
        self.aof_selected_db = -1
        self.aof_current_size = 0
        self.aof_rewrite_base_size = 0
        self.aof_last_incr_size = 0
        self.aof_last_incr_fsync_offset = 0
        self.aof_last_fsync = EPOCH_S
        self.aof_flush_postponed_start = 0
        self.aof_delayed_fsync = 0
        self.aof_rewrite_scheduled = False
        self.aof_rewrites = 0
        #: ``aof_rewrite_time_start`` / ``_last``: Unix seconds (time(NULL)) when the running
        #: rewrite forked, and how many of them the last one took, as INFO shows them (-1:
        #: none)
        self.aof_rewrite_time_start = -1
        self.aof_rewrite_time_last = -1
        self.aof_lastbgrewrite_ok = True
        self.aof_bio_fsync_ok = True
        self.bio_fsync_pending = False       # aofFsyncInProgress()
        self.aof_fsyncs = 0
        self.aof_writes = 0

        # --- durability (logical AOF stream: byte offset and change seq) -----------------
        self.seq = 0                         # changes so far (server.dirty never resets)
        self.written_off = 0                 # bytes in the page cache (write(2) done)
        self.written_seq = 0
        self.durable_off = 0                 # bytes on the device (fsync / writeback done)
        self.durable_seq = 0
        #: (local time, seq) marks: when the AOF got written / durable up to seq
        self._written_marks: deque[tuple[float, int]] = deque([(0.0, 0)])
        self._durable_marks: deque[tuple[float, int]] = deque([(0.0, 0)])
        self.dirtied_when: float | None = None   # inode->dirtied_when of the AOF file
        self.disk_free = 0.0                 # the device is busy until this time
        self.disk_error_windows: list[tuple[float, float]] = []
        #: called with the time Redis exits on an unrecoverable AOF error (faults.py sets it)
        self.on_fatal: Callable[[float], None] | None = None
        #: the engine's used_memory accounting (server/maxmemory.py MaxMemory) if any: its
        #: used_memory() is used when it tracks every key, and its child_active flag is kept
        self.memory: Any = None
        self._cmd_cache: dict[Any, tuple[str | None, Any]] = {}
        self.fsync_error_exit: float | None = None
        self._epoch = 0          # +1 when the process dies (stale BIO completions are dropped)
        self._kernel_epoch = 0   # +1 when the machine dies (stale writebacks are dropped)
        #: completed snapshots that are on disk: (t_exit, fork seq) (dump.rdb)
        self.snapshots: list[tuple[float, int]] = []
        self.aof_base_seq = 0

        # --- acknowledgements ------------------------------------------------------------
        self._sent: dict[int, int] = {}      # conn id -> replies written so far
        self._pending_acks: dict[int, deque[tuple[int, int, float]]] = {}
        self.ack_seq = array("q")            # seq of each acknowledged write
        self.ack_recv = array("d")           # when its reply reached the client
        self.ack_exec = array("d")           # when it ran
        self.acked_writes = 0
        self._prune_at = 1 << 20

        # --- the durable dataset for restarts (track=True) -------------------------------
        has_data = any(d.data for d in keyspace.dbs)
        if preload_on_disk is None:
            preload_on_disk = self.aof_on or bool(self.saveparams)
        self.preload_on_disk = preload_on_disk and has_data
        #: the content a restart loads: a lagging keyspace for the AOF, snapshots for RDB
        self.shadow: Keyspace | None = None
        self.shadow_seq = 0
        self._log: deque[tuple[int, int, list[list[bytes]], int]] = deque()
        self.snapshot_data: dict[int, list[tuple[dict, dict]]] = {}
        if self.preload_on_disk:
            self.snapshots.append((0.0, 0))
        if track:
            if self.aof_on:
                self.shadow = Keyspace(len(keyspace.dbs))
                if self.preload_on_disk:
                    restore_dataset(self.shadow, copy_dataset(keyspace))
            if self.preload_on_disk:
                self.snapshot_data[0] = copy_dataset(keyspace)
        if self.aof_on:
            # At startup the AOF's BASE holds the loaded dataset (aof-use-rdb-preamble).
            base = self.rdb_size() if self.preload_on_disk else 0
            self.aof_current_size = base
            self.aof_rewrite_base_size = base

    @property
    def child_active(self) -> bool:
        """True while a fork child exists (no LRU/LFU updates, no dict resizing)."""
        return self._child_active

    @child_active.setter
    def child_active(self, value: bool) -> None:
        self._child_active = value
        if self.memory is not None:
            self.memory.child_active = value

    # ================================================================== estimates
    def used_memory(self) -> int:
        """used_memory: the engine's exact accounting (``server/maxmemory.py``); a model used
        on its own, without the engine, estimates it from the keyspace: startup memory + keys
        x mean allocation per key (sampled, ``memory.key_alloc_sizes``) + bucket arrays."""
        m = self.memory
        if m is not None:
            return int(m.measure())
        total = EMPTY_SERVER_USED_MEMORY_DEBIAN_7_0_15 + FUNCTIONS_CACHES_DEBIAN_7_0_15
        for d in self.ks.dbs:
            n = len(d.data)
            if not n:
                continue
            sample = _sample(d.data)
            exp = d.exp
            per = sum(key_alloc_sizes(len(k), _mem_value_len(v), has_ttl=k in exp)
                      for k, v in sample) / len(sample)
            total += int(per * n) + bucket_array_alloc(table_size_for(n))
            if exp:
                total += bucket_array_alloc(table_size_for(len(exp)))
        return total

    def rdb_size(self) -> int:
        """Size of an RDB of the current dataset (:func:`rdb_file_size`)."""
        return rdb_file_size(self.ks, self.rdbcompression)

    def rdb_save_work(self) -> tuple[int, float]:
        """(bytes, CPU seconds) of writing an RDB of the current dataset: the size from
        :func:`rdb_estimate`, the CPU from the cost profile's ``rdb-save-*`` and ``lzf-*``
        figures (serialising, CRC64, write(2), LZF)."""
        est = rdb_estimate(self.ks, self.rdbcompression)
        c = self.costs
        cpu_us = (est.keys * c.rdb_save_per_key_us
                  + (est.nbytes * c.rdb_save_per_kb_us + est.lzf_literal * c.lzf_literal_per_kb_us
                     + est.lzf_matched * c.lzf_matched_per_kb_us) / 1024)
        return est.nbytes, cpu_us * 1e-6

    def keys(self) -> int:
        return sum(len(d.data) for d in self.ks.dbs)

    # ================================================================== the disk
    def disk_failing(self, t0: float, t1: float) -> bool:
        return any(a < t1 and t0 < b for a, b in self.disk_error_windows)

    def _disk_op(self, t: float, nbytes: int, fsync: bool) -> tuple[float, float]:
        """Queue ``nbytes`` of writes (and a cache flush) on the device from ``t``:
        returns (start, end). The device serves one stream at a time (FIFO)."""
        dev = self.device
        start = max(t, self.disk_free)
        service = dev.write_service_time(nbytes) if nbytes else 0.0
        st = dev.stats
        if nbytes:
            st.writes += 1
            st.bytes_written += nbytes
        if fsync:
            service += dev.spec.fsync_latency.sample(self.rng)
            st.fsyncs += 1
        st.busy_time_s += service
        end = start + service
        self.disk_free = end
        return start, end

    def _later(self, t: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` at simulated time ``t`` (>= now)."""
        self.env.timeout(max(0.0, t - self.env.now)).callbacks.append(lambda _e: fn())

    # ================================================================== marks
    @staticmethod
    def _mark(marks: deque[tuple[float, int]], t: float, seq: int, now: float) -> None:
        marks.append((t, seq))
        # Keep one mark at or before now: earlier ones can no longer be asked for.
        while len(marks) > 1 and marks[1][0] <= now:
            marks.popleft()

    @staticmethod
    def _seq_at(marks: Iterable[tuple[float, int]], t: float) -> int:
        best = 0
        for tm, s in marks:
            if tm <= t and s > best:
                best = s
        return best

    def written_seq_at(self, t: float) -> int:
        """Last change in the page cache at time ``t`` (survives a process crash)."""
        return self._seq_at(self._written_marks, t)

    def durable_seq_at(self, t: float) -> int:
        """Last change on the device at time ``t`` (survives a power loss)."""
        return self._seq_at(self._durable_marks, t)

    def _set_durable(self, t: float, off: int, seq: int) -> None:
        if off > self.durable_off:
            self.durable_off = off
        if seq > self.durable_seq:
            self.durable_seq = seq
            self._mark(self._durable_marks, t, seq, self.env.now)
            self._advance_shadow()

    # ================================================================== CPU accounts
    def reset_stats(self) -> None:
        """CONFIG RESETSTAT's share here (``resetServerStats``): the saves, rewrites and forks
        counted, the last fork's time, the delayed fsyncs."""
        self.rdb_saves = 0
        self.aof_rewrites = 0
        self.latest_fork_usec = 0
        self.total_forks = 0
        self.stat_fork_time = 0.0
        self.aof_delayed_fsync = 0

    def _reset_cpu(self) -> None:
        """This process's time on the loop's clock by kind, for INFO's CPU section (the
        loop's cpu_fields): waits on the disk (not CPU), forks' stalls, the AOF's write(2)s,
        SAVE's serialising, a restarted process's loading; and the CPU of the children
        reaped. A restarted process starts them from zero."""
        self.cpu_wait = 0.0
        self.cpu_fork = 0.0
        self.cpu_aof_write = 0.0
        self.cpu_save_work = 0.0
        self.cpu_children = 0.0
        #: a restarted process's startup and loading (set by faults.py once it serves)
        self.cpu_load = 0.0

    def cpu_account(self) -> dict[str, float]:
        return {"wait": self.cpu_wait, "fork": self.cpu_fork, "syscalls": self.cpu_aof_write,
                "child_work": self.cpu_save_work, "children": self.cpu_children,
                "load": self.cpu_load}

    # ================================================================== hooks
    def attach_light(self) -> None:
        """Only answer BGSAVE/SAVE/BGREWRITEAOF/LASTSAVE (one set lookup per command); the
        first of them plugs the whole model in. For servers with no AOF and no save points."""
        own = frozenset(n.encode() for n in OWN_COMMANDS) | frozenset(
            n.upper().encode() for n in OWN_COMMANDS)
        loop = self.loop

        def light(conn: Any, args: list, t: float) -> tuple[float, Any]:
            if not args or args[0] not in own:
                return t, None
            self.attach()
            return self.before_command(conn, args, t)

        self._light = light
        loop.add_before_command(light, names=OWN_COMMANDS)

    def attach(self) -> None:
        """Plug into the event loop (hooks, INFO)."""
        loop = self.loop
        if self._light is not None:
            loop.remove_before_command(self._light)
            self._light = None
        # BGSAVE & co. are looked at before their own commands only; the MISCONF check of
        # writes runs before every command only while a save or fsync is failing.
        loop.add_before_command(self.before_command, names=OWN_COMMANDS)
        if self.saveparams:
            loop.add_before_command(self.before_flushall, names=("flushall",))
            self._flushall_hooked = True
        self._attached = True
        if self.aof_on or self.track:
            self._plug_expired()
        self._misconf_changed()
        # after the loop's own after_command (maxmemory's accounting), as a direct call
        loop.propagate = self
        loop.cron_hooks.append(self.cron)
        if self.aof_on:
            self._hook_aof()
        if self.track:
            loop.reply_hooks.append(self.on_replies)
        loop.info_providers.append(self.info_fields)
        loop.cpu_accounts.append(self.cpu_account)
        loop.restart_hooks.append(self._reset_cpu)

    def _hook_aof(self) -> None:
        """Plug in what only an AOF needs: beforeSleep's flush, the kernel's writeback of the
        file, and the DELs the active expire cycle propagates."""
        if self._aof_hooked:
            return
        self._aof_hooked = True
        self.loop.before_sleep_hooks.append(self.before_sleep)
        self.env.process(self._kernel_writeback())
        self._plug_expired()

    def set_appendonly(self, on: bool, t: float) -> float:
        """CONFIG SET appendonly (config.c ``updateAppendonly``): ``startAppendOnly`` or
        ``stopAppendOnly``, inside the command. Returns when the loop can go on: after the
        rewrite's fork when turned on, after the final write and fsync when turned off."""
        if on == self.aof_on:
            return t
        self._aof_toggled = True
        return self._start_aof(t) if on else self._stop_aof(t)

    def _start_aof(self, t: float) -> float:
        """``startAppendOnly``: the AOF waits for a rewrite, which writes its base (the
        dataset as it is at the fork). Until the rewrite is done there is no AOF to load, so
        writes reach the new INCR file only while the rewrite's child runs; a running BGSAVE
        makes the rewrite wait for it (scheduled, started by serverCron); a rewrite already
        running was not collecting the writes, so it is killed and a new one started."""
        if not self._attached:
            self.attach()
        self.aof_on = True
        self.aof_wait_rewrite = True
        self._hook_aof()
        child = self.child
        if child is not None and child.kind != AOF:
            self.aof_rewrite_scheduled = True
        else:
            if child is not None:
                self._kill_child()
            t = self._start_rewrite(t, "appendonly")
        self.aof_last_fsync = unix_s(t)
        self.aof_bio_fsync_ok = True  # an earlier fsync error is forgotten (logged)
        return t

    def _stop_aof(self, t: float) -> float:
        """``stopAppendOnly``: write what aof_buf holds, fsync the file on the main thread
        (the loop waits for the device), close it, and kill a rewrite in progress."""
        t = self.flush(t, force=True)
        t_io = t
        start, t = self._disk_op(t, max(0, self.written_off - self.durable_off), True)
        self.cpu_wait += t - t_io
        self.aof_fsyncs += 1
        if not self.disk_failing(start, t):
            self.aof_last_fsync = unix_s(t)
            self.dirtied_when = None
            self._set_durable(t, self.written_off, self.written_seq)
        self.aof_on = self.aof_wait_rewrite = self._aof_fd_open = False
        self.aof_selected_db = -1
        self.aof_rewrite_scheduled = False
        self.aof_last_incr_size = 0
        self.aof_last_incr_fsync_offset = 0
        self.aof_flush_postponed_start = 0
        self.aof_buf_len = 0
        if self.child is not None and self.child.kind == AOF:
            self._kill_child()
        return t

    def _kill_child(self) -> None:
        """``killAppendOnlyChild``: SIGUSR1 and waitpid; the child's file is removed, its
        CPU so far joins RUSAGE_CHILDREN, and no error is recorded."""
        self._reap()
        self.aof_rewrite_time_start = -1
        if self.trace is not None:
            self.trace.emit(self.env.now, tr.K_SNAPSHOT, -1, -1.0)

    def set_save(self, saveparams: list[tuple[int, int]]) -> None:
        """CONFIG SET save: new save points, read by the next serverCron. A server that ran
        without AOF, save points and faults had only the light hook (attach_light), which
        counted no writes: the model is plugged in now, and ``dirty`` counts from here."""
        self.saveparams = list(saveparams)
        if not saveparams:
            return
        if not self._attached:
            self.attach()
        elif not self._flushall_hooked:
            self.loop.add_before_command(self.before_flushall, names=("flushall",))
            self._flushall_hooked = True

    # The two statuses behind MISCONF: setting either plugs the check in or out.
    @property
    def lastbgsave_status_ok(self) -> bool:
        return self._lastbgsave_status_ok

    @lastbgsave_status_ok.setter
    def lastbgsave_status_ok(self, ok: bool) -> None:
        self._lastbgsave_status_ok = ok
        self._misconf_changed()

    @property
    def aof_bio_fsync_ok(self) -> bool:
        return self._aof_bio_fsync_ok

    @aof_bio_fsync_ok.setter
    def aof_bio_fsync_ok(self, ok: bool) -> None:
        self._aof_bio_fsync_ok = ok
        self._misconf_changed()

    def _misconf_changed(self) -> None:
        if not self._attached:
            return
        need = not (self._lastbgsave_status_ok and self._aof_bio_fsync_ok)
        if need and not self._misconf_hooked:
            self.loop.add_before_command(self.misconf_check)
        elif not need and self._misconf_hooked:
            self.loop.remove_before_command(self.misconf_check)
        self._misconf_hooked = need

    def misconf_check(self, conn: Any, args: list, t: float) -> tuple[float, Any]:
        """processCommand's ``writeCommandsDeniedByDiskError`` check (not for own commands,
        which ``before_command`` answers)."""
        if not args:
            return t, None
        raw = args[0]
        entry = self._cmd_cache.get(raw)
        if entry is None:
            entry = self._classify(raw)
        own, checked = entry
        if own is not None or checked is None:
            return t, None
        return self.before_command(conn, args, t)

    # ---------------------------------------------------------------- processCommand
    def before_command(self, conn: Any, args: list, t: float) -> tuple[float, Any]:
        """BGSAVE/SAVE/BGREWRITEAOF/LASTSAVE, and the MISCONF rejection of writes."""
        if not args:
            return t, None
        raw = args[0]
        entry = self._cmd_cache.get(raw)
        if entry is None:
            entry = self._classify(raw)
        own, checked = entry
        if own is not None:
            arity = OWN_COMMANDS[own]
            if (len(args) != arity) if arity > 0 else (len(args) < -arity):
                return t, ReplyError(f"ERR wrong number of arguments for '{own}' command",
                                     rejected=True)
            t += self.loop.c_default
            return self._own_command(own, args, t)
        if checked is None or (self.lastbgsave_status_ok and self.aof_bio_fsync_ok):
            return t, None
        # processCommand: unknown command and arity errors come before the MISCONF check.
        if not arity_ok(checked, len(args)):
            return t, None
        err = self.disk_error_reply()
        return t, err

    def before_flushall(self, conn: Any, args: list, t: float) -> tuple[float, Any]:
        """The time of FLUSHALL's foreground save (``flushAllDataAndResetRDB`` with save
        points: ``rdbSave`` of the emptied dataset, its write and fsync on the main thread),
        charged before the command runs: nothing else runs in between, so the reply and
        every later command wait the same. The bookkeeping is ``_flushall``'s, after it."""
        if self.disk_error_reply() is not None:
            return t, None  # refused with MISCONF: no save
        if isinstance(self.ks.flush_flags(args), ReplyError):
            return t, None  # getFlushCommandFlags' syntax error: the command stops there
        cpu = self.rdb_save_work_empty()
        _start, end = self._disk_op(t + cpu, RDB_EMPTY_BYTES, True)
        self.cpu_save_work += cpu
        self.cpu_wait += end - (t + cpu)
        return end, None

    def rdb_save_work_empty(self) -> float:
        """CPU seconds of writing an RDB with no keys (the header, aux fields, trailer)."""
        return RDB_EMPTY_BYTES * self.costs.rdb_save_per_kb_us / 1024 * 1e-6

    def _classify(self, raw: Any) -> tuple[str | None, Any]:
        """(own command name or None, the spec if MISCONF applies to it: writes and PING)."""
        name = (raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)).lower()
        if name in OWN_COMMANDS:
            entry: tuple[str | None, Any] = (name, None)
        else:
            spec = lookup_command(raw)
            entry = (None, spec if spec is not None and (spec.write or spec.name == "ping")
                     else None)
        if len(self._cmd_cache) < 4096:
            self._cmd_cache[raw] = entry
        return entry

    def disk_error_reply(self) -> ReplyError | None:
        """``writeCommandsDeniedByDiskError`` + ``writeCommandsGetDiskErrorMessage``."""
        if self.stop_writes_on_bgsave_err and self.saveparams and not self.lastbgsave_status_ok:
            return MISCONF_RDB
        if self.aof_on and not self.aof_bio_fsync_ok:
            return ReplyError(f"MISCONF Errors writing to the AOF file: {EIO_TEXT}",
                              rejected=True)
        return None

    def _own_command(self, name: str, args: list, t: float) -> tuple[float, Any]:
        if name == "lastsave":
            return t, self.lastsave
        if name == "bgsave":
            schedule = False
            if len(args) > 1:
                if len(args) == 2 and _word(args[1]) == "schedule":
                    schedule = True
                else:
                    return t, E_SYNTAX
            if self.child is not None and self.child.kind == RDB:
                return t, E_BGSAVE_RUNNING
            if self.child is not None:
                if schedule:
                    self.rdb_bgsave_scheduled = True
                    return t, "Background saving scheduled"
                return t, E_OTHER_CHILD
            t = self._fork(t, RDB, "bgsave")
            return t, "Background saving started"
        if name == "bgrewriteaof":
            if self.child is not None and self.child.kind == AOF:
                return t, E_REWRITE_RUNNING
            if self.child is not None:
                self.aof_rewrite_scheduled = True
                return t, "Background append only file rewriting scheduled"
            t = self._start_rewrite(t, "bgrewriteaof")
            return t, "Background append only file rewriting started"
        # SAVE: a foreground rdbSave on the main thread.
        if self.child is not None and self.child.kind == RDB:
            return t, E_BGSAVE_RUNNING
        return self._save_foreground(t)

    def _save_foreground(self, t: float) -> tuple[float, Any]:
        self.rdb_saves += 1
        nbytes, cpu = self.rdb_save_work()
        fork_seq = self.seq
        dataset = copy_dataset(self.ks) if self.track else None
        self.saves_started.append((t, RDB, "save"))
        ok = True
        done = 0
        while done < nbytes:
            chunk = min(REDIS_AUTOSYNC_BYTES, nbytes - done)
            t += cpu * chunk / nbytes  # the main thread serialises this chunk, then fsyncs
            self.cpu_save_work += cpu * chunk / nbytes
            t_io = t
            start, t = self._disk_op(t, chunk, True)
            self.cpu_wait += t - t_io
            if self.disk_failing(start, t):
                ok = False
                break
            done += chunk
        if ok:
            t_io = t
            start, t = self._disk_op(t, 0, True)
            self.cpu_wait += t - t_io
            ok = not self.disk_failing(start, t)
        if not ok:
            self.lastbgsave_status_ok = False
            return t, E_GENERIC
        self.dirty = 0
        self.lastsave = unix_s(t)
        self.lastbgsave_status_ok = True
        self.snapshots.append((t, fork_seq))
        if dataset is not None:
            self.snapshot_data[fork_seq] = dataset
        return t, "OK"

    # ---------------------------------------------------------------- call() -> propagate
    def after_command(self, conn: Any, args: list, t: float) -> None:
        fx = self.ks.effects
        if not self.aof_on and not self.track and (self.child is None or self.child.exited):
            # Save points alone need only the dirty counter (and FLUSHALL's foreground
            # save): skip building the propagated command lines, on the per-command path.
            dirty = fx.dirty
            if dirty:
                self.dirty += dirty
                self.seq += 1
            if fx.cmd is _FLUSHALL and not fx.error:
                self._flushall(t)
            return
        ops = fx.propagate
        if ops is None:
            return
        self.dirty += fx.dirty
        self.seq += 1
        seq = self.seq
        if fx.name == "flushall":
            self._flushall(t)
        if self.aof_on and (not self.aof_wait_rewrite or self._rewrite_collecting()):
            self._feed(fx.db, ops, seq)
        if self.child is not None and not self.child.exited:
            self._cow(fx)
        if not self.track:
            return
        if self.shadow is not None and self.aof_on:
            self._log.append((seq, fx.db, ops, unix_ms(t)))
        if fx.dirty:
            # The reply goes to index sent + len(out) of this connection's reply stream.
            cid = conn.id
            q = self._pending_acks.get(cid)
            if q is None:
                q = self._pending_acks[cid] = deque()
            q.append((self._sent.get(cid, 0) + len(conn.out), seq, t))

    def _flushall(self, t: float) -> None:
        """``flushAllDataAndResetRDB``: kill an RDB child; with save points, save the (now
        empty) dataset in the foreground (its time was charged by ``before_flushall``)."""
        if self.child is not None and self.child.kind == RDB:
            self.child = None
            self.child_active = False
            self.ks.set_resize_allowed(True)
            # killRDBChild sends SIGUSR1, which the done handler does not count as an error;
            # it runs at the next serverCron in Redis, and sets the save's time (taken here)
            self.rdb_last_bgsave_time_sec = unix_s(t) - self.rdb_save_time_start
            self.rdb_save_time_start = -1
        if self.saveparams:
            self.rdb_saves += 1
            self.dirty = 0
            self.lastsave = unix_s(t)
            self.lastbgsave_status_ok = True
            self.snapshots.append((t, self.seq))
            if self.track:
                self.snapshot_data[self.seq] = [({}, {}) for _ in self.ks.dbs]
                self._prune_snapshots()

    def _plug_expired(self) -> None:
        hook = self.hook_expired
        if hook is not None:
            self.hook_expired = None
            hook()

    def feed_expired(self, db: int, argv: list[bytes], t: float) -> None:
        """A DEL propagated by the active expire cycle (``ActiveExpire.on_expired``).

        Plugged in only once something uses it (see ``hook_expired``): before that the keys
        the cycle deletes do not advance ``seq``, which orders only what the AOF and the
        fault model's recovery read."""
        self.seq += 1
        if self.aof_on and (not self.aof_wait_rewrite or self._rewrite_collecting()):
            self._feed(db, [argv], self.seq)
        if self.child is not None and not self.child.exited:
            self._cow_keys(db, [argv[1]])
        if self.track and self.shadow is not None and self.aof_on:
            self._log.append((self.seq, db, [argv], unix_ms(t)))

    def _rewrite_collecting(self) -> bool:
        """Whether ``feedAppendOnlyFile`` appends to aof_buf while the AOF waits for its first
        rewrite (once the AOF exists it always does): only while that rewrite runs, not while
        it waits for a BGSAVE to end. (Asked only then: the per-command path reads one flag.)"""
        child = self.child
        return child is not None and child.kind == AOF

    def _feed(self, db: int, ops: list[list[bytes]], seq: int) -> None:
        """``feedAppendOnlyFile``: SELECT if the db changed, then the RESP of each op."""
        n = 0
        if db != self.aof_selected_db:
            n += _select_size(db)
            self.aof_selected_db = db
        for op in ops:
            n += resp_size(op)
        self.aof_buf_len += n
        self.aof_buf_seq = seq

    def on_replies(self, conn: Any, sent: list, t_recv: float) -> None:
        """Replies reached the client at ``t_recv``: writes among them are acknowledged."""
        if not self.track:
            return
        cid = conn.id
        total = self._sent.get(cid, 0) + len(sent)
        self._sent[cid] = total
        q = self._pending_acks.get(cid)
        if not q:
            return
        while q and q[0][0] < total:
            _, seq, t_exec = q.popleft()
            self.ack_seq.append(seq)
            self.ack_recv.append(t_recv)
            self.ack_exec.append(t_exec)
            self.acked_writes += 1
        if len(self.ack_seq) >= self._prune_at:
            self._prune_acks()
            self._prune_at = max(1 << 20, 2 * len(self.ack_seq))

    # ---------------------------------------------------------------- COW
    def _cow(self, fx: Any) -> None:
        keys = list(fx.touched) + list(fx.deleted) + list(fx.expired)
        if keys:
            self._cow_keys(fx.db, keys)

    def _cow_keys(self, db: int, keys: Iterable[bytes]) -> None:
        """Pages written while the child runs: each key lives at a fixed page (hash of db and
        key); a value bigger than a page spans the following pages."""
        child = self.child
        assert child is not None
        pages = child.cow_pages
        n_pages = child.n_pages
        data = self.ks.dbs[db].data
        salt = db * 0x9E3779B1
        for k in keys:
            p = (zlib.crc32(k) ^ salt) % n_pages
            v = data.get(k)
            span = 1 + (len(v) // PAGE_SIZE if isinstance(v, bytes) else 0)
            for i in range(min(span, n_pages)):
                pages.add((p + i) % n_pages)

    def current_cow_size(self) -> int:
        c = self.child
        return len(c.cow_pages) * PAGE_SIZE if c is not None else 0

    # ---------------------------------------------------------------- fork and children
    def _fork(self, t: float, kind: str, reason: str) -> float:
        """``redisFork``: the parent is blocked while the page tables are copied."""
        used = self.used_memory()
        c = self.costs
        stall = c.fork_base_us * 1e-6 + c.fork_ms_per_gb * 1e-3 * used / GIB
        t_fork = t
        t += stall
        self.latest_fork_usec = int(stall * 1e6)
        self.total_forks += 1
        self.stat_fork_time += stall
        self.cpu_fork += stall
        self.forks.append((t_fork, stall, used))
        if self.trace is not None:
            self.trace.emit(t_fork, tr.K_FORK, -1, stall)
            if kind == AOF:
                self.trace.emit(t_fork, tr.K_REWRITE, -1, reason)
        # An RDB file, or the BASE of the AOF rewrite (aof-use-rdb-preamble yes).
        nbytes, cpu = self.rdb_save_work()
        if kind == RDB:
            self.dirty_before_bgsave = self.dirty
            self.lastbgsave_try = unix_s(t_fork)
            self.rdb_save_time_start = unix_s(t)  # (time(NULL) once the fork returned)
        child = _Child(kind, t_fork, t, nbytes, self.seq, used, self.keys(), cpu)
        if self.track and kind == RDB:  # (even with the AOF on: a restart may load it)
            child.dataset = copy_dataset(self.ks)
        self.child = child
        self.child_active = True
        self._plug_expired()  # the keys the cycle deletes now copy their pages
        self.ks.set_resize_allowed(False)  # updateDictResizePolicy: avoid while a child runs
        self.saves_started.append((t_fork, kind, reason))
        self.env.process(self._child_proc(child))
        return t

    def _running(self, child: _Child) -> bool:
        """Whether ``child`` is still the server's child (not killed)."""
        return self.child is child

    def _child_proc(self, child: _Child):
        """The child: serialises the dataset and writes the file in 4 MB chunks, each
        followed by an fsync (``rdb-save-incremental-fsync``). One thread does both, so
        its CPU and the device's time add up; it runs on another core than the loop."""
        env = self.env
        if child.t_start > env.now:
            yield env.timeout(child.t_start - env.now)
        ok = True
        # (each check asks _running: mypyc would take ``self.child`` to keep, across the
        # yields, the type the first ``is not`` narrowed it to, and fail on None)
        while child.written < child.nbytes:
            if not self._running(child):
                return  # killed (a crash, or the AOF turned off during its rewrite)
            chunk = min(REDIS_AUTOSYNC_BYTES, child.nbytes - child.written)
            if child.cpu_s > 0:
                yield env.timeout(child.cpu_s * chunk / child.nbytes)
                if not self._running(child):
                    return
            start, end = self._disk_op(env.now, chunk, True)
            yield env.timeout(end - env.now)
            if not self._running(child):
                return
            if self.disk_failing(start, end):
                ok = False
                break
            child.written += chunk
            if self.trace is not None:
                self.trace.emit(env.now, tr.K_SNAPSHOT, -1, child.written / child.nbytes)
        child.ok = ok
        child.exited = True
        child.t_exit = env.now
        if ok and child.kind == RDB:
            # fsync + rename done by the child: dump.rdb is on disk from now on.
            self.snapshots.append((env.now, child.fork_seq))
            if child.dataset is not None:
                self.snapshot_data[child.fork_seq] = child.dataset
                child.dataset = None
                self._prune_snapshots()

    def _prune_snapshots(self) -> None:
        keep = max(self.snapshot_data)
        for s in list(self.snapshot_data):
            if s != keep:
                del self.snapshot_data[s]

    def _reap(self) -> _Child:
        """``waitpid`` of the child, done or killed: resizing is allowed again, and its CPU
        joins RUSAGE_CHILDREN (a child stopped early, by a disk error or a kill, did part)."""
        child = self.child
        assert child is not None
        self.child = None
        self.child_active = False
        self.ks.set_resize_allowed(True)
        done = child.written / child.nbytes if child.nbytes else 1.0
        self.cpu_children += child.cpu_s * min(1.0, done)
        return child

    def _child_done(self, t: float) -> None:
        """``checkChildrenDone`` -> ``backgroundSaveDoneHandler`` / ``backgroundRewriteDone``."""
        child = self._reap()
        cow = len(child.cow_pages) * PAGE_SIZE
        if child.kind == RDB:
            self.rdb_last_cow_size = cow
            self.rdb_last_bgsave_time_sec = unix_s(t) - self.rdb_save_time_start
            self.rdb_save_time_start = -1
            if child.ok:
                self.dirty -= self.dirty_before_bgsave
                self.lastsave = unix_s(t)
                self.lastbgsave_status_ok = True
            else:
                self.lastbgsave_status_ok = False
        else:
            self.aof_last_cow_size = cow
            self.aof_rewrite_time_last = unix_s(t) - self.aof_rewrite_time_start
            self.aof_rewrite_time_start = -1
            if child.ok:
                self.aof_lastbgrewrite_ok = True
                if self.aof_on:
                    self.aof_current_size = child.nbytes + self.aof_last_incr_size
                    self.aof_rewrite_base_size = self.aof_current_size
                    self.aof_base_seq = child.fork_seq
                # the temporary INCR becomes the AOF's: AOF_WAIT_REWRITE -> AOF_ON
                if self.aof_wait_rewrite:
                    self.aof_exists = True
                self.aof_wait_rewrite = False
            else:
                self.aof_lastbgrewrite_ok = False
                if self.aof_wait_rewrite:
                    # the temporary INCR is deleted with its buffer, and a new rewrite is
                    # scheduled: the AOF still waits for one
                    self.aof_buf_len = 0
                    self.aof_rewrite_scheduled = True

    def _start_rewrite(self, t: float, reason: str) -> float:
        """``rewriteAppendOnlyFileBackground``: flush, new INCR file, fork."""
        if self.aof_on:
            self.aof_selected_db = -1
            t = self.flush(t, force=True)
            # openNewIncrAofForAppend: the old INCR (none yet when the AOF was just turned
            # on) is fsynced and closed in the background.
            if self._aof_fd_open and self.appendfsync != "no" and not self.bio_fsync_pending:
                self._start_bio_fsync(t)
            self._aof_fd_open = True
            self.aof_last_incr_size = 0
            self.aof_last_incr_fsync_offset = 0
        self.aof_rewrites += 1
        self.aof_rewrite_scheduled = False
        t = self._fork(t, AOF, reason)
        self.aof_rewrite_time_start = unix_s(t)  # (time(NULL) once the fork returned)
        if self.track and self.aof_wait_rewrite:
            # The new AOF's content for a restart: its base, the dataset at this fork, then
            # the changes logged from here (what came before is in the base).
            shadow = Keyspace(len(self.ks.dbs))
            restore_dataset(shadow, copy_dataset(self.ks))
            self.shadow = shadow
            self.shadow_seq = self.seq
            self._log.clear()
        return t

    # ---------------------------------------------------------------- serverCron
    def cron(self, t: float) -> float:
        """The persistence part of serverCron, in Redis's order."""
        if self.child is None and self.aof_rewrite_scheduled:
            t = self._start_rewrite(t, "scheduled")
        if self.child is not None:
            if self.child.exited and self.child.t_exit <= t:
                self._child_done(t)
        else:
            now_s = unix_s(t)
            forked = False
            for seconds, changes in self.saveparams:
                if self.dirty >= changes and now_s - self.lastsave > seconds and (
                        now_s - self.lastbgsave_try > CONFIG_BGSAVE_RETRY_DELAY
                        or self.lastbgsave_status_ok):
                    t = self._fork(t, RDB, f"save {seconds} {changes}")
                    forked = True
                    break
            # (a flag, not ``self.child is None``: in this branch the compiled code takes
            # the attribute to be None, as mypy narrowed it, and the fork just set it)
            if (self.aof_on and not self.aof_wait_rewrite and not forked and self.aof_rewrite_perc
                    and self.aof_current_size > self.aof_rewrite_min_size):
                base = self.aof_rewrite_base_size or 1
                growth = self.aof_current_size * 100 // base - 100
                if growth >= self.aof_rewrite_perc:
                    t = self._start_rewrite(t, f"auto {growth}%")
        if self.aof_on and self.aof_flush_postponed_start:
            t = self.flush(t)
        if self.child is None and self.rdb_bgsave_scheduled:
            now_s = unix_s(t)
            if now_s - self.lastbgsave_try > CONFIG_BGSAVE_RETRY_DELAY or \
                    self.lastbgsave_status_ok:
                self.rdb_bgsave_scheduled = False
                t = self._fork(t, RDB, "scheduled")
        return t

    # ---------------------------------------------------------------- beforeSleep
    def before_sleep(self, t: float) -> float:
        return self.flush(t) if self.aof_on else t

    def flush(self, t: float, force: bool = False) -> float:
        """``flushAppendOnlyFile``: one write(2) of aof_buf, then the policy's fsync."""
        now_s = unix_s(t)
        everysec = self.appendfsync == "everysec"
        if self.aof_buf_len == 0:
            unsynced = self.aof_last_incr_fsync_offset != self.aof_last_incr_size
            if everysec and unsynced and now_s > self.aof_last_fsync \
                    and not self.bio_fsync_pending:
                return self._try_fsync(t, now_s, False)
            if self.appendfsync == "always" and unsynced:
                return self._try_fsync(t, now_s, False)
            return t
        sync_in_progress = everysec and self.bio_fsync_pending
        if everysec and not force and sync_in_progress:
            if self.aof_flush_postponed_start == 0:
                self.aof_flush_postponed_start = now_s
                return t
            if now_s - self.aof_flush_postponed_start < 2:
                return t
            self.aof_delayed_fsync += 1
        # write(2) into the page cache: CPU for the syscall and the copy.
        n = self.aof_buf_len
        cost = self.c_write + n * self.c_write_byte
        t += cost
        self.cpu_aof_write += cost
        self.aof_writes += 1
        self.aof_flush_postponed_start = 0
        self.aof_current_size += n
        self.aof_last_incr_size += n
        self.written_off += n
        self.written_seq = self.aof_buf_seq
        self._mark(self._written_marks, t, self.written_seq, self.env.now)
        if self.dirtied_when is None:
            self.dirtied_when = t
        self.aof_buf_len = 0
        if self.trace is not None:
            self.trace.emit(t, tr.K_AOF_WRITE, -1, n)
        return self._try_fsync(t, now_s, sync_in_progress)

    def _try_fsync(self, t: float, now_s: int, sync_in_progress: bool) -> float:
        if self.no_fsync_on_rewrite and self.child is not None:
            return t
        if self.appendfsync == "always":
            # fdatasync on the main thread: the loop waits behind whatever the device does.
            nbytes = max(0, self.written_off - self.durable_off)
            start, end = self._disk_op(t, nbytes, True)
            if self.trace is not None:
                self.trace.emit(t, tr.K_FSYNC_START, -1, nbytes)
                self.trace.emit(end, tr.K_FSYNC_END, -1, nbytes)
            self.aof_fsyncs += 1
            self.cpu_wait += end - t
            if self.disk_failing(start, end):
                # Redis exits(1) on an fsync error under always: a process crash.
                self.fsync_error_exit = end
                if self.on_fatal is not None:
                    self.on_fatal(end)
                return end
            self.aof_last_incr_fsync_offset = self.aof_last_incr_size
            self.aof_last_fsync = now_s
            self.dirtied_when = None
            self._set_durable(end, self.written_off, self.written_seq)
            return end
        if self.appendfsync == "everysec" and now_s > self.aof_last_fsync:
            if not sync_in_progress and not self.bio_fsync_pending:
                self._start_bio_fsync(t)
                self.aof_last_incr_fsync_offset = self.aof_last_incr_size
            self.aof_last_fsync = now_s
        return t

    def _start_bio_fsync(self, t: float) -> None:
        """``aof_background_fsync``: a job for the BIO thread; it runs on the device queue."""
        self.bio_fsync_pending = True
        off, seq = self.written_off, self.written_seq
        nbytes = max(0, off - self.durable_off)
        start, end = self._disk_op(t, nbytes, True)
        if self.trace is not None:
            self.trace.emit(start, tr.K_FSYNC_START, -1, nbytes)
        epoch = self._epoch

        def done() -> None:
            if epoch != self._epoch:
                return  # the process died meanwhile
            self.bio_fsync_pending = False
            self.aof_fsyncs += 1
            if self.trace is not None:
                self.trace.emit(end, tr.K_FSYNC_END, -1, None)
            if self.disk_failing(start, end):
                self.aof_bio_fsync_ok = False
                return
            self.aof_bio_fsync_ok = True
            if off >= self.written_off:
                self.dirtied_when = None
            self._set_durable(end, off, seq)

        self._later(end, done)

    def _kernel_writeback(self):
        """The kernel flusher: every 5 s, an inode dirty for 30 s is written back whole."""
        env = self.env
        while True:
            yield env.timeout(DIRTY_WRITEBACK_S)
            dw = self.dirtied_when
            if dw is None or dw > env.now - DIRTY_EXPIRE_S:
                continue
            off, seq = self.written_off, self.written_seq
            if off <= self.durable_off:
                self.dirtied_when = None
                continue
            self.dirtied_when = None
            epoch = self._kernel_epoch
            start, end = self._disk_op(env.now, off - self.durable_off, False)
            yield env.timeout(end - env.now)
            if epoch == self._kernel_epoch and not self.disk_failing(start, end):
                self._set_durable(end, off, seq)

    # ================================================================== the durable copy
    def _advance_shadow(self) -> None:
        """Apply to the lagging keyspace the changes that reached the device by now."""
        if self.shadow is None:
            return
        target = self.durable_seq_at(self.env.now)
        self._apply_log(self.shadow, target, consume=True)
        self.shadow_seq = max(self.shadow_seq, target)
        # Acknowledgements of changes that can no longer be lost need no tracking.

    def _apply_log(self, ks: Keyspace, upto: int, consume: bool) -> int:
        """Replay logged changes with seq <= upto into ``ks`` (as AOF loading does)."""
        log = self._log
        applied = 0
        execute = ks.execute
        from redissim.server.keyspace import Session
        sess = Session()
        if consume:
            while log and log[0][0] <= upto:
                _, db, ops, now_ms = log.popleft()
                sess.db = db
                for op in ops:
                    if op[0] not in (b"MULTI", b"EXEC"):
                        execute(op, now_ms, sess)
                        applied += 1
        else:
            for seq, db, ops, now_ms in log:
                if seq > upto:
                    break
                sess.db = db
                for op in ops:
                    if op[0] not in (b"MULTI", b"EXEC"):
                        execute(op, now_ms, sess)
                        applied += 1
        return applied

    def recovery_point(self, t: float, kind: str) -> tuple[str, int]:
        """What a restart after a fault of ``kind`` at ``t`` loads: ("aof"|"rdb"|"none", seq).

        seq = the last change recovered (0 = the preloaded dataset; -1 = nothing at all).

        The config file decides (``loadDataFromDisk``), not what the process ran with: with
        ``appendonly yes`` the AOF, and an empty dataset if there is none yet (turned on by
        CONFIG SET, its first rewrite not done); with ``no`` dump.rdb, even if CONFIG SET had
        turned the AOF on. The AOF holds its base (everything up to the fork of its last
        rewrite) and what was written (a crash) or fsynced (a power loss) after it."""
        if self.file_appendonly():
            if not self.aof_exists:
                return "none", -1
            seq = self.written_seq_at(t) if kind == "crash" else self.durable_seq_at(t)
            return AOF, max(seq, self.aof_base_seq)
        done = [s for te, s in self.snapshots if te <= t]
        if done:
            return RDB, max(done)
        return "none", -1

    # ================================================================== crash and restart
    def kill(self) -> None:
        """The process dies: buffers, the child, the BIO queue and the saves it had
        scheduled vanish."""
        self._epoch += 1
        self.aof_rewrite_scheduled = self.rdb_bgsave_scheduled = False
        self.aof_rewrite_time_start = self.aof_rewrite_time_last = -1
        self.rdb_save_time_start = self.rdb_last_bgsave_time_sec = -1
        self.child = None
        self.child_active = False
        self.ks.set_resize_allowed(True)
        self.aof_buf_len = 0
        self.bio_fsync_pending = False
        self.aof_flush_postponed_start = 0
        self._pending_acks.clear()
        self._sent.clear()

    def power_off(self) -> None:
        """The machine dies too: the page cache is gone, in-flight writeback never lands."""
        self._kernel_epoch += 1
        self.written_off = self.durable_off
        self.dirtied_when = None

    def recover(self, t: float, kind: str) -> dict[str, Any]:
        """Restore the keyspace to what a restart loads; return what was lost and load info.

        Requires ``track=True``."""
        source, seq = self.recovery_point(t, kind)
        lost_count, window = self.lost_acked(t, seq)
        acked = sum(1 for r in self.ack_recv if r <= t)
        loaded_cmds = 0
        # the new process runs with its config file's listpack limits from the load on
        self.file_limits(self.ks)
        if source == AOF:
            assert self.shadow is not None
            work = Keyspace(len(self.ks.dbs))
            work.hash_max_listpack_entries = self.ks.hash_max_listpack_entries
            work.hash_max_listpack_value = self.ks.hash_max_listpack_value
            work.list_max_listpack_size = self.ks.list_max_listpack_size
            # the base (an RDB preamble), then the commands logged after it
            restore_dataset(work, copy_dataset(self.shadow), load=True)
            loaded_cmds = self._apply_log(work, seq, consume=False)
            restore_dataset(self.ks, copy_dataset(work))
        elif source == RDB:
            data = self.snapshot_data.get(seq)
            if data is None:
                raise RuntimeError("no tracked copy of the snapshot (track=False?)")
            restore_dataset(self.ks, data, load=True)
        else:
            restore_dataset(self.ks, [({}, {}) for _ in self.ks.dbs])
        if self.memory is not None and self.memory.tracking:
            self.memory.resync_all()  # the loaded dataset replaced the old one
        keys = self.keys()
        est = rdb_estimate(self.ks, self.rdbcompression)
        rdb_bytes = est.nbytes
        used = self.used_memory()
        # The restarted process: fresh counters, the loaded file as the new baseline.
        recovered = max(seq, 0)
        self.seq = recovered
        self.written_seq = self.durable_seq = self.aof_buf_seq = recovered
        # What was loaded counts as on disk from now on (a simplification for later faults).
        self.written_off = self.durable_off = max(self.written_off, self.durable_off)
        self._restart_aof()
        self._kernel_epoch += 1
        self._written_marks = deque([(t, recovered)])
        self._durable_marks = deque([(t, recovered)])
        self.dirtied_when = None
        if self.shadow is not None:
            restore_dataset(self.shadow, copy_dataset(self.ks))
            self._log.clear()
            self.shadow_seq = recovered
        self._drop_acks()
        self.dirty = 0
        self.aof_selected_db = -1
        if self.aof_on:
            self.aof_current_size = self.aof_current_size if source == AOF else rdb_bytes
            self.aof_last_incr_size = 0
            self.aof_last_incr_fsync_offset = 0
        self.snapshots = [(te, s) for te, s in self.snapshots if s <= recovered]
        for s in [s for s in self.snapshot_data if s > recovered]:
            del self.snapshot_data[s]
        return {"source": source, "seq": seq, "keys": keys, "rdb_bytes": rdb_bytes,
                "lzf_packed": est.lzf_packed, "used_memory": used,
                "aof_commands": loaded_cmds, "acked": acked, "lost": lost_count,
                "window_s": window}

    def _restart_aof(self) -> None:
        """The restarted process's AOF is what its config file says. With ``appendonly
        yes`` it has one from the start (Redis creates it if none was loaded), whose content
        for a later restart is the dataset just loaded. With ``no`` it has none; an AOF an
        earlier process left on disk is forgotten (a simplification: only a later CONFIG SET
        appendonly yes with REWRITE and a crash before its rewrite ends could load it)."""
        on = self.file_appendonly()
        self.aof_on = self._aof_fd_open = self.aof_exists = on
        self.aof_wait_rewrite = False
        if on:
            if self.shadow is None:
                self.shadow = Keyspace(len(self.ks.dbs))  # filled below, as an old one is
            self._hook_aof()
        else:
            self.shadow = None
            self._log.clear()

    def lost_acked(self, t: float, seq: int) -> tuple[int, float]:
        """Acknowledged (reply received by ``t``) writes after ``seq``: count and the loss
        window (``t`` minus when the oldest of them ran)."""
        if not self.ack_seq:
            return 0, 0.0
        s = np.frombuffer(self.ack_seq, dtype=np.int64)
        r = np.frombuffer(self.ack_recv, dtype=np.float64)
        e = np.frombuffer(self.ack_exec, dtype=np.float64)
        lost = (s > seq) & (r <= t)
        n = int(lost.sum())
        if not n:
            return 0, 0.0
        return n, float(t - e[lost].min())

    def _drop_acks(self) -> None:
        self.ack_seq = array("q")
        self.ack_recv = array("d")
        self.ack_exec = array("d")

    def _prune_acks(self) -> None:
        """Forget acknowledgements of changes no fault can lose any more."""
        rdb_floor = max((s for _, s in self.snapshots), default=-1)
        if self._aof_toggled:  # either file may be loaded: keep what either could lose
            floor = min(self.shadow_seq if self.shadow is not None else -1, rdb_floor)
        else:
            floor = self.shadow_seq if self.aof_on else rdb_floor
        if floor <= 0:
            return
        s = np.frombuffer(self.ack_seq, dtype=np.int64)
        keep = s > floor
        if keep.all():
            return
        self.ack_seq = array("q", s[keep].tobytes())
        self.ack_recv = array("d", np.frombuffer(self.ack_recv, dtype=np.float64)[keep].tobytes())
        self.ack_exec = array("d", np.frombuffer(self.ack_exec, dtype=np.float64)[keep].tobytes())

    def load_time(self, info: dict[str, Any], kind: str) -> float:
        """Seconds from process start to serving: startup, reading the file (cold after a
        power loss: at the device's read bandwidth; after a crash from the page cache, which
        the fit below includes), rebuilding the keys, unpacking LZF strings and allocating
        the dataset (benchmarks/calibrate_load.py), replaying the AOF. An AOF's base is an
        RDB preamble, loaded the same way."""
        t = self.load_cpu(info)
        if info["source"] != "none" and kind != "crash":
            t += self.device.read_service_time(info["rdb_bytes"])
        return t

    def load_cpu(self, info: dict[str, Any]) -> float:
        """The part of load_time that is the new process's CPU: all of it but the cold read."""
        c = self.costs
        t = c.startup_ms * 1e-3
        if info["source"] == "none":
            return t
        t += info["keys"] * c.rdb_load_per_key_us * 1e-6
        t += info["lzf_packed"] * c.lzf_unpack_per_kb_us / 1024 * 1e-6
        t += info["used_memory"] * c.load_s_per_gb / GIB
        t += info["aof_commands"] * c.aof_load_per_command_us * 1e-6
        return t

    # ================================================================== INFO
    def info_fields(self) -> dict[str, dict[str, object]]:
        child = self.child
        rdb_running = child is not None and child.kind == RDB
        aof_running = child is not None and child.kind == AOF
        now = self.env.now
        fields: dict[str, object] = {
            "loading": 0,
            "async_loading": 0,
            "current_cow_peak": self.current_cow_size(),
            "current_cow_size": self.current_cow_size(),
            "current_fork_perc": (f"{100.0 * child.written / child.nbytes:.2f}"
                                  if child is not None and child.nbytes else "0.00"),
            "rdb_changes_since_last_save": self.dirty,
            "rdb_bgsave_in_progress": int(rdb_running),
            "rdb_last_save_time": self.lastsave,
            "rdb_last_bgsave_status": "ok" if self.lastbgsave_status_ok else "err",
            "rdb_last_bgsave_time_sec": self.rdb_last_bgsave_time_sec,
            "rdb_current_bgsave_time_sec": (unix_s(now) - self.rdb_save_time_start
                                            if rdb_running else -1),
            "rdb_saves": self.rdb_saves,
            "rdb_last_cow_size": self.rdb_last_cow_size,
            "aof_enabled": int(self.aof_on),
            "aof_rewrite_in_progress": int(aof_running),
            "aof_rewrite_scheduled": int(self.aof_rewrite_scheduled),
            "aof_last_rewrite_time_sec": self.aof_rewrite_time_last,
            "aof_current_rewrite_time_sec": (unix_s(now) - self.aof_rewrite_time_start
                                             if aof_running else -1),
            "aof_rewrites": self.aof_rewrites,
            "aof_last_bgrewrite_status": "ok" if self.aof_lastbgrewrite_ok else "err",
            "aof_last_write_status": "ok",
            "aof_last_cow_size": self.aof_last_cow_size,
        }
        if self.aof_on:
            fields.update({
                "aof_current_size": self.aof_current_size,
                "aof_base_size": self.aof_rewrite_base_size,
                "aof_pending_rewrite": int(self.aof_rewrite_scheduled),
                "aof_buffer_length": self.aof_buf_len,
                "aof_pending_bio_fsync": int(self.bio_fsync_pending),
                "aof_delayed_fsync": self.aof_delayed_fsync,
            })
        stats: dict[str, object] = {"latest_fork_usec": self.latest_fork_usec,
                                    "total_forks": self.total_forks}
        return {"persistence": fields, "stats": stats}


def attach_persistence(sim: Any) -> Persistence:
    """Build the persistence model of ``sim`` (a ``Simulation``) and plug it into its loop.

    When the scenario has no AOF, no save points and no faults, only a one-set-lookup hook is
    added, which plugs the model in at the first BGSAVE/SAVE/BGREWRITEAOF/LASTSAVE: then
    persistence costs (almost) nothing. Call it at the end of
    ``Simulation.__init__`` (after the preload and the loop exist). Faults are attached by
    ``faults.attach_faults``.
    """
    from redissim.sim.engine import stream

    if "persistence" in vars(sim):  # already attached (by the engine or a test)
        return sim.persistence
    scenario = sim.scenario
    srv = scenario.server
    idle = not srv.appendonly and not srv.save.split() and not scenario.faults
    # (a cluster's masters other than the first name their streams apart: engine.ServerNode)
    prefix = getattr(sim, "stream_prefix", "")
    device = StorageDevice(sim.env, scenario.storage, stream(scenario.seed, prefix + "storage"))
    p = Persistence(sim.env, sim.loop, sim.keyspace, srv, device,
                    costs=costs_from_profile(sim.profile),
                    rng=stream(scenario.seed, prefix + "persistence"), trace=sim.trace,
                    track=bool(scenario.faults))
    sim.persistence = p
    p.memory = getattr(sim, "memory", None)
    expire = getattr(sim, "expire", None)
    if expire is not None:
        def hook_expired() -> None:
            prev = expire.on_expired
            if prev is None:
                expire.on_expired = p.feed_expired
            else:
                def both(db: int, argv: list[bytes], t: float, _a=prev,
                         _b=p.feed_expired) -> None:
                    _a(db, argv, t)
                    _b(db, argv, t)
                expire.on_expired = both
        p.hook_expired = hook_expired
    if idle:
        p.attach_light()
    else:
        p.attach()
    return p
