"""The write-ahead log: record insertion, and commit flushes with group commit.

Models ``access/transam/xlog.c``: ``XLogInsert`` reserves space for a record in
``wal_buffers`` (advancing the insert LSN); at commit ``XLogFlush(commit LSN)`` must make the
WAL durable up to that LSN. Only one backend at a time holds ``WALWriteLock``; a backend that
finds someone flushing waits for the lock, then re-checks whether its LSN was already flushed
by that backend -- and if not, it writes and fsyncs *everything inserted so far*, including
other backends' commit records. That is group commit: under load one ``fdatasync`` covers many
commits (``commit_delay`` = 0 default, so no extra wait is added).

With ``synchronous_commit = off`` the committing backend does not wait; the walwriter
(``postmaster/walwriter.c``) flushes every ``wal_writer_delay``.

The WAL file is written with ``write(2)`` then ``fdatasync`` (``wal_sync_method`` fdatasync,
Linux default) on the given device. Counters use pg_stat_wal names.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from redissim.sim.devices import StorageDevice

SimGen = Generator[simpy.Event, Any, Any]


class Wal:
    def __init__(self, env: simpy.Environment, device: StorageDevice):
        self.env = env
        self.device = device
        self.insert_lsn = 0
        self.flushed_lsn = 0
        self._write_lock = simpy.Resource(env, capacity=1)  # WALWriteLock
        # pg_stat_wal
        self.wal_records = 0
        self.wal_bytes = 0
        self.wal_write = 0
        self.wal_sync = 0
        self.wal_write_time_s = 0.0
        self.wal_sync_time_s = 0.0
        #: commits made durable per flush (group size), for the group-commit picture
        self.commits_flushed = 0
        self.group_sizes: list[int] = []
        self._pending_commits = 0
        self._walwriter_running = False

    def insert(self, nbytes: int, commit: bool = False) -> int:
        """Append a record; returns its end LSN. (CPU cost is charged by the caller.)"""
        self.insert_lsn += nbytes
        self.wal_records += 1
        self.wal_bytes += nbytes
        if commit:
            self._pending_commits += 1
        return self.insert_lsn

    def flush(self, lsn: int) -> SimGen:
        """Wait until the WAL is durable up to ``lsn`` (XLogFlush)."""
        while self.flushed_lsn < lsn:
            with self._write_lock.request() as req:
                yield req
                if self.flushed_lsn >= lsn:   # another backend flushed it for us
                    break
                target = self.insert_lsn
                commits = self._pending_commits
                self._pending_commits = 0
                t0 = self.env.now
                yield from self.device.write(target - self.flushed_lsn)
                t1 = self.env.now
                yield from self.device.fsync()
                self.wal_write += 1
                self.wal_sync += 1
                self.wal_write_time_s += t1 - t0
                self.wal_sync_time_s += self.env.now - t1
                self.flushed_lsn = target
                self.commits_flushed += commits
                if len(self.group_sizes) < 100_000:
                    self.group_sizes.append(commits)

    def async_commit(self, delay_s: float) -> None:
        """A commit that does not wait (synchronous_commit = off): make sure the walwriter
        is running. It sleeps ``wal_writer_delay`` between flushes and exits when caught up,
        so an idle server schedules no events."""
        if not self._walwriter_running:
            self._walwriter_running = True
            self.env.process(self._walwriter(delay_s))

    def _walwriter(self, delay_s: float) -> SimGen:
        while self.insert_lsn > self.flushed_lsn:
            yield self.env.timeout(delay_s)
            if self.insert_lsn > self.flushed_lsn:
                yield from self.flush(self.insert_lsn)
        self._walwriter_running = False
