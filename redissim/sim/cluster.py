"""Redis Cluster as a cluster-aware client sees it: every request goes to the master that
owns its key's hash slot.

Models the client side of Redis Cluster (``src/cluster.c`` on the server; the routing is
what cluster clients do: redis-py's ``RedisCluster``, Jedis, memtier_benchmark
``--cluster-mode``). The servers are independent redis-server processes, each a whole
:class:`~redissim.server.eventloop.EventLoop` with its own keyspace, expiry, eviction and
persistence; they share nothing but the clients. The 16384 slots are spread over the
masters as ``redis-cli --cluster create`` spreads them (``server/cluster_slots.py``), and
the clients know that map (they fetched ``CLUSTER SLOTS`` at start), so no request is ever
answered ``-MOVED`` and the map never changes.

Each client keeps one connection to every master, as those clients keep a connection pool
per node. A batch of pipelined requests is split by node, in the order the requests were
made: each node gets its share as one write, and the batch is done when the last reply
from any node has arrived (redis-py's cluster pipeline also groups a pipeline's commands
by node). A command without a key goes to the client's own node, master ``client %
masters`` (clients numbered across the scenario's workloads).

Not modelled: replicas and failover, resharding (``MOVED``/``ASK``), the cluster bus and
``clusterCron``'s gossip, ``CROSSSLOT`` (scenarios with several keys per command are
refused when a cluster is configured), and cluster mode's refusal of ``SELECT`` (the
masters keep their 16 databases).
"""

from __future__ import annotations

from typing import Any

from redissim.server.cluster_slots import allocate_slots, key_hash_slot, node_of_slot
from redissim.server.commands import lookup
from redissim.server.eventloop import Conn, EventLoop, InRecord

__all__ = ["ClusterRouter"]

#: position of the key in the lines of commands the command table keeps no key for
_SUBCOMMAND_KEY: dict[str, int] = {"memory": 2, "object": 2}


class ClusterRouter:
    """The clients' side of a cluster of ``len(loops)`` masters: their connections to each
    master and the routing of their requests by key slot."""

    def __init__(self, loops: list[EventLoop]):
        self.loops = loops
        self.ranges = allocate_slots(len(loops))
        self.owner = node_of_slot(self.ranges)
        #: a client's connection to each master, by its home connection
        self.peers: dict[Conn, list[Conn]] = {}
        #: any of a client's connections -> its home connection (what its driver keys on)
        self.home: dict[Conn, Conn] = {}
        #: the node a client's keyless commands go to
        self._default: dict[Conn, int] = {}
        #: command name (as sent) -> index of its first key in the line (0: none)
        self._first_key: dict[Any, int] = {}
        #: requests sent to each master, for the report
        self.requests = [0] * len(loops)

    def connect(self, driver: Any, label: str) -> Conn:
        """Open one client's connections (one per master); returns its home connection,
        the one on the first master, by which the driver knows the client."""
        conns = [loop.connect(driver, label) for loop in self.loops]
        home = conns[0]
        self.peers[home] = conns
        for c in conns:
            self.home[c] = home
        self._default[home] = (len(self.peers) - 1) % len(self.loops)
        return home

    def disconnect(self, home: Conn) -> None:
        """The client closes all its connections."""
        for loop, conn in zip(self.loops, self.peers[home], strict=True):
            loop.disconnect(conn)

    def node_of(self, args: list, default: int) -> int:
        """The master a command line goes to: the owner of its first key's slot."""
        first = args[0]
        pos = self._first_key.get(first)
        if pos is None:
            spec = lookup(first) if isinstance(first, bytes | str) else None
            pos = spec.first_key if spec is not None else 0
            if pos == 0:
                # container commands whose subcommands take a key: MEMORY USAGE key,
                # OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key (Redis 7's key specs)
                name = first.decode("ascii", "replace") if isinstance(first, bytes) \
                    else str(first)
                pos = _SUBCOMMAND_KEY.get(name.lower(), 0)
            if len(self._first_key) < 4096:
                self._first_key[first] = pos
        if pos == 0 or pos >= len(args):
            return default
        key = args[pos]
        return self.owner[key_hash_slot(key if type(key) is bytes else str(key).encode())]

    def keyspace_of(self, key: bytes) -> Any:
        """The keyspace of the master that owns ``key`` (for a report's final read)."""
        return self.loops[self.owner[key_hash_slot(key)]].ks

    def submit_records(self, home: Conn, t_send: float, recs: list[InRecord],
                       nbytes: int) -> None:
        """EventLoop.submit_records for a client of the cluster: each record to its node."""
        peers = self.peers[home]
        if len(peers) == 1:  # one master owns every slot
            self.requests[0] += len(recs)
            self.loops[0].submit_records(peers[0], t_send, recs, nbytes)
            return
        default = self._default[home]
        if len(recs) == 1:
            node = self.node_of(recs[0][0], default)
            self.requests[node] += 1
            self.loops[node].submit_records(peers[node], t_send, recs, nbytes)
            return
        split: dict[int, list[InRecord]] = {}
        for rec in recs:
            node = self.node_of(rec[0], default)
            part = split.get(node)
            if part is None:
                split[node] = [rec]
            else:
                part.append(rec)
        for node, part in split.items():  # (in the order each node first appears)
            self.requests[node] += len(part)
            self.loops[node].submit_records(peers[node], t_send, part,
                                            sum(r[1] for r in part))
