"""What a command refused before it runs costs a redis-server: CROSSSLOT, arity, unknown.

Run by hand:  .venv/bin/python benchmarks/calibrate_refusals.py [--requests 600000] [--repeat 5]

Starts a cluster-enabled redis-server that owns all 16384 slots (no redirections), on
127.0.0.1 in a temporary directory, and sends it, in pipelines of 100 on one connection,
each of: PING, GET of an existing key, MGET of two keys in different slots (refused
-CROSSSLOT by getNodeByQuery in processCommand), GET without its key (refused: wrong
number of arguments) and an unknown command. CPU per request is the server process's utime +
stime (/proc/PID/stat) over the run divided by the requests: everything the process did
(reading, parsing, the refusal or the command, writing). The best of ``--repeat`` runs is
kept. A refusal's own cost is its figure less PING's plus PING's call() (0.04 us in the
profile): what is left when the command does nothing. The figure goes to
redissim/profiles/default.yaml (commands.rejected-us) by hand, with the date.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_cluster import _cpu_s, _info, _start  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from realredis import find_redis_server  # noqa: E402

PIPELINE = 100
#: (name, command line, CRLFs in its reply)
CASES = [
    ("PING", ["PING"], 1),
    ("GET key", ["GET", "k"], 2),
    ("MGET a b: -CROSSSLOT", ["MGET", "a", "b"], 1),
    ("GET: wrong arity", ["GET"], 1),
    ("FOO x: unknown command", ["FOO", "x"], 1),
]


def _encode(args: list[str]) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a.encode())
    return out


def cpu_per_request(server, args: list[str], crlfs: int, requests: int) -> float:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    batch = _encode(args) * PIPELINE
    want = crlfs * PIPELINE
    cpu0 = _cpu_s(server.pid)
    for _ in range(requests // PIPELINE):
        sock.sendall(batch)
        got = 0
        while got < want:
            got += sock.recv(1 << 20).count(b"\r\n")
    cpu = _cpu_s(server.pid) - cpu0
    sock.close()
    return cpu / (requests // PIPELINE * PIPELINE) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=600_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    binary = find_redis_server()
    if binary is None:
        sys.exit("needs redis-server (apt-get install redis-server)")
    with tempfile.TemporaryDirectory() as d:
        server = _start(binary, Path(d), cluster=True)
        try:
            c = server.client()
            c.command("SET", "k", "abc")
            c.close()
            best = {name: min(cpu_per_request(server, line, crlfs, args.requests)
                              for _ in range(args.repeat))
                    for name, line, crlfs in CASES}
            errors = _info(server, "errorstats")
        finally:
            server.stop()
    for name, us in best.items():
        print(f"{name:<24} {us:.3f} us CPU per request (best of {args.repeat})")
    own = {name: us - best["PING"] + 0.04 for name, us in best.items() if name != "PING"}
    for name, us in own.items():
        print(f"{name:<24} {us:+.3f} us of its own (less PING's, plus PING's call() 0.04 us)")
    print("errorstats:", ", ".join(f"{k}={v}" for k, v in errors.items()))


if __name__ == "__main__":
    main()
