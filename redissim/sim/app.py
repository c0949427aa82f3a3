"""The application tier: clients whose requests go to PostgreSQL, to Redis in front of
PostgreSQL (cache-aside), or straight to a storage device.

The lesson's advice, "use Redis as cache, PostgreSQL as truth", as a client does it:

* read: ``GET key`` from Redis; on a miss (nil) ``SELECT ... WHERE id = key`` from PostgreSQL,
  then ``SET key value PX ttl`` so the next read hits;
* write: ``UPDATE ... WHERE id = key`` in PostgreSQL first, then ``DEL key`` in Redis (or
  ``SET`` it with the new value, ``write-policy: update``). Between the commit and the DEL a
  concurrent reader can still get the old value from Redis: the stale-read window.

Each client is a SimPy process (these requests wait on other processes -- PostgreSQL's
backends, the disk -- unlike the arithmetic closed loop of ``workload.py``). Redis commands
go through the same event loop as every other client's; PostgreSQL queries through
``postgres/pipeline.py``; both cross the same network link. The latency recorded per
operation ("read", "write") is the application's: from the first request to the last reply.
Key indices map to PostgreSQL primary keys modulo the table's rows.
"""

from __future__ import annotations

from typing import Any

import simpy

from redissim.server.resp import request_size
from redissim.sim.workload import Driver

#: commands a workload can name, read or write, as the application means them
READS = frozenset({"GET", "READ", "SELECT"})
WRITES = frozenset({"SET", "WRITE", "UPDATE", "INCR"})


class AppDriver(Driver):
    """Closed-loop application clients for ``target: postgres | cache-aside | device``."""

    def start(self, t: float) -> None:
        wl = self.wl
        self._begin(t)
        self.env = self.loop.env
        self.pg = self.extra_targets.get("postgres")
        self.device = self.extra_targets.get("device")
        if wl.target in ("postgres", "cache-aside") and self.pg is None:
            raise ValueError(f"workload {self.name}: target {wl.target} needs a postgres: section")
        self.value = b"x" * wl.value_size
        self.ttl_ms = b"%d" % max(1, round((wl.ttl or 3600.0) * 1000))
        self.counts = {"redis_hits": 0, "redis_misses": 0, "pg_queries": 0,
                       "stale_window_s": 0.0, "writes": 0}
        #: per connection: the event its pending Redis command will fire
        self._waiting: dict[int, simpy.Event] = {}
        self.active = wl.clients
        self.conns = []
        for i in range(wl.clients):
            conn = self.loop.connect(self, self.label_for(i))
            self.conns.append(conn)
            self.env.process(self._client(i, conn))

    # ------------------------------------------------------------------ helpers
    def _redis(self, conn: Any, args: list[bytes], label: str):
        """One Redis command through the event loop; returns the reply."""
        ev = self.env.event()
        self._waiting[conn.id] = ev
        self.loop.submit(conn, self.env.now, [(args, request_size(args), label)])
        reply = yield ev
        return reply

    def on_replies(self, conn: Any, sent: list, t_recv: float) -> None:
        env = self.env
        for _label, _batch, _size, reply, _args in sent:
            ev = self._waiting.pop(conn.id)

            def fire(_e: simpy.Event, ev: simpy.Event = ev, reply: Any = reply) -> None:
                ev.succeed(reply)

            env.timeout(max(0.0, t_recv - env.now)).callbacks.append(fire)

    def _pg(self, conn_id: int, kind: str, key: int):
        """One PostgreSQL statement over the network; returns the QueryResult."""
        link = self.loop.link
        pg = self.pg
        assert pg is not None  # start() refuses a postgres target without a postgres server
        # (both ends taken to be asleep in their own waits when the bytes arrive: a backend
        # process per connection, and this client, whose CPU is not modelled)
        yield self.env.timeout(link.up.transmit(0.0, 64) + link.wakeup)
        qr = yield self.env.process(pg.query(conn_id, kind, key % pg.table.rows,
                                             self.wl.prepared))
        yield self.env.timeout(link.down.transmit(0.0, 64 + 16) + link.wakeup)
        self.counts["pg_queries"] += 1
        return qr

    # ------------------------------------------------------------------ the client loop
    def _client(self, i: int, conn: Any):
        env = self.env
        wl = self.wl
        builders = self.mix
        pg_conn = self.index * 100_000 + i
        while env.now < self.end_time and self.budget != 0:
            if self.budget > 0:
                self.budget -= 1
            args, _size, label = builders.next()
            key = args[1] if len(args) > 1 else b""
            idx = int(key.rsplit(b":", 1)[-1]) if key[-1:].isdigit() else 0
            is_write = label.upper() in WRITES
            t0 = env.now
            self.t_first = min(self.t_first, t0)
            self.issued += 1
            if wl.target == "device":
                device = self.device
                assert device is not None  # the scenario refuses target device without a device
                yield env.process(device.read(device.spec.block_size))
            elif wl.target == "postgres":
                yield from self._pg(pg_conn, "update_pk" if is_write else "select_pk", idx)
            elif is_write:
                yield from self._pg(pg_conn, "update_pk", idx)
                t_commit = env.now
                if wl.write_policy == "update":
                    yield from self._redis(conn, [b"SET", key, self.value, b"PX", self.ttl_ms],
                                           "SET")
                else:
                    yield from self._redis(conn, [b"DEL", key], "DEL")
                # a reader in between still saw the old cached value
                self.counts["stale_window_s"] += env.now - t_commit
                self.counts["writes"] += 1
            else:
                reply = yield from self._redis(conn, [b"GET", key], "GET")
                if reply is None:
                    self.counts["redis_misses"] += 1
                    yield from self._pg(pg_conn, "select_pk", idx)
                    yield from self._redis(conn, [b"SET", key, self.value, b"PX", self.ttl_ms],
                                           "SET")
                else:
                    self.counts["redis_hits"] += 1
            lat = env.now - t0
            op = "write" if is_write else "read"
            self._hist(op).record(lat)
            self.loop.window_hist.record(lat)
            self.completed += 1
            self.t_last = max(self.t_last, env.now)
            think = self._think()
            if think:
                yield env.timeout(think)
        self.active -= 1
        if self.pg is not None:
            self.pg.disconnect(pg_conn)
        if self.active == 0:
            self._finish(self.t_last)
