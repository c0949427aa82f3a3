"""Start a real ``redis-server`` for differential tests and talk raw RESP2 to it.

The client is deliberately tiny (a socket and a RESP2 parser, no redis-py) so replies are
compared exactly as the server sent them: ``+OK`` -> ``str``, ``$`` -> ``bytes``, ``:`` ->
``int``, nil -> ``None``, ``*`` -> ``list``, ``-ERR ...`` -> ``ReplyError``, the same
values ``Keyspace.execute`` returns.

Usage (pytest): the ``real_redis`` fixture in ``conftest.py`` starts one server per test
session on 127.0.0.1 and a free port, in a temporary directory, with persistence off; it
skips with a clear reason when ``redis-server`` is not installed, and stops the server by
its PID at the end.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from redissim.server.resp import ReplyError

__all__ = ["RespClient", "RedisServer", "find_redis_server", "free_port", "cluster_node",
           "own_all_slots", "temp_server", "redis_benchmark"]


def find_redis_server() -> str | None:
    """Path of the redis-server binary, or None (REDIS_SERVER env var overrides)."""
    env = os.environ.get("REDIS_SERVER")
    if env and Path(env).exists():
        return env
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


#: ports free_port draws from: below Linux's ephemeral range (32768-60999 by default), so that
#: no outgoing connection -- the test's clients, or cluster nodes connecting to each other --
#: can take a port between free_port's check and the server's bind (a cluster node once
#: failed to start so: "Failed listening on port 49277 (cluster)")
_PORTS = range(20_000, 32_000)
_port_rng = random.Random()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, outside the ephemeral range."""
    while True:
        port = _port_rng.choice(_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def _encode_command(args: Sequence[bytes | str]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


class RespClient:
    """A blocking RESP2 client over one TCP connection."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def close(self) -> None:
        self.sock.close()

    def command(self, *args: bytes | str) -> object:
        self.sock.sendall(_encode_command(args))
        return self._read_reply()

    def pipeline(self, commands: Sequence[Sequence[bytes | str]]) -> list[object]:
        self.sock.sendall(b"".join(_encode_command(c) for c in commands))
        return [self._read_reply() for _ in commands]

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("redis-server closed the connection")
        self.buf += chunk

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[: n + 2]
        return data

    def _read_reply(self) -> object:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("utf-8", "surrogateescape")
        if kind == b"-":
            return ReplyError(rest.decode("utf-8", "surrogateescape"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read_reply() for _ in range(n)]
        raise ValueError(f"unexpected RESP line {line!r}")


def _children(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (from /proc: no procps needed)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4, after "(comm)"
            out.append(int(d))
    return out


class RedisServer:
    """One redis-server process in ``workdir`` on a free port; stop() kills it by PID."""

    def __init__(self, binary: str, workdir: Path, extra: Sequence[str] = (),
                 conf: Path | None = None) -> None:
        self.binary = binary
        self.workdir = Path(workdir)
        self.port = free_port()
        self.extra = list(extra)
        #: a config file to start from (CONFIG REWRITE writes into it): it then gives save
        #: and appendonly too, which the command line sets otherwise
        self.conf = conf
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> RedisServer:
        args = [
            self.binary,
            *([str(self.conf)] if self.conf is not None else ["--save", "", "--appendonly", "no"]),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.workdir),
            "--daemonize", "no",
            "--logfile", str(self.workdir / "redis.log"),
            "--enable-debug-command", "yes",
            *self.extra,
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                c = RespClient("127.0.0.1", self.port)
                if c.command("PING") == "PONG":
                    c.close()
                    return self
                c.close()
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited early with code {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer PING in time")
            time.sleep(0.02)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def client(self) -> RespClient:
        return RespClient("127.0.0.1", self.port)

    def crash(self) -> None:
        """kill -9 of the server and of its children (a rewrite's or a BGSAVE's)."""
        if self.proc is None:
            return
        for pid in [self.proc.pid, *_children(self.proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def temp_server(binary: str) -> Iterator[RedisServer]:
    """A started server in a temporary directory, stopped by its PID and the directory removed
    on leaving the block."""
    with tempfile.TemporaryDirectory() as d:
        srv = RedisServer(binary, Path(d)).start()
        try:
            yield srv
        finally:
            srv.stop()


def redis_benchmark(port: int, *args: str, bench: str = "redis-benchmark"
                    ) -> tuple[dict[str, dict[str, float]], float, float]:
    """One ``redis-benchmark --csv`` run against 127.0.0.1:``port``: per test (``SET``...) its
    CSV figures as numbers (rps, avg_latency_ms, ...), the client's CPU in seconds (user +
    system, from wait4) and the run's wall time."""
    t = time.perf_counter()
    p = subprocess.Popen([bench, "-p", str(port), "--csv", *args], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout is not None
    out = p.stdout.read()  # (not communicate(): it would reap the process, and its rusage)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = status
    wall = time.perf_counter() - t
    if status:
        raise RuntimeError(f"redis-benchmark exited with status {status}")
    lines = [line.replace('"', "").split(",") for line in out.strip().splitlines()]
    head = lines[0]
    tests = {row[0]: {k: float(v) for k, v in zip(head[1:], row[1:], strict=True)}
             for row in lines[1:]}
    return tests, ru.ru_utime + ru.ru_stime, wall


def cluster_node(binary: str, workdir: Path) -> RedisServer:
    """A cluster-enabled redis-server in ``workdir`` (created), not started yet. The cluster
    bus gets its own free port (``cluster-port``): by default it is the client port + 10000,
    and redis-server refuses to start when that is above 65535, which a free ephemeral port
    often makes it."""
    workdir.mkdir(parents=True, exist_ok=True)
    return RedisServer(binary, workdir, [
        "--cluster-enabled", "yes",
        "--cluster-config-file", str(workdir / "nodes.conf"),
        "--cluster-port", str(free_port()),
        # failure detection is irrelevant here; a shorter timeout makes the nodes ping
        # each other more often, so a new cluster agrees sooner
        "--cluster-node-timeout", "2000",
    ])


def own_all_slots(server: RedisServer, timeout: float = 10.0) -> None:
    """Make a started cluster node a cluster of one: it takes all 16384 slots (so nothing
    is redirected), and this returns once the node reports ``cluster_state:ok``."""
    c = server.client()
    try:
        c.command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        deadline = time.monotonic() + timeout
        while b"cluster_state:ok" not in c.command("CLUSTER", "INFO"):
            if time.monotonic() > deadline:
                raise RuntimeError("the one-node cluster did not report cluster_state:ok")
            time.sleep(0.05)
    finally:
        c.close()
