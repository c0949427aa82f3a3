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
masters`` (clients numbered across the scenario's workloads), except a SCAN walker's, which
walks every master in turn (``submit_to``; see ``ScanDriver``).

``routing: client`` is redis-benchmark ``--cluster``'s way instead: client ``i`` connects to
master ``i % masters`` only and sends it everything, each key given the hash tag of that
master's first slot (redis-benchmark writes its ``crc16_slottable.h`` tag over ``{tag}`` in
``key:{tag}:__rand_int__``; here the tag goes after the key's first colon, or in front of a
key without one). A client's pipeline then stays whole.

A command naming several keys goes to the master of its first key; that master answers
``-CROSSSLOT`` unless all its keys are in one slot (``server/cluster_redirect.py``), as a
real master answers a client that sends it (redis-cli -c; redis-py's plain ``mget`` and
Jedis refuse such a command themselves, without sending it). With ``multi-key: split`` the
client splits MGET, MSET, DEL, UNLINK and EXISTS into one command per slot instead, sends
the parts with its other requests (split by node like them), and hands its caller one
reply when the last part's is in: MGET's values in the order of its keys, the counts added,
MSET's OK (Lettuce; redis-py's ``mget_nonatomic``, ``mset_nonatomic`` and its DEL/EXISTS).
``SELECT`` of a database other than 0 is refused in cluster mode.

``routing: redirect`` is a client that knows no slot map, as redis-cli -c: it sends each
request to the master it last talked to (at first master ``client % masters``); a master
that does not own the key's slot answers ``-MOVED slot 127.0.0.1:port``, and the client
sends the command again to that master and stays with it. The -MOVED never reaches its
caller; it costs a round trip.

Not modelled: replicas and failover, resharding (slots moving between masters while clients
keep old maps: ``ASK``, and the ``-MOVED`` that makes a cluster-aware client refresh its
map), the cluster bus and ``clusterCron``'s gossip.
"""

from __future__ import annotations

from typing import Any, Final

from redissim.server.cluster_redirect import FIRST_PORT, MULTI_KEY_COMMANDS
from redissim.server.cluster_slots import (
    allocate_slots,
    benchmark_key_tag,
    key_hash_slot,
    node_of_slot,
)
from redissim.server.commands import SUBCOMMANDS, CommandSpec, arity_ok, lookup
from redissim.server.eventloop import Batch, Conn, EventLoop, InRecord, OutRecord
from redissim.server.resp import ReplyError, bulk_size, request_size

__all__ = ["ClusterRouter", "SPLITTABLE"]

#: the multi-key commands a splitting client breaks up by slot (what Lettuce splits, and
#: redis-py's mget_nonatomic / mset_nonatomic and its DEL/UNLINK/EXISTS); MSETNX and
#: RENAME are all-or-nothing and are sent whole
SPLITTABLE: Final = frozenset({"mget", "mset", "del", "unlink", "exists"})


def _slot_groups(spec: CommandSpec, args: list) -> list[tuple[list, list[int]]] | None:
    """A multi-key command line split by its keys' slots: one (command line, indexes of its
    keys among the command's) per slot, in the order the slots first appear; None when all
    the keys are in one slot (or the line has the wrong number of arguments)."""
    if not arity_ok(spec, len(args)) or (spec.key_step == 2 and len(args) % 2 == 0):
        return None
    step = spec.key_step
    by_slot: dict[int, tuple[list, list[int]]] = {}
    for n, i in enumerate(spec.key_positions(len(args))):
        key = args[i] if type(args[i]) is bytes else str(args[i]).encode()
        slot = key_hash_slot(key)
        group = by_slot.get(slot)
        if group is None:
            group = by_slot[slot] = ([args[0]], [])
        group[0].extend(args[i:i + step])
        group[1].append(n)
    return list(by_slot.values()) if len(by_slot) > 1 else None


class _Split:
    """A client's multi-key command sent as one command per slot: its request record, and
    the parts' replies as they come in."""

    __slots__ = ("rec", "name", "remaining", "replies", "orders", "size")

    def __init__(self, rec: InRecord, parts: int, name: str):
        self.rec = rec
        self.name = name
        self.remaining = parts
        self.replies: list[Any] = [None] * parts
        #: per part, the indexes (among the command's keys) of the keys it carries
        self.orders: list[list[int]] = []
        self.size = 0

    def reply(self) -> Any:
        for r in self.replies:
            if isinstance(r, ReplyError):
                return r
        if self.name == "mget":
            values: list[Any] = [None] * sum(len(o) for o in self.orders)
            for order, part in zip(self.orders, self.replies, strict=True):
                for n, v in zip(order, part, strict=True):
                    values[n] = v
            return values
        if self.name == "mset":
            return "OK"
        return sum(self.replies)  # DEL, UNLINK, EXISTS


class _Part(Batch):
    """One part of a split command, as the event loop carries it: in the place of the
    request's batch (a batch of its own, of one command), with what it belongs to."""

    __slots__ = ("whole", "index")

    def __init__(self, conn: Conn, t_send: float, whole: _Split, index: int):
        super().__init__(conn, t_send, 1)
        self.whole = whole
        self.index = index


class _Merger:
    """Stands for a splitting client on its connections: the parts' replies are merged
    before the client's driver sees them."""

    __slots__ = ("driver", "router")

    def __init__(self, driver: Any, router: ClusterRouter):
        self.driver = driver
        self.router = router

    def on_replies(self, conn: Conn, sent: list[OutRecord], t_recv: float) -> None:
        merged = self.router.merge(conn, sent, t_recv)
        if merged:
            self.driver.on_replies(conn, merged, t_recv)

#: position of the key in the lines of commands the command table keeps no key for: the
#: container commands' (MEMORY USAGE key, OBJECT ENCODING key...)
_SUBCOMMAND_KEY: dict[str, int] = {name: 2 for name in SUBCOMMANDS}


class ClusterRouter:
    """The clients' side of a cluster of ``len(loops)`` masters: their connections to each
    master and the routing of their requests by key slot (or, routing ``client``, to the
    one master each client is bound to)."""

    def __init__(self, loops: list[EventLoop], routing: str = "slot", multi_key: str = "send"):
        self.loops = loops
        #: redis-benchmark --cluster's routing: each client bound to one master
        self.bound = routing == "client"
        #: clients that split a multi-key command by slot (Lettuce; redis-py's
        #: mget_nonatomic) instead of sending it whole to its first key's master
        self.split = multi_key == "split" and not self.bound and len(loops) > 1
        #: split commands whose parts are not all answered yet
        self.open_splits = 0
        #: clients that know no slot map (redis-cli -c): each sends to its current master
        #: and follows -MOVED there, where it then stays
        self.redirect = routing == "redirect"
        self._current: dict[Conn, int] = {}
        #: -MOVED replies the clients followed (each master's errorstats count them too)
        self.redirects = 0
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
        #: routing client: each client's master, and the tag (with its colon) for its keys
        self._master: dict[Conn, int] = {}
        self._tag: dict[Conn, bytes] = {}
        #: command name (as sent) -> its table entry if it can name several keys
        self._multi: dict[Any, CommandSpec | None] = {}

    def connect(self, driver: Any, label: str) -> Conn:
        """Open one client's connections (one per master); returns its home connection,
        the one on the first master, by which the driver knows the client. Routing client:
        one connection, to the client's own master (numbered across the masters, so that
        the driver can tell clients apart by id)."""
        if self.bound:
            n = len(self.peers)
            node = n % len(self.loops)
            conn = self.loops[node].connect(driver, label, n)
            self.peers[conn] = [conn]
            self.home[conn] = conn
            self._default[conn] = node
            self._master[conn] = node
            self._tag[conn] = benchmark_key_tag(self.ranges[node][0]) + b":"
            return conn
        # (a client that splits commands hears its replies through a _Merger, which hands
        # it each split command's reply once all its parts are in)
        target = _Merger(driver, self) if self.split or self.redirect else driver
        conns = [loop.connect(target, label) for loop in self.loops]
        home = conns[0]
        self.peers[home] = conns
        for c in conns:
            self.home[c] = home
        self._default[home] = self._current[home] = (len(self.peers) - 1) % len(self.loops)
        return home

    def disconnect(self, home: Conn) -> None:
        """The client closes all its connections."""
        if self.bound:
            self.loops[self._master[home]].disconnect(home)
            return
        for loop, conn in zip(self.loops, self.peers[home], strict=True):
            loop.disconnect(conn)

    def _key_pos(self, first: Any) -> int:
        """Index of the first key in a command line starting with ``first`` (0: none)."""
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
        return pos

    def _multi_key_spec(self, first: Any) -> CommandSpec | None:
        """The command-table entry of a command spelled ``first`` if it can name several
        keys (MSET, MGET, DEL...), else None."""
        if first in self._multi:
            return self._multi[first]
        spec = lookup(first) if isinstance(first, bytes | str) else None
        if spec is not None and spec.name not in MULTI_KEY_COMMANDS:
            spec = None
        if len(self._multi) < 4096:
            self._multi[first] = spec
        return spec

    def _tagged(self, home: Conn, t_send: float, recs: list[InRecord]) -> None:
        """Routing client: every key with the client's master's tag, all to that master."""
        tag = self._tag[home]
        out: list[InRecord] = []
        nbytes = 0
        for args, size, label, batch in recs:
            pos = self._key_pos(args[0])
            if 0 < pos < len(args):
                # every key of the command (MSET's, MGET's...) gets the tag, as each
                # ``{tag}`` of redis-benchmark's template does: one slot, no CROSSSLOT
                spec = self._multi_key_spec(args[0])
                positions = spec.key_positions(len(args)) if spec is not None else (pos,)
                copied = False
                for i in positions:
                    key = args[i] if type(args[i]) is bytes else str(args[i]).encode()
                    colon = key.find(b":") + 1
                    if key[colon:colon + len(tag)] != tag:  # (a fill-on-miss SET's key)
                        new = key[:colon] + tag + key[colon:]
                        if not copied:
                            args = list(args)
                            copied = True
                        args[i] = new
                        size += bulk_size(len(new)) - bulk_size(len(key))
            out.append((args, size, label, batch))
            nbytes += size
        node = self._master[home]
        self.requests[node] += len(out)
        self.loops[node].submit_records(home, t_send, out, nbytes)

    def submit_to(self, home: Conn, node: int, t_send: float,
                  cmds: list[tuple[list, int, str]]) -> None:
        """Requests a client sends to one master of its choosing (a SCAN walker's call to
        the master it is walking), whatever their keys."""
        batch = Batch(home, t_send, len(cmds))
        self.requests[node] += len(cmds)
        self.loops[node].submit_records(self.peers[home][node], t_send,
                                        [(a, n, label, batch) for a, n, label in cmds],
                                        sum(n for _a, n, _label in cmds))

    def _split(self, recs: list[InRecord], t_send: float) -> list[InRecord]:
        """Each splittable command whose keys are in several slots becomes one command per
        slot (its keys, and MSET's values with them, in their order), the parts of one
        command waiting for one another (see merge)."""
        out: list[InRecord] | None = None
        for i, rec in enumerate(recs):
            args = rec[0]
            spec = self._multi_key_spec(args[0]) if len(args) > 2 else None
            if spec is None or spec.name not in SPLITTABLE or \
                    (groups := _slot_groups(spec, args)) is None:
                if out is not None:
                    out.append(rec)
                continue
            if out is None:
                out = list(recs[:i])
            whole = _Split(rec, len(groups), spec.name)
            for index, (part_args, order) in enumerate(groups):
                whole.orders.append(order)
                out.append((part_args, request_size(part_args), rec[2],
                            _Part(rec[3].conn, t_send, whole, index)))
            self.open_splits += 1
        return recs if out is None else out

    def merge(self, conn: Conn, sent: list[OutRecord], t_recv: float) -> list[OutRecord]:
        """The replies a client sees: a split command's once the last of its parts is in,
        put together as the client library does (MGET's values in the order of its keys,
        DEL/UNLINK/EXISTS's counts added, MSET's OK; an error of any part is the reply);
        a redirected client's -MOVED never: it sends the command again."""
        if self.redirect:
            return self._follow_moved(conn, sent, t_recv)
        if not self.open_splits:
            return sent
        out: list[OutRecord] | None = None
        for i, rec in enumerate(sent):
            part = rec[1]
            if type(part) is not _Part:
                if out is not None:
                    out.append(rec)
                continue
            if out is None:
                out = list(sent[:i])
            whole = part.whole
            whole.replies[part.index] = rec[3]
            whole.size += rec[2]
            whole.remaining -= 1
            if whole.remaining == 0:
                self.open_splits -= 1
                label, batch = whole.rec[2], whole.rec[3]
                out.append((label, batch, whole.size, whole.reply(), whole.rec[0]))
        return sent if out is None else out

    def _follow_moved(self, conn: Conn, sent: list[OutRecord],
                      t_recv: float) -> list[OutRecord]:
        """redis-cli -c on ``-MOVED slot host:port``: connect to that master, send the
        command again there (its batch still waits for its one reply), and stay."""
        out: list[OutRecord] | None = None
        home = self.home[conn]
        again: dict[int, list[InRecord]] = {}
        for i, rec in enumerate(sent):
            reply = rec[3]
            if not (isinstance(reply, ReplyError) and reply.code == "MOVED"):
                if out is not None:
                    out.append(rec)
                continue
            if out is None:
                out = list(sent[:i])
            node = int(reply.text.rsplit(":", 1)[1]) - FIRST_PORT
            self._current[home] = node
            self.redirects += 1
            args = rec[4]
            again.setdefault(node, []).append((args, request_size(args), rec[0], rec[1]))
        for node, recs in again.items():
            self.requests[node] += len(recs)
            self.loops[node].submit_records(self.peers[home][node], t_recv, recs,
                                            sum(r[1] for r in recs))
        return sent if out is None else out

    def node_of(self, args: list, default: int) -> int:
        """The master a command line goes to: the owner of its first key's slot."""
        pos = self._key_pos(args[0])
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
        if self.bound:
            self._tagged(home, t_send, recs)
            return
        peers = self.peers[home]
        if len(peers) == 1:  # one master owns every slot
            self.requests[0] += len(recs)
            self.loops[0].submit_records(peers[0], t_send, recs, nbytes)
            return
        default = self._default[home]
        if self.redirect:
            node = self._current[home]  # (whatever the keys: it knows no slot map)
            self.requests[node] += len(recs)
            self.loops[node].submit_records(peers[node], t_send, recs, nbytes)
            return
        if self.split:
            recs = self._split(recs, t_send)
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
