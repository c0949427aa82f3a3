"""The lesson's "single-threaded = atomic operations without locks" (atomic-counter).

INCR is read, add and write inside one command, and the server runs one command at a time:
no increment can be lost however many clients send them. The same increment done by the
application (GET, then SET of the value + 1: the ``read-modify-write`` workload) leaves the
key unguarded between the two commands, and clients that read the same value write the same
next one. Checked in the model (exact counts, the lockstep limit, rules over random sizes)
and against a real redis-server driven by the same client pattern.
"""

from __future__ import annotations

import selectors
import socket
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.scenario import Scenario, ScenarioError, load_scenario
from redissim.sim.engine import simulate

ROOT = Path(__file__).resolve().parents[1]


def _run(workloads: list[dict]) -> list:
    sc = Scenario.model_validate({"name": "atomic", "workloads": workloads})
    return simulate(sc).workloads


def _rmw(clients: int, increments: int, **extra: object) -> dict:
    return {"type": "read-modify-write", "clients": clients, "requests": increments,
            "keys": {"fixed": "counter"}, **extra}


def test_scenario_incr_exact_and_get_set_loses_most() -> None:
    """The built-in scenario: INCR ends at 10,000; GET+SET, with 50 clients and an
    application's CPU a request, ends at 385 (96.2 % lost); of 50 SETNX of one lock, one
    wins."""
    sc, _ = load_scenario(ROOT / "scenarios" / "atomic-counter.yaml")
    res = simulate(sc)
    incr, rmw, lock, check = res.workloads
    # 50 workers SETNX the same lock at the same moment: one gets it
    assert lock.extra["replies"] == {"0": 49, "1": 1}
    assert sum(c.calls for c in incr.commands) == 10_000
    replies = [r["reply"] for r in check.records]
    assert replies[0] == "10000"
    x = rmw.extra
    assert x["increments"] == 10_000 and x["failed"] == 0
    first, final = x["counters"]["page:views:getset"]
    assert first == 0 and replies[1] == str(final)
    assert x["lost"] == 10_000 - final
    # most are lost, and no more than the lockstep limit (below)
    assert 0.9 * 10_000 < x["lost"] <= 10_000 * (1 - 1 / 50)


@pytest.mark.parametrize("clients", [2, 5, 20])
def test_lost_updates_at_most_the_lockstep_limit(clients: int) -> None:
    """If all ``c`` clients read the same value and then write the same next one, a round
    of c increments adds 1: the counter ends at n / c, and 1 - 1/c of the increments are
    lost. That is the most that can be lost when every client waits for its SET before its
    next GET and the counter never moves backwards. Any desynchronisation (a reply written
    later than another, so a GET reads a newer value) only saves increments."""
    n = 20 * clients * 10
    (rmw,) = _run([_rmw(clients, n)])
    lost = rmw.extra["lost"]
    assert 0 < lost <= n - n // clients


def test_one_client_loses_nothing() -> None:
    (rmw,) = _run([_rmw(1, 500)])
    assert rmw.extra["lost"] == 0 and rmw.extra["counters"]["counter"] == [0, 500]


def test_spread_keys_lose_less() -> None:
    """The race needs two clients on the same key: over 1,000 keys almost nothing is lost."""
    (one,) = _run([_rmw(20, 4000)])
    (many,) = _run([_rmw(20, 4000, keys={"space": 1000, "distribution": "uniform"})])
    assert many.extra["lost"] < one.extra["lost"] / 10


def test_non_integer_value_abandons_the_increment() -> None:
    """The application's int() fails on a value that is not a number: no SET is sent."""
    res = _run([
        {"type": "script", "steps": [{"at": "0s", "cmd": "SET counter abc"}]},
        {**_rmw(2, 10), "start": "after-previous"},
    ])
    rmw = res[1]
    assert rmw.extra["failed"] == 10 and rmw.extra["increments"] == 0
    assert [c.label for c in rmw.commands] == ["GET"]


@settings(max_examples=25, deadline=None)
@given(clients=st.integers(1, 8), n=st.integers(1, 300),
       think=st.sampled_from([None, "20us", "200us"]))
def test_incr_never_loses_and_get_set_never_gains(clients: int, n: int, think: str | None) -> None:
    """For any number of clients, increments and think time: INCR's counter equals the
    number of INCRs; GET+SET's counter never exceeds its increments, and one client alone
    loses nothing."""
    extra = {"think-time": think, "think-distribution": "exponential"} if think else {}
    incr, rmw, check = _run([
        {"clients": clients, "requests": n, "commands": [{"cmd": "INCR"}],
         "keys": {"fixed": "hits"}, **extra},
        {**_rmw(clients, n), **extra},
        {"type": "script", "start": "after-previous",
         "steps": [{"at": "0s", "cmd": "GET hits"}, {"at": "0s", "cmd": "GET counter"}]},
    ])
    assert check.records[0]["reply"] == str(n)
    final = int(check.records[1]["reply"])
    assert rmw.extra["increments"] == n
    assert 1 <= final <= n and rmw.extra["lost"] == n - final
    if clients == 1:
        assert final == n


@pytest.mark.parametrize("bad, message", [
    ({"pipeline": 4}, "pipeline must be 1"),
    ({"commands": [{"cmd": "INCR"}]}, "remove commands"),
    ({"tally-replies": True}, "tally-replies works with closed workloads only"),
])
def test_bad_read_modify_write_workload(tmp_path: Path, bad: dict, message: str) -> None:
    import yaml
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"name": "x", "workloads": [{**_rmw(2, 10), **bad}]}))
    with pytest.raises(ScenarioError) as e:
        load_scenario(f)
    assert message in str(e.value) and "workloads.0" in str(e.value)
    assert "\n" not in str(e.value)


# -- against a real redis-server -------------------------------------------------------------

def _encode(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _one_reply(buf: bytes) -> tuple[bytes | None, bytes] | None:
    """(value of a bulk or simple reply, rest of the buffer), or None if incomplete."""
    end = buf.find(b"\r\n")
    if end < 0:
        return None
    head, rest = buf[:end], buf[end + 2:]
    if head[:1] != b"$":
        return head[1:], rest
    size = int(head[1:])
    if size < 0:
        return None, rest
    if len(rest) < size + 2:
        return None
    return rest[:size], rest[size + 2:]


def real_counter(port: int, clients: int, increments: int, key: bytes, incr: bool) -> int:
    """Drive ``clients`` connections like the model's clients: each sends its next request
    as soon as its previous reply is in (one event loop, like redis-benchmark), ``increments``
    in all, by INCR or by GET then SET of the value + 1. Returns how many were done."""
    sel = selectors.DefaultSelector()
    budget = increments
    done = 0
    state: dict[socket.socket, list] = {}

    def start_one(s: socket.socket) -> bool:
        nonlocal budget
        if budget == 0:
            return False
        budget -= 1
        s.sendall(_encode(b"INCR", key) if incr else _encode(b"GET", key))
        state[s][0] = "incr" if incr else "get"
        return True

    socks = []
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
        state[s] = ["", b""]
    try:
        active = 0
        for s in socks:
            if start_one(s):
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ)
                active += 1
        while active:
            events = sel.select(timeout=10)
            assert events, "the real server stopped answering"
            for k, _ in events:
                s = k.fileobj  # type: ignore[assignment]
                st_ = state[s]
                st_[1] += s.recv(65536)
                parsed = _one_reply(st_[1])
                if parsed is None:
                    continue
                value, st_[1] = parsed
                if st_[0] == "get":
                    st_[0] = "set"
                    s.sendall(_encode(b"SET", key, b"%d" % (int(value or 0) + 1)))
                    continue
                done += 1
                if not start_one(s):
                    sel.unregister(s)
                    active -= 1
    finally:
        for s in socks:
            s.close()
    return done


@pytest.mark.parametrize(("clients", "tolerance"), [(50, 0.03), (2, 0.1)])
def test_real_redis_incr_and_get_set(real_redis, clients: int,  # type: ignore[no-untyped-def]
                                     tolerance: float) -> None:
    """The real server, 10,000 increments each way. INCR: exactly 10,000. GET+SET: how much
    is lost depends on how the clients' GETs fall between one another's GET and SET, so the
    model is given this test's client's own CPU a request (Python, one event loop: measured
    around the run) with its jitter (exponential). Development VM, single runs: real
    95.8-96.2 % lost at 50 clients (9-12 us of client CPU a request) and 45-47 % at 2 (12-13
    us); the model 96.1 % and 39-40 %. (Another Python client, without TCP_NODELAY and
    slower, lost 34-39 % at 2 clients: the share depends on the client. Without any client
    CPU the model's clients run in lockstep at 2 clients and lose 50 %.)"""
    c = real_redis.client()
    n = 10_000
    for incr in (True, False):
        key = b"atomic:incr" if incr else b"atomic:getset"
        c.command("DEL", key)
        cpu0 = time.process_time()
        assert real_counter(real_redis.port, clients, n, key, incr) == n
        cpu = (time.process_time() - cpu0) / (n if incr else 2 * n)
        final = int(c.command("GET", key))  # type: ignore[call-overload]
        if incr:
            assert final == n
        else:
            real_lost = (n - final) / n
            (model,) = _run([_rmw(clients, n, **{"client-cpu": cpu,
                                                  "client-cpu-distribution": "exponential"})])
            model_lost = model.extra["lost"] / n
            assert abs(real_lost - model_lost) < tolerance, (real_lost, model_lost, cpu)


def test_tally_counts_replies_by_value() -> None:
    """tally-replies: integers, strings, nil and error codes; beyond 20 values, "(other)"."""
    from redissim.sim.workload import TALLY_MAX, tally_reply

    (w,) = _run([{"clients": 3, "requests": 40, "tally-replies": True,
                  "commands": [{"cmd": "GET", "weight": 1}, {"cmd": "INCR", "weight": 1}],
                  "keys": {"fixed": "k"}}])
    replies = w.extra["replies"]
    assert sum(replies.values()) == 40 and len(replies) <= TALLY_MAX + 1
    tally: dict[str, int] = {}
    from redissim.server.resp import ReplyError
    for r in (None, b"x", 3, "OK", ReplyError("WRONGTYPE Operation against a key")):
        tally_reply(tally, r)
    assert tally == {"nil": 1, "x": 1, "3": 1, "OK": 1, "error WRONGTYPE": 1}
    for i in range(30):
        tally_reply(tally, i + 100)
    assert len(tally) == TALLY_MAX + 1 and tally["(other)"] == 30 - (TALLY_MAX - 5)
