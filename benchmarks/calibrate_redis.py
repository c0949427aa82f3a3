"""Measure a real redis-server to calibrate redissim's default cost profile.

Models nothing itself: it observes the mechanisms redissim models -- the ae event loop
(`src/ae.c:aeProcessEvents`), one read(2) per ready client (`src/networking.c:readQueryFromClient`),
command execution timed by `src/server.c:call` (INFO commandstats), reply writes in beforeSleep
(`src/networking.c:handleClientsWithPendingWrites`), KEYS (`src/db.c:keysCommand`), SCAN
(`src/db.c:scanGenericCommand` / `src/dict.c:dictScan`), serverCron, and fork for BGSAVE
(`src/rdb.c:rdbSaveBackground`, INFO `latest_fork_usec`).

Redis 7.0 has no event-loop counters (7.2 adds `eventloop_cycles`), so the number of loop
iterations is counted from outside: every iteration makes exactly one epoll_wait(2) call
(`src/ae_epoll.c:aeApiPoll`), and `perf stat -e syscalls:sys_enter_epoll_wait -p <pid>`
counts those (and the read/write syscalls) in the kernel at negligible cost. Without perf
(`--no-perf` or perf missing) there are no iteration counts and the loop fit is skipped.

Run by hand (about 8 minutes on an otherwise idle-ish 2-core box, mostly the pinned -c 1 runs;
`--quick` takes about a minute):

    python benchmarks/calibrate_redis.py --out benchmarks/data/redis-calibration.json

The server runs on 127.0.0.1 on a free port in a temporary directory with
`--save "" --appendonly no --enable-debug-command yes`, and is stopped by its PID.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REDIS_SERVER = "redis-server"
REDIS_BENCHMARK = "redis-benchmark"
REDIS_CLI = "redis-cli"

Reply = Any


# --------------------------------------------------------------------------------------
# Minimal RESP2 client: enough for INFO, CONFIG, DEBUG, KEYS and SCAN.  A library client
# (redis-py) would add a dependency and hide how many bytes/round trips we actually make.
# --------------------------------------------------------------------------------------


class RespError(Exception):
    """An error reply (`-ERR ...`) from the server."""


class RespClient:
    """Blocking RESP2 client over TCP; one request at a time unless `pipeline` is used."""

    def __init__(self, host: str, port: int, timeout_s: float = 120.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb", buffering=1 << 16)

    @staticmethod
    def encode(args: Sequence[str | bytes | int]) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def read_reply(self) -> Reply:
        line = self.rfile.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.rfile.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self.read_reply() for _ in range(n)]
        raise ValueError(f"bad RESP line {line!r}")

    def call(self, *args: str | bytes | int) -> Reply:
        self.sock.sendall(self.encode(args))
        return self.read_reply()

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()


def parse_info(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        out[k] = v
    return out


def info(client: RespClient, section: str = "everything") -> dict[str, str]:
    raw = client.call("INFO", section)
    return parse_info(raw.decode() if isinstance(raw, bytes) else raw)


def commandstats(client: RespClient) -> dict[str, dict[str, float]]:
    """INFO commandstats as {command: {calls, usec, usec_per_call, ...}}."""
    out: dict[str, dict[str, float]] = {}
    for k, v in info(client, "commandstats").items():
        if not k.startswith("cmdstat_"):
            continue
        fields = dict(kv.split("=", 1) for kv in v.split(","))
        out[k.removeprefix("cmdstat_")] = {fk: float(fv) for fk, fv in fields.items()}
    return out


STAT_FIELDS = (
    "total_commands_processed",
    "total_reads_processed",
    "total_writes_processed",
    "total_net_input_bytes",
    "total_net_output_bytes",
)


def counters(client: RespClient) -> dict[str, float]:
    """Cumulative counters we difference around each measurement."""
    d = info(client, "everything")
    out = {k: float(d[k]) for k in STAT_FIELDS}
    # Main-thread CPU (getrusage RUSAGE_THREAD): the event loop's own CPU time.
    out["cpu_main_us"] = 1e6 * (
        float(d["used_cpu_sys_main_thread"]) + float(d["used_cpu_user_main_thread"])
    )
    out["cpu_process_us"] = 1e6 * (float(d["used_cpu_sys"]) + float(d["used_cpu_user"]))
    # The kernel's share of it (system time: the syscalls and what the scheduler does on the
    # thread's behalf), and the reaped children's (a BGSAVE's), for --cpu-split.
    out["cpu_main_sys_us"] = 1e6 * float(d["used_cpu_sys_main_thread"])
    out["cpu_children_sys_us"] = 1e6 * float(d["used_cpu_sys_children"])
    out["cpu_children_us"] = 1e6 * (
        float(d["used_cpu_sys_children"]) + float(d["used_cpu_user_children"])
    )
    return out


# --------------------------------------------------------------------------------------
# Server and perf management
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def taskset_prefix(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


@dataclass
class RedisServer:
    """A redis-server child process on 127.0.0.1; stopped by PID in `stop`."""

    cpu: int | None = None
    extra: list[str] = field(default_factory=list)
    port: int = 0
    pid: int = 0
    proc: subprocess.Popen[bytes] | None = None
    tmp: str = ""

    def start(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="redissim-calib-")
        self.port = free_port()
        cmd = taskset_prefix(self.cpu) + [
            REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.tmp,
            "--save", "", "--appendonly", "no", "--enable-debug-command", "yes",
            "--daemonize", "no", "--logfile", os.path.join(self.tmp, "redis.log"), *self.extra,
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid  # taskset execs redis-server, so the PID is the server's
        deadline = time.monotonic() + 10
        while True:
            try:
                c = RespClient("127.0.0.1", self.port, timeout_s=2)
                c.call("PING")
                c.close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def client(self) -> RespClient:
        return RespClient("127.0.0.1", self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = ""


@contextmanager
def running_server(cpu: int | None = None, extra: list[str] | None = None) -> Iterator[RedisServer]:
    srv = RedisServer(cpu=cpu, extra=extra or [])
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


PERF_EVENTS = (
    "syscalls:sys_enter_epoll_wait",
    "syscalls:sys_enter_read",
    "syscalls:sys_enter_write",
    "syscalls:sys_enter_writev",
    "task-clock",
    "context-switches",
)


def perf_works() -> bool:
    if not shutil.which("perf"):
        return False
    r = subprocess.run(
        ["perf", "stat", "-x,", "-e", "syscalls:sys_enter_epoll_wait", "true"],
        capture_output=True, text=True,
    )  # fmt: skip
    return r.returncode == 0 and "not supported" not in r.stderr and "<not" not in r.stderr


class PerfCounter:
    """`perf stat -p PID` over a measured interval: in-kernel syscall counts + task-clock."""

    def __init__(self, pid: int, enabled: bool) -> None:
        self.pid, self.enabled = pid, enabled
        self.proc: subprocess.Popen[str] | None = None
        self.outfile = ""

    def __enter__(self) -> PerfCounter:
        if self.enabled:
            fd, self.outfile = tempfile.mkstemp(prefix="perf-", suffix=".csv")
            os.close(fd)
            self.proc = subprocess.Popen(
                ["perf", "stat", "-x,", "-o", self.outfile, "-e", ",".join(PERF_EVENTS),
                 "-p", str(self.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
            time.sleep(0.3)  # let perf attach before the measured work starts
        self.result: dict[str, float] = {}
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        with open(self.outfile) as f:
            for row in csv.reader(f):
                if len(row) < 3 or row[0].startswith("#") or not row[0].strip():
                    continue
                try:
                    val = float(row[0])
                except ValueError:
                    continue
                name = row[2].split(":")[-1].removeprefix("sys_enter_")
                self.result[name] = val  # task-clock is in msec
        os.unlink(self.outfile)


# --------------------------------------------------------------------------------------
# redis-benchmark runs
# --------------------------------------------------------------------------------------


def machine_busy_s() -> float:
    """Busy CPU seconds summed over all CPUs since boot (/proc/stat, non-idle fields)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_redis_benchmark(
    port: int, *, test: str | None = None, command: Sequence[str] = (), clients: int = 50,
    pipeline: int = 1, requests: int = 200000, keyspace: int | None = None,
    datasize: int | None = None, cpu: int | None = None,
) -> dict[str, float]:  # fmt: skip
    cmd = taskset_prefix(cpu) + [
        REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
        "-P", str(pipeline), "-n", str(requests), "--csv",
    ]  # fmt: skip
    if keyspace:
        cmd += ["-r", str(keyspace)]
    if datasize:
        cmd += ["-d", str(datasize)]
    if test:
        cmd += ["-t", test]
    cmd += list(command)
    busy0, ru0 = machine_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    busy1, ru1 = machine_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = [r for r in csv.DictReader(io.StringIO(out))]
    if len(rows) != 1:
        raise RuntimeError(f"unexpected redis-benchmark output: {out!r}")
    r = rows[0]
    return {
        "rps": float(r["rps"]),
        "avg_ms": float(r["avg_latency_ms"]),
        "min_ms": float(r["min_latency_ms"]),
        "p50_ms": float(r["p50_latency_ms"]),
        "p95_ms": float(r["p95_latency_ms"]),
        "p99_ms": float(r["p99_latency_ms"]),
        "max_ms": float(r["max_latency_ms"]),
        "process_wall_s": wall,
        # Whole-machine busy CPU seconds and redis-benchmark's own CPU over the run: the
        # server's CPU is added by the caller, the rest is other load on the box.
        "machine_busy_cpu_s": busy1 - busy0,
        "benchmark_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
    }


def measured_run(
    srv: RedisServer, use_perf: bool, label: str, **bench_kwargs: Any
) -> dict[str, Any]:
    """One redis-benchmark run with INFO deltas, commandstats and perf counts around it."""
    c = srv.client()
    c.call("CONFIG", "RESETSTAT")
    before = counters(c)
    with PerfCounter(srv.pid, use_perf) as perf:
        bench = run_redis_benchmark(srv.port, **bench_kwargs)
    after = counters(c)
    cstats = commandstats(c)
    c.close()
    delta = {k: after[k] - before[k] for k in before}
    # Keep only the benchmarked commands (drop our INFO/CONFIG and redis-benchmark's CONFIG GET).
    cstats = {
        k: v
        for k, v in cstats.items()
        if k not in ("info", "config|resetstat", "config|get", "config")
    }
    return {
        "label": label,
        "params": {k: v for k, v in bench_kwargs.items() if k != "cpu"},
        "bench_cpu": bench_kwargs.get("cpu"),
        "server_cpu": srv.cpu,
        "bench": bench,
        "delta": delta,
        "perf": perf.result,
        "commandstats": cstats,
    }


def load_matrix(srv: RedisServer, use_perf: bool, bench_cpu: int | None, requests: int,
                pin_label: str) -> list[dict[str, Any]]:  # fmt: skip
    """SET and GET at (-c 1|50) x (-P 1|16) x (no -r | -r 100000)."""
    runs = []
    for keyspace in (None, 100000):
        for clients in (1, 50):
            for pipeline in (1, 16):
                for test in ("set", "get"):
                    label = f"{pin_label} {test} c{clients} P{pipeline}" + (
                        f" r{keyspace}" if keyspace else ""
                    )
                    run = measured_run(
                        srv, use_perf, label, test=test, clients=clients, pipeline=pipeline,
                        requests=requests, keyspace=keyspace, cpu=bench_cpu,
                    )  # fmt: skip
                    b = run["bench"]
                    print(f"  {label:32s} rps={b['rps']:>10.0f} avg={b['avg_ms']:.3f} ms "
                          f"p50={b['p50_ms']:.3f} p99={b['p99_ms']:.3f}", flush=True)  # fmt: skip
                    runs.append(run)
    return runs


# Per-command execution costs: (label, redis-benchmark args). Keys are prepopulated.
COMMAND_SUITE: list[tuple[str, dict[str, Any]]] = [
    ("ping", {"test": "ping_mbulk"}),
    ("set", {"test": "set"}),
    ("get", {"test": "get"}),
    # a GET whose key does not exist (none of the prepopulated keys is named nokey:...)
    ("get-miss", {"command": ["GET", "nokey:__rand_int__"]}),
    # (next to the GET it is compared with: later commands run on keys EXPIRE gave TTLs and
    # beside 100k hashes, where HGET and TTL measured 1.4-1.7 times what they cost against a
    # GET on their own, benchmarks/RESULTS.md)
    ("del-miss", {"command": ["DEL", "nokey:__rand_int__"]}),
    ("incr", {"command": ["INCR", "ctr:__rand_int__"]}),
    ("exists", {"command": ["EXISTS", "key:__rand_int__"]}),
    ("exists-miss", {"command": ["EXISTS", "nokey:__rand_int__"]}),
    ("expire", {"command": ["EXPIRE", "key:__rand_int__", "100000"]}),
    ("ttl", {"command": ["TTL", "key:__rand_int__"]}),
    ("ttl-miss", {"command": ["TTL", "nokey:__rand_int__"]}),
    ("hset", {"command": ["HSET", "h:__rand_int__", "f", "v"]}),
    ("hget", {"command": ["HGET", "h:__rand_int__", "f"]}),
    ("hget-miss", {"command": ["HGET", "noh:__rand_int__", "f"]}),
    ("lpush", {"test": "lpush"}),
    ("rpop", {"test": "rpop"}),
    ("mget1", {"command": ["MGET", "key:__rand_int__"]}),
    ("mget10", {"command": ["MGET"] + ["key:__rand_int__"] * 10}),
    ("mset1", {"command": ["MSET", "key:__rand_int__", "xxx"]}),
    ("mset10", {"command": ["MSET"] + ["key:__rand_int__", "xxx"] * 10}),
    # 20,000 DELs over the 100k keys find nine in ten there (a DEL of a key a previous one
    # removed misses): the hit's cost is taken from the share of hits (keys_before less
    # keys_after) and the miss's own cost (del_hit_usec), and compared with the GET just
    # before it
    ("get-late", {"command": ["GET", "key:__rand_int__"]}),
    ("del-hits", {"command": ["DEL", "key:__rand_int__"], "requests": 20000}),
    ("del", {"command": ["DEL", "key:__rand_int__"]}),
]


def command_suite(srv: RedisServer, use_perf: bool, bench_cpu: int | None,
                  requests: int) -> list[dict[str, Any]]:  # fmt: skip
    c = srv.client()
    c.call("FLUSHALL")
    c.close()
    # Prepopulate key:<12 digits> (redis-benchmark's __rand_int__ format) so reads mostly hit.
    run_redis_benchmark(srv.port, test="set", clients=50, pipeline=16, requests=400000,
                        keyspace=100000, cpu=bench_cpu)  # fmt: skip
    runs = []
    for label, kw in COMMAND_SUITE:
        params = {"clients": 50, "pipeline": 16, "requests": requests, "keyspace": 100000} | kw
        c = srv.client()
        keys_before = c.call("DBSIZE")
        run = measured_run(srv, use_perf, f"cmd {label}", cpu=bench_cpu, **params)
        # (DEL's hits: the keys it removed)
        run["keys_before"], run["keys_after"] = keys_before, c.call("DBSIZE")
        c.close()
        cs = run["commandstats"]
        print(f"  cmd {label:8s} " + ", ".join(
            f"{k}: {v['usec_per_call']:.3f} us/call" for k, v in cs.items()), flush=True)  # fmt: skip
        runs.append(run)
    return runs


def payload_suite(srv: RedisServer, use_perf: bool, bench_cpu: int | None,
                  requests: int) -> list[dict[str, Any]]:  # fmt: skip
    """SET then GET at -c 50 -P 1 with growing values: per-byte read/parse and write costs."""
    runs = []
    for size in (3, 1024, 8192):
        c = srv.client()
        c.call("FLUSHALL")
        c.close()
        for test in ("set", "get"):
            run = measured_run(srv, use_perf, f"payload {test} d{size}", test=test, clients=50,
                               pipeline=1, requests=requests, keyspace=10000, datasize=size,
                               cpu=bench_cpu)  # fmt: skip
            b = run["bench"]
            print(f"  payload {test} d{size:<5d} rps={b['rps']:>9.0f}", flush=True)
            runs.append(run)
    return runs


# --------------------------------------------------------------------------------------
# KEYS / SCAN / fork / idle cron / RTT
# --------------------------------------------------------------------------------------


def wait_rehash_done(c: RespClient, timeout_s: float = 30.0) -> str:
    """Wait until DEBUG HTSTATS 0 shows no rehashing (cron finishes it ~1 ms per tick)."""
    deadline = time.monotonic() + timeout_s
    while True:
        st = c.call("DEBUG", "HTSTATS", "0")
        text = st.decode() if isinstance(st, bytes) else str(st)
        if "Rehashing target" not in text and "rehashing target" not in text:
            return text
        if time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def table_size(htstats: str) -> int:
    for line in htstats.splitlines():
        line = line.strip()
        if line.startswith("table size:"):
            return int(line.split(":")[1])
    raise ValueError(f"no table size in {htstats!r}")


def rev_bits(v: int, bits: int) -> int:
    return int(f"{v:0{bits}b}"[::-1], 2)


def timed_command(c: RespClient, *args: str) -> tuple[float, float, Reply]:
    """(server usec from commandstats, client wall usec, reply) for one call."""
    c.call("CONFIG", "RESETSTAT")
    t0 = time.perf_counter()
    reply = c.call(*args)
    wall = (time.perf_counter() - t0) * 1e6
    name = args[0].lower()
    usec = commandstats(c)[name]["usec"]
    return usec, wall, reply


def keys_scan(srv: RedisServer, nkeys: int, repeats: int) -> dict[str, Any]:
    c = srv.client()
    c.call("FLUSHALL")
    t0 = time.perf_counter()
    c.call("DEBUG", "POPULATE", nkeys)  # keys key:0 .. key:N-1
    populate_s = time.perf_counter() - t0
    ht = wait_rehash_done(c)
    size = table_size(ht)
    out: dict[str, Any] = {"nkeys": nkeys, "populate_s": populate_s, "table_size": size,
                           "keys": {}, "scan": {}}  # fmt: skip
    for pattern in ("nomatch*", "key:1*", "*"):
        samples = []
        for _ in range(repeats):
            usec, wall, reply = timed_command(c, "KEYS", pattern)
            samples.append({"usec": usec, "client_wall_us": wall, "returned": len(reply)})
        out["keys"][pattern] = samples
        print(f"  KEYS {pattern:9s} returned={samples[0]['returned']:>8d} "
              f"usec={[round(s['usec']) for s in samples]}", flush=True)  # fmt: skip
    bits = size.bit_length() - 1
    for count in (10, 100, 1000):
        ncalls = {10: 4000, 100: 1000, 1000: 300}[count]
        c.call("CONFIG", "RESETSTAT")
        cursor, keys_ret, buckets = 0, 0, 0
        pos = 0  # position in the reverse-binary visiting order = buckets visited so far
        calls = 0
        for _ in range(ncalls):
            reply = c.call("SCAN", cursor, "COUNT", count)
            cursor = int(reply[0])
            keys_ret += len(reply[1])
            calls += 1
            new_pos = size if cursor == 0 else rev_bits(cursor, bits)
            buckets += new_pos - pos
            pos = new_pos
            if cursor == 0:
                break
        st = commandstats(c)["scan"]
        out["scan"][str(count)] = {
            "calls": st["calls"], "usec": st["usec"], "usec_per_call": st["usec_per_call"],
            "keys_returned": keys_ret, "buckets_visited": buckets,
        }  # fmt: skip
        print(f"  SCAN COUNT {count:<5d} {st['usec_per_call']:.2f} us/call, "
              f"{keys_ret / calls:.1f} keys/call, {buckets / calls:.1f} buckets/call", flush=True)  # fmt: skip
    c.close()
    return out


def fork_times(srv: RedisServer, sizes: Sequence[int], repeats: int) -> list[dict[str, Any]]:
    c = srv.client()
    out = []
    for n in sizes:
        c.call("FLUSHALL")
        c.call("DEBUG", "POPULATE", n)
        wait_rehash_done(c)
        for _ in range(repeats):
            c.call("BGSAVE")
            deadline = time.monotonic() + 120
            while True:
                d = info(c, "persistence")
                if d["rdb_bgsave_in_progress"] == "0":
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("BGSAVE did not finish")
                time.sleep(0.05)
            d = info(c, "everything")
            rec = {"keys": n, "latest_fork_usec": int(d["latest_fork_usec"]),
                   "used_memory": int(d["used_memory"]),
                   "used_memory_rss": int(d["used_memory_rss"]),
                   "rdb_last_bgsave_status": d["rdb_last_bgsave_status"]}  # fmt: skip
            out.append(rec)
            print(f"  fork {n} keys: {rec['latest_fork_usec']} us, rss "
                  f"{rec['used_memory_rss'] / 2**20:.0f} MiB", flush=True)  # fmt: skip
    c.close()
    return out


def idle_cron(srv: RedisServer, use_perf: bool, seconds: float, label: str) -> dict[str, Any]:
    """Main-thread CPU of an idle server: cost of the timer-driven iterations (serverCron)."""
    c = srv.client()
    hz = int(c.call("CONFIG", "GET", "hz")[1])
    before = counters(c)
    c.close()  # no connected client while idle (clientsCron has nothing to visit but us)
    with PerfCounter(srv.pid, use_perf) as perf:
        time.sleep(seconds)
    c = srv.client()
    after = counters(c)
    c.close()
    return {"label": label, "hz": hz, "seconds": seconds, "perf": perf.result,
            "cpu_main_us": after["cpu_main_us"] - before["cpu_main_us"]}  # fmt: skip


def python_ping_rtt(srv: RedisServer, n: int) -> dict[str, Any]:
    c = srv.client()
    c.call("CONFIG", "RESETSTAT")
    before = counters(c)
    msg = RespClient.encode(["PING"])
    sock = c.sock
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        sock.sendall(msg)
        buf = sock.recv(64)
        samples.append((time.perf_counter_ns() - t0) / 1000)
        assert buf == b"+PONG\r\n"
    after = counters(c)
    ping_usec = commandstats(c)["ping"]["usec_per_call"]
    c.close()
    samples.sort()
    return {
        "n": n,
        "min_us": samples[0],
        "p50_us": samples[n // 2],
        "mean_us": statistics.fmean(samples),
        "p99_us": samples[int(n * 0.99)],
        "server_cpu_main_us_per_ping": (after["cpu_main_us"] - before["cpu_main_us"]) / n,
        "ping_usec_per_call": ping_usec,
    }


def redis_cli_latency(srv: RedisServer, seconds: float) -> dict[str, Any]:
    """`redis-cli --latency -i 0.1`; when not on a TTY it prints 'min max avg samples' at exit."""
    try:
        r = subprocess.run(
            ["timeout", "-s", "INT", str(seconds), REDIS_CLI, "-h", "127.0.0.1", "-p",
             str(srv.port), "--latency", "-i", "0.1"],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        parts = r.stdout.split()
        return {"raw": r.stdout.strip(), "min_ms": float(parts[0]), "max_ms": float(parts[1]),
                "avg_ms": float(parts[2]), "samples": int(parts[3])}  # fmt: skip
    except (IndexError, ValueError) as e:
        return {"error": str(e)}


# --------------------------------------------------------------------------------------
# Derivation
# --------------------------------------------------------------------------------------


def exec_usec(run: dict[str, Any]) -> float:
    return sum(v["usec"] for v in run["commandstats"].values())


def nnls_small(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Non-negative least squares by trying every column subset (a has <= 5 columns)."""
    best, best_err = np.zeros(a.shape[1]), float(np.sum(b**2))
    for mask in range(1, 1 << a.shape[1]):
        cols = [j for j in range(a.shape[1]) if mask >> j & 1]
        coef, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
        if np.any(coef < 0):
            continue
        err = float(np.sum((a[:, cols] @ coef - b) ** 2))
        if err < best_err:
            best, best_err = np.zeros(a.shape[1]), err
            best[cols] = coef
    return best


FIT_TERMS = ("iteration_us", "wakeup_us", "io_pair_us", "parse_per_command_us")


def fit_loop_costs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Non-negative least squares on server main-thread CPU of the load-matrix runs.

    cpu - exec_usec = I*iteration_us + S*wakeup_us + R*io_pair_us + N*parse_per_command_us
    I = epoll_wait calls (loop iterations), S = context switches of the server (times the
    loop really went to sleep in epoll_wait and had to be woken: on a VM that wake-up is the
    dominant cost at low load), R = reads (= writes within 1 %, so a read and its write form
    one 'I/O pair'; counts cannot separate them), N = commands.  Each row is divided by its
    observed value so the fit minimises *relative* error (runs differ 20x in CPU per command).
    """
    rows, y, labels = [], [], []
    for r in runs:
        d, p = r["delta"], r["perf"]
        iters = p.get("epoll_wait")
        if not iters:
            continue
        n = d["total_commands_processed"]
        rows.append([iters / n, p.get("context-switches", 0) / n,
                     d["total_reads_processed"] / n, 1.0])  # fmt: skip
        y.append((d["cpu_main_us"] - exec_usec(r)) / n)
        labels.append(r["label"])
    if len(rows) < 5:
        return {"error": "not enough runs with perf iteration counts"}
    a, b = np.array(rows, dtype=float), np.array(y, dtype=float)
    w = 1.0 / b
    coef = nnls_small(a * w[:, None], b * w)
    pred = a @ coef
    resid = [
        {"label": lab, "observed_us_per_cmd": float(o), "predicted_us_per_cmd": float(pr),
         "residual_pct": float(100 * (o - pr) / o),
         "x_per_cmd": dict(zip(("iterations", "wakeups", "reads", "commands"), map(float, row),
                               strict=True))}
        for lab, o, pr, row in zip(labels, b, pred, rows, strict=True)
    ]  # fmt: skip
    out: dict[str, Any] = {t: float(c) for t, c in zip(FIT_TERMS, coef, strict=True)}
    out["rms_residual_pct"] = float(np.sqrt(np.mean([x["residual_pct"] ** 2 for x in resid])))
    out["residuals"] = resid
    return out


def perf_trace_split(srv: RedisServer, bench_cpu: int | None) -> dict[str, Any]:
    """Relative in-kernel time of read vs write vs epoll_wait from `perf trace -s`.

    perf trace adds a large per-syscall overhead (it slows the server ~4x), so only the
    *ratio* of (avg - min) times is used, to split the fitted read+write pair; say so.
    """
    if not shutil.which("perf"):
        return {"error": "perf missing"}
    fd, path = tempfile.mkstemp(prefix="perftrace-")
    os.close(fd)
    tr = subprocess.Popen(["perf", "trace", "-s", "-p", str(srv.pid), "-o", path],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(1.0)
    run_redis_benchmark(srv.port, test="get", clients=50, pipeline=1, requests=50000,
                        keyspace=100000, cpu=bench_cpu)  # fmt: skip
    tr.send_signal(signal.SIGINT)
    tr.wait(timeout=30)
    text = Path(path).read_text()
    os.unlink(path)
    out: dict[str, Any] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 7 and parts[0] in ("read", "write", "epoll_wait"):
            if parts[0] in out:  # first table = main thread (most calls)
                continue
            out[parts[0]] = {"calls": int(parts[1]), "total_ms": float(parts[3]),
                             "min_ms": float(parts[4]), "avg_ms": float(parts[5])}  # fmt: skip
    if "read" in out and "write" in out:
        floor = min(out["read"]["min_ms"], out["write"]["min_ms"])
        r = out["read"]["avg_ms"] - floor
        w = out["write"]["avg_ms"] - floor
        out["read_share_of_pair"] = r / (r + w) if r + w > 0 else None
        out["read_share_raw_avg"] = out["read"]["avg_ms"] / (
            out["read"]["avg_ms"] + out["write"]["avg_ms"]
        )
    return out


def per_run_summary(r: dict[str, Any]) -> dict[str, float]:
    d, p, b = r["delta"], r["perf"], r["bench"]
    n = d["total_commands_processed"]
    wall_s = n / b["rps"]
    out = {
        "commands": n,
        "reads_per_command": d["total_reads_processed"] / n,
        "writes_per_command": d["total_writes_processed"] / n,
        "server_cpu_us_per_command": d["cpu_main_us"] / n,
        "exec_us_per_command": exec_usec(r) / n,
        "server_utilisation": d["cpu_main_us"] / 1e6 / wall_s,
        "benchmark_cpu_cores": b.get("benchmark_cpu_s", 0) / b["process_wall_s"],
        "other_load_cores": (
            b.get("machine_busy_cpu_s", 0) - b.get("benchmark_cpu_s", 0) - d["cpu_process_us"] / 1e6
        )
        / b["process_wall_s"],
        "in_bytes_per_command": d["total_net_input_bytes"] / n,
        "out_bytes_per_command": d["total_net_output_bytes"] / n,
    }
    if p.get("epoll_wait"):
        out["iterations_per_command"] = p["epoll_wait"] / n
        out["reads_per_iteration"] = d["total_reads_processed"] / p["epoll_wait"]
        out["read_syscalls_per_command"] = p.get("read", 0) / n
        out["write_syscalls_per_command"] = (p.get("write", 0) + p.get("writev", 0)) / n
    return out


def derive(data: dict[str, Any]) -> dict[str, Any]:
    der: dict[str, Any] = {}
    matrix = data["load_matrix"]
    for r in matrix:
        r["summary"] = per_run_summary(r)
    for pin in {r["label"].split()[0] for r in matrix}:
        der[f"loop_fit_{pin}"] = fit_loop_costs([r for r in matrix if r["label"].startswith(pin)])
    der["loop_fit_all"] = fit_loop_costs(matrix)
    reps = data.get("repeat_runs", [])
    if reps:
        for rep in reps:
            for r in rep["load_matrix"]:
                r["summary"] = per_run_summary(r)
        pooled = matrix + [r for rep in reps for r in rep["load_matrix"]]
        der["loop_fit_pooled"] = fit_loop_costs(pooled)
        der["loop_fit_pooled_unpinned"] = fit_loop_costs(
            [r for r in pooled if r["label"].startswith("unpinned")]
        )
        der["repeat_fits"] = [
            {"date_utc": rep.get("date_utc"), "fit": {k: v for k, v in
             fit_loop_costs(rep["load_matrix"]).items() if k != "residuals"}}
            for rep in reps
        ]  # fmt: skip

    # Split the I/O pair into read and write by in-kernel time share measured by perf trace
    # is not attempted; see the report. Network one-way from -c 1 -P 1: the closed-loop cycle
    # time 1/rps minus server main-thread CPU per request, halved.
    oneway = {}
    for r in matrix:
        p = r["params"]
        if p["clients"] == 1:
            s = r["summary"]
            cycle_us = 1e6 * p["pipeline"] / r["bench"]["rps"]
            server_us = s["server_cpu_us_per_command"] * p["pipeline"]
            oneway[r["label"]] = {"cycle_us": cycle_us, "server_cpu_us_per_cycle": server_us,
                                  "one_way_us": (cycle_us - server_us) / 2}  # fmt: skip
    der["one_way_from_c1"] = oneway

    cmd = {}
    for r in data.get("command_suite", []):
        label = r["label"].removeprefix("cmd ")
        for name, st in r["commandstats"].items():
            cmd[f"{label}:{name}"] = st["usec_per_call"]
    der["usec_per_call"] = cmd
    if "mget1:mget" in cmd and "mget10:mget" in cmd:
        per_key = (cmd["mget10:mget"] - cmd["mget1:mget"]) / 9
        der["mget"] = {"base_us": cmd["mget1:mget"] - per_key, "per_key_us": per_key}
    if "mset1:mset" in cmd and "mset10:mset" in cmd:
        per_key = (cmd["mset10:mset"] - cmd["mset1:mset"]) / 9
        der["mset"] = {"base_us": cmd["mset1:mset"] - per_key, "per_key_us": per_key}

    # Per-byte: slope of (cpu - exec)/command vs input bytes/command for SET, output for GET.
    pay = data.get("payload_suite", [])
    for test, key in (("set", "total_net_input_bytes"), ("get", "total_net_output_bytes")):
        pts = [r for r in pay if r["label"].startswith(f"payload {test}")]
        if len(pts) >= 2:
            x = np.array([r["delta"][key] / r["delta"]["total_commands_processed"] for r in pts])
            y_noexec = np.array([(r["delta"]["cpu_main_us"] - exec_usec(r))
                                 / r["delta"]["total_commands_processed"] for r in pts])  # fmt: skip
            y_exec = np.array([exec_usec(r) / r["delta"]["total_commands_processed"] for r in pts])
            s1, i1 = np.polyfit(x, y_noexec, 1)
            s2, i2 = np.polyfit(x, y_exec, 1)
            der[f"payload_{test}"] = {
                "bytes_per_command": x.tolist(),
                "io_us_per_command": y_noexec.tolist(),
                "exec_us_per_command": y_exec.tolist(),
                "io_ns_per_byte": 1000 * s1, "io_intercept_us": i1,
                "exec_ns_per_byte": 1000 * s2, "exec_intercept_us": i2,
            }  # fmt: skip

    ks = data.get("keys_scan")
    if ks:
        n = ks["nkeys"]
        med = {p: statistics.median(s["usec"] for s in v) for p, v in ks["keys"].items()}
        ret = {p: v[0]["returned"] for p, v in ks["keys"].items()}
        # nomatch*: every key iterated and matched against the pattern (fails at the first
        # byte), none returned. '*' skips the match and returns every key. Their difference
        # per key is the cost of returning a key (expire check + reply node); 'key:1*' is the
        # check, and shows the extra cost of a pattern that matches further before failing.
        per_scanned = med["nomatch*"] / n
        per_returned = (med["*"] - med["nomatch*"]) / ret["*"]
        der["keys"] = {
            "median_usec": med,
            "returned": ret,
            "per_key_scanned_us": per_scanned,
            "per_key_returned_us": per_returned,
            "check_key1_predicted_usec": per_scanned * n + per_returned * ret["key:1*"],
            "check_key1_measured_usec": med["key:1*"],
            # A pattern that matches a few bytes before failing costs more per key scanned.
            "per_key_scanned_prefix_pattern_us": (med["key:1*"] - per_returned * ret["key:1*"]) / n,
        }
        sc = ks["scan"]
        # keys returned ~ buckets visited x fill, so the two are collinear on one table:
        # fit usec = base + per_bucket * buckets (keys ride along) and report both ratios.
        bk = np.array([v["buckets_visited"] / v["calls"] for v in sc.values()])
        kk = np.array([v["keys_returned"] / v["calls"] for v in sc.values()])
        yy = np.array([v["usec_per_call"] for v in sc.values()])
        sb, ib = np.polyfit(bk, yy, 1)
        sk, ik = np.polyfit(kk, yy, 1)
        der["scan"] = {
            "per_bucket_us": sb, "base_us_bucket_fit": ib,
            "per_key_us": sk, "base_us_key_fit": ik,
            "keys_per_bucket": float(np.sum(kk) / np.sum(bk)),
            "residuals_us_bucket_fit": (yy - (ib + sb * bk)).tolist(),
            "note": "keys and buckets are collinear on one table: use one or the other",
        }  # fmt: skip

    fk = data.get("fork", [])
    if fk:
        by_n: dict[int, list[dict[str, Any]]] = {}
        for f in fk:
            by_n.setdefault(f["keys"], []).append(f)
        der["fork"] = {
            str(n): {"median_fork_ms": statistics.median(x["latest_fork_usec"] for x in v) / 1000,
                     "used_memory_gb": v[-1]["used_memory"] / 2**30,
                     "rss_gb": v[-1]["used_memory_rss"] / 2**30,
                     "ms_per_gb_rss": statistics.median(x["latest_fork_usec"] for x in v) / 1000
                     / (v[-1]["used_memory_rss"] / 2**30)}
            for n, v in by_n.items()
        }  # fmt: skip
    idle = data.get("idle_cron", [])
    der["idle"] = [
        {"label": i["label"], "hz": i["hz"],
         "iterations_per_s": i["perf"].get("epoll_wait", 0) / i["seconds"],
         "task_clock_us_per_iteration": 1000 * i["perf"]["task-clock"] / i["perf"]["epoll_wait"]
         if i["perf"].get("epoll_wait") else None,
         "main_cpu_us_per_iteration_rusage": i["cpu_main_us"] / i["perf"]["epoll_wait"]
         if i["perf"].get("epoll_wait") else None}
        for i in idle
    ]  # fmt: skip
    return der


def del_hit_usec(suite: Sequence[dict[str, Any]]) -> float | None:
    """A DEL that finds its key, from one suite's ``del-hits`` run (mostly hits) and its
    ``del-miss`` run: usec per call = h * hit + (1 - h) * miss, h the share of hits."""
    runs = {r["label"]: r for r in suite}
    hits, miss = runs.get("cmd del-hits"), runs.get("cmd del-miss")
    if hits is None or miss is None or "keys_before" not in hits:
        return None
    calls = hits["commandstats"]["del"]["calls"]
    h = (hits["keys_before"] - hits["keys_after"]) / calls
    mixed = hits["commandstats"]["del"]["usec"] / calls
    m = miss["commandstats"]["del"]["usec_per_call"]
    return (mixed - (1 - h) * m) / h if h > 0 else None


def least_usec_per_call(suites: Sequence[Sequence[dict[str, Any]]]) -> dict[str, float]:
    """"label:command" -> the least usec_per_call over runs of the command suite."""
    least: dict[str, float] = {}
    for suite in suites:
        for r in suite:
            label = r["label"].removeprefix("cmd ")
            for name, st in r["commandstats"].items():
                key = f"{label}:{name}"
                least[key] = min(least.get(key, st["usec_per_call"]), st["usec_per_call"])
        hit = del_hit_usec(suite)
        if hit is not None:
            least["del-hit:del"] = min(least.get("del-hit:del", hit), hit)
    return least


def proposed_profile(data: dict[str, Any], fit_key: str = "loop_fit_unpinned") -> dict[str, Any]:
    """The figures for redissim/profiles/default.yaml, from the derived block."""
    der = data["derived"]
    reps = data.get("repeat_runs", [])
    if reps and "loop_fit_pooled_unpinned" in der:
        fit_key = "loop_fit_pooled_unpinned"
    fit = der.get(fit_key) or der["loop_fit_all"]
    split = data.get("perf_trace_split", {}).get("read_share_of_pair") or 0.5
    # Command costs: the MINIMUM over this run and any pooled repeat runs.  usec_per_call is
    # wall-clock time inside call() (monotonic clock), so on a shared box it also holds the
    # time the server thread was preempted by other work; preemption only ever adds.
    runs_all = [data] + reps
    cmd = least_usec_per_call([run.get("command_suite", []) for run in runs_all])

    def c(label: str) -> float:
        return float(cmd[label])

    if "error" in fit:
        fit = {t: float("nan") for t in FIT_TERMS} | {"error": fit["error"]}
    prof: dict[str, Any] = {
        "loop": {
            "iteration_us": fit["iteration_us"],
            "wakeup_us": fit["wakeup_us"],
            "read_us": fit["io_pair_us"] * split,
            "write_us": fit["io_pair_us"] * (1 - split),
            "parse_per_command_us": fit["parse_per_command_us"],
        },
        "commands_usec": {
            "ping": c("ping:ping"),
            "get": c("get:get"),
            "set": c("set:set"),
            "incr": c("incr:incr"),
            "del": c("del-hit:del") if "del-hit:del" in cmd else c("del:del"),
            "exists": c("exists:exists"),
            "expire": c("expire:expire"),
            "ttl": c("ttl:ttl"),
            "hset": c("hset:hset"),
            "hget": c("hget:hget"),
            "lpush": c("lpush:lpush"),
            "rpop": c("rpop:rpop"),
        },  # fmt: skip
    }
    prof["commands_miss_usec"] = {name: c(f"{name}-miss:{name}")
                                  for name in ("get", "hget", "exists", "ttl", "del")
                                  if f"{name}-miss:{name}" in cmd}
    for m in ("mget", "mset"):
        if f"{m}1:{m}" in cmd and f"{m}10:{m}" in cmd:
            per_key = (cmd[f"{m}10:{m}"] - cmd[f"{m}1:{m}"]) / 9
            prof["commands_usec"][f"{m}_base"] = max(cmd[f"{m}1:{m}"] - per_key, 0.0)
            prof["commands_usec"][f"{m}_per_key"] = per_key
    if "payload_set" in der:
        prof["loop"]["parse_per_byte_ns"] = max(der["payload_set"]["io_ns_per_byte"], 0.0)
        prof["commands_usec"]["set_per_byte_ns"] = max(der["payload_set"]["exec_ns_per_byte"], 0.0)
    if "payload_get" in der:
        prof["loop"]["write_per_byte_ns"] = max(der["payload_get"]["io_ns_per_byte"], 0.0)
    # KEYS / SCAN: minimum over repeats and runs, for the same preemption reason.
    ks_runs = [r["keys_scan"] for r in runs_all if r.get("keys_scan")]
    if ks_runs:
        n = ks_runs[0]["nkeys"]
        kmin = {
            p: min(x["usec"] for k in ks_runs for x in k["keys"][p]) for p in ks_runs[0]["keys"]
        }
        ret = {p: ks_runs[0]["keys"][p][0]["returned"] for p in kmin}
        per_ret = (kmin["*"] - kmin["nomatch*"]) / ret["*"]
        prof["keys"] = {
            "min_usec": kmin,
            "per_key_scanned_us": kmin["nomatch*"] / n,
            "per_key_returned_us": per_ret,
            "per_key_scanned_prefix_pattern_us": (kmin["key:1*"] - per_ret * ret["key:1*"]) / n,
        }
        pts = []
        for count in ks_runs[0]["scan"]:
            best = min((k["scan"][count] for k in ks_runs), key=lambda v: v["usec_per_call"])
            pts.append((best["buckets_visited"] / best["calls"], best["keys_returned"] / best["calls"],
                        best["usec_per_call"]))  # fmt: skip
        bk, kk, yy = (np.array(x) for x in zip(*pts, strict=True))
        sb, ib = np.polyfit(bk, yy, 1)
        prof["scan"] = {
            "min_usec_per_call": dict(zip(ks_runs[0]["scan"], yy.tolist(), strict=True)),
            "base_us": max(float(ib), 0.0),
            "per_bucket_us": float(sb),
            "keys_per_bucket": float(kk.sum() / bk.sum()),
        }
    # Idle serverCron: per-iteration task-clock of an idle server, minimum over runs.
    idle: dict[str, float] = {}
    for run in runs_all:
        for i in run.get("idle_cron", []):
            if i["perf"].get("epoll_wait"):
                v = 1000 * i["perf"]["task-clock"] / i["perf"]["epoll_wait"]
                idle[i["label"]] = min(v, idle.get(i["label"], v))
    t10, t100 = idle.get("1M keys hz10"), idle.get("1M keys hz100")
    if t10 and t100:
        # hz 10: every tick also samples RSS/allocator stats (100 ms period); hz 100: one
        # tick in 10 does.  t10 = base + mem, t100 = base + mem/10.
        mem = (t10 - t100) * 10 / 9
        prof["cron"] = {"idle_us_per_tick": idle, "tick_base_us": t10 - mem,
                        "memstats_100ms_us": mem}  # fmt: skip
    # Loopback one-way = (closed-loop cycle at -c 1 -P 1 - server main-thread CPU) / 2, over
    # every unpinned -c 1 -P 1 run of this and the pooled runs.
    ow = []
    for m in [data["load_matrix"]] + [r["load_matrix"] for r in reps]:
        for r in m:
            p = r["params"]
            if r["label"].startswith("unpinned") and p["clients"] == 1 and p["pipeline"] == 1:
                cyc = 1e6 / r["bench"]["rps"]
                cpu = r["delta"]["cpu_main_us"] / r["delta"]["total_commands_processed"]
                ow.append((cyc - cpu) / 2)
    if ow:
        prof["network"] = {
            "loopback_one_way_us": statistics.median(ow),
            "range_us": [min(ow), max(ow)],
            "runs": len(ow),
        }
    prof["fit_used"] = fit_key
    # Fork: latest_fork_usec against RSS, all BGSAVEs of all runs; median per size, then a
    # line through the two sizes (fork copies page tables: cost ~ RSS, plus a fixed part).
    by_size: dict[int, list[tuple[float, float]]] = {}
    for run in runs_all:
        for f in run.get("fork", []):
            by_size.setdefault(f["keys"], []).append(
                (f["latest_fork_usec"] / 1000, f["used_memory_rss"] / 2**30)
            )
    if len(by_size) >= 2:
        xs = [statistics.median(g for _, g in v) for v in by_size.values()]
        ys = [statistics.median(ms for ms, _ in v) for v in by_size.values()]
        slope, icpt = np.polyfit(xs, ys, 1)
        prof["fork"] = {"ms_per_gb": float(slope), "base_ms": float(icpt),
                        "median_ms_by_rss_gb": dict(zip(map(str, xs), ys, strict=True)),
                        "samples": sum(len(v) for v in by_size.values())}  # fmt: skip
    elif by_size:
        ((n, v),) = by_size.items()
        ms, gb = statistics.median(x for x, _ in v), statistics.median(g for _, g in v)
        prof["fork"] = {"ms_per_gb": ms / gb, "base_ms": 0.0, "samples": len(v),
                        "note": f"one size only ({n} keys): ratio, no fixed part"}  # fmt: skip
    return prof


# --------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    ver = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines()
                  if ln.startswith("Model name")), "?")  # fmt: skip
    return {"hostname": platform.node(), "cpu_model": model, "ncpu": os.cpu_count(),
            "kernel": platform.release(), "python": sys.version.split()[0],
            "redis_server": ver.strip(), "lscpu_head": lscpu.splitlines()[:20]}  # fmt: skip


DEFAULT_OUT = "benchmarks/data/redis-calibration.json"


def commands_only(runs: int, requests: int, out: str) -> int:
    """The command suite alone, ``runs`` times on one unpinned server (a cost measured
    later than the full calibration, such as a GET's miss, with the GET it is compared to
    in the same runs)."""
    data: dict[str, Any] = {
        "generated_by": "benchmarks/calibrate_redis.py --commands-only",
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(), "requests": requests, "command_suite_runs": [],
    }
    with running_server() as srv:
        for _ in range(runs):
            data["command_suite_runs"].append(command_suite(srv, False, None, requests))
    least = least_usec_per_call(data["command_suite_runs"])
    data["least_usec_per_call"] = least
    Path(out).write_text(json.dumps(data, indent=1, default=float) + "\n")
    print("least usec_per_call over the runs: "
          + ", ".join(f"{k} {v:.3f}" for k, v in least.items()))
    print(f"wrote {out}")
    return 0


#: pipeline depths of --pipeline-sweep: from 2 (a read per two commands) to 64 (a read per 64)
SWEEP_PIPELINES = (2, 4, 8, 16, 32, 64)


def fit_per_command(runs: list[dict[str, Any]], iteration_us: float,
                    wakeup_us: float) -> dict[str, Any]:
    """Split the main thread's CPU outside ``call()`` into a cost per read (the read(2) and
    write(2) of a batch, with the reply's copy) and a cost per command (what the server does
    for each command outside ``call()``: processMultibulkBuffer's parse into argv objects,
    processCommand's lookup and checks, resetClient's freeing of argv).

    Over runs that differ only in the pipeline depth, reads per command fall as 1/P while the
    commands stay one per command, so a straight line through (reads per command, CPU outside
    call per command) has the per-read cost as its slope and the per-command cost as its
    intercept. The loop's iterations and wake-ups, few per command once P >= 2 at 50 clients,
    are taken off first at the profile's costs (``iteration_us``, ``wakeup_us``).
    """
    xs, ys = [], []
    for r in runs:
        d, p = r["delta"], r["perf"]
        n = d["total_commands_processed"]
        loop = (p.get("epoll_wait", 0) * iteration_us + p.get("context-switches", 0) * wakeup_us)
        xs.append(d["total_reads_processed"] / n)
        ys.append((d["cpu_main_us"] - exec_usec(r) - loop) / n)
    slope, intercept = np.polyfit(np.array(xs), np.array(ys), 1)
    pred = [slope * x + intercept for x in xs]
    return {
        "per_read_us": float(slope), "per_command_us": float(intercept),
        "points": [{"label": r["label"], "reads_per_command": x, "outside_call_us": y,
                    "fitted_us": f} for r, x, y, f in zip(runs, xs, ys, pred, strict=True)],
    }


def pipeline_sweep(runs: int, requests: int, out: str) -> int:
    """SET and GET at -c 50 -r 100000 over the pipeline depths of SWEEP_PIPELINES, ``runs``
    times on one unpinned server, with perf's counts: the per-command cost outside
    ``call()`` (fit_per_command) with the profile's loop costs."""
    from redissim.profile import load_profile_data

    loop = load_profile_data("default")["loop"]
    data: dict[str, Any] = {
        "generated_by": "benchmarks/calibrate_redis.py --pipeline-sweep",
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(), "requests": requests, "runs": [],
    }
    use_perf = perf_works()
    if not use_perf:
        print("--pipeline-sweep needs perf (the loop's iterations are counted with it)",
              file=sys.stderr)
        return 2
    with running_server() as srv:
        run_redis_benchmark(srv.port, test="set", clients=50, pipeline=16, requests=400000,
                            keyspace=100000)  # the GETs find their keys
        for i in range(runs):
            for pipeline in SWEEP_PIPELINES:
                for test in ("set", "get"):
                    label = f"sweep{i} {test} c50 P{pipeline} r100000"
                    run = measured_run(srv, True, label, test=test, clients=50,
                                       pipeline=pipeline, requests=requests, keyspace=100000)
                    d = run["delta"]
                    n = d["total_commands_processed"]
                    print(f"  {label:30s} rps={run['bench']['rps']:>9.0f} cpu/cmd="
                          f"{d['cpu_main_us'] / n:.3f} exec/cmd={exec_usec(run) / n:.3f} "
                          f"reads/cmd={d['total_reads_processed'] / n:.4f}", flush=True)
                    data["runs"].append(run)
    iteration_us, wakeup_us = loop["iteration-us"], loop["wakeup-us"]
    data["fit"] = {test: fit_per_command([r for r in data["runs"]
                                          if r["params"]["test"] == test],
                                         iteration_us, wakeup_us)
                   for test in ("set", "get")}
    data["fit"]["both"] = fit_per_command(data["runs"], iteration_us, wakeup_us)
    Path(out).write_text(json.dumps(data, indent=1, default=float) + "\n")
    for k, f in data["fit"].items():
        print(f"{k}: {f['per_command_us']:.3f} us per command outside call(), "
              f"{f['per_read_us']:.2f} us per read")
    print(f"wrote {out}")
    return 0


#: (clients, pipeline) of --cpu-split: one client (an iteration and a wake-up per command),
#: then 50 clients with a read per command down to a read per 64
SPLIT_LOADS = ((1, 1), (50, 1), (50, 4), (50, 16), (50, 64))
#: DEBUG POPULATE datasets (keys, value size) whose BGSAVE child --cpu-split measures
SPLIT_DATASETS = ((1_000_000, 3), (200_000, 1000))


def fit_sys_share(runs: list[dict[str, Any]], loop: dict[str, float]) -> dict[str, Any]:
    """The kernel's share of each kind of work the profile charges the main thread for: a
    read (its read(2) and the write(2) of its replies), a command (``call()`` and the work
    around it), and the loop's own work (its iterations and wake-ups).

    First, over the runs of 50 clients (where the loop's own work is a small part, and in
    step with the reads), the thread's system time and its user time per command are each
    fitted as a cost per read plus a cost per command (non-negative least squares). Then,
    over the runs of one client (an iteration and a wake-up per command), what those two
    leave of each is the loop's. A kind's share is its system cost over its system plus
    user cost: ratios from the same runs, which hold on a day when the host makes every
    syscall dearer and so moves the costs themselves."""
    many = [r for r in runs if r["params"]["clients"] > 1]
    one = [r for r in runs if r["params"]["clients"] == 1]

    def per_cmd(r: dict[str, Any]) -> tuple[float, float, float]:
        d = r["delta"]
        n = d["total_commands_processed"]
        return (d["total_reads_processed"] / n, d["cpu_main_sys_us"] / n,
                (d["cpu_main_us"] - d["cpu_main_sys_us"]) / n)

    pts = [per_cmd(r) for r in many]
    a = np.array([[x, 1.0] for x, _, _ in pts])
    s_read, s_cmd = (float(v) for v in nnls_small(a, np.array([s for _, s, _ in pts])))
    u_read, u_cmd = (float(v) for v in nnls_small(a, np.array([u for _, _, u in pts])))
    s_loop = u_loop = 0.0
    for r in one:
        reads, s, u = per_cmd(r)
        s_loop += s - s_read * reads - s_cmd
        u_loop += u - u_read * reads - u_cmd
    s_loop, u_loop = s_loop / max(1, len(one)), u_loop / max(1, len(one))

    def share(sv: float, uv: float) -> float:
        return sv / (sv + uv) if sv + uv > 0 else 0.0

    return {
        "sys_us": {"read": s_read, "command": s_cmd, "loop_one_client": s_loop},
        "user_us": {"read": u_read, "command": u_cmd, "loop_one_client": u_loop},
        "sys_share": {"read": share(s_read, u_read), "command": share(s_cmd, u_cmd),
                      "loop": share(s_loop, u_loop)},
        "profile_us": {"read": loop["read-us"] + loop["write-us"],
                       "loop_one_client": loop["iteration-us"] + loop["wakeup-us"]},
        "points": [{"label": r["label"], "reads_per_command": x, "sys_us": sv, "user_us": uv,
                    "fitted_sys_us": s_read * x + s_cmd, "fitted_user_us": u_read * x + u_cmd}
                   for r, (x, sv, uv) in zip(many, pts, strict=True)],
    }


def bgsave_child_cpu(srv: RedisServer, keys: int, size: int) -> dict[str, Any]:
    """One BGSAVE of ``keys`` DEBUG POPULATE keys of ``size`` bytes: the child's CPU and its
    system share (INFO used_cpu_*_children, counted once the child is reaped)."""
    c = srv.client()
    c.call("FLUSHALL")
    c.call("DEBUG", "POPULATE", str(keys), "key", str(size))
    before = counters(c)
    c.call("BGSAVE")
    while True:
        time.sleep(0.05)
        p = info(c, "persistence")
        if p["rdb_bgsave_in_progress"] == "0" and p["rdb_last_bgsave_status"] == "ok":
            break
    time.sleep(0.2)  # serverCron reaps the child (checkChildrenDone) within a tick
    after = counters(c)
    cpu = after["cpu_children_us"] - before["cpu_children_us"]
    sys_us = after["cpu_children_sys_us"] - before["cpu_children_sys_us"]
    # the parent meanwhile: the fork, the polling above, serverCron and reaping the child
    fork_us = float(info(c, "stats")["latest_fork_usec"])
    c.call("FLUSHALL")
    c.close()
    return {"keys": keys, "size": size, "child_cpu_us": cpu, "child_sys_us": sys_us,
            "sys_share": sys_us / cpu if cpu else 0.0, "fork_us": fork_us,
            "parent_cpu_us": after["cpu_main_us"] - before["cpu_main_us"],
            "parent_sys_us": after["cpu_main_sys_us"] - before["cpu_main_sys_us"]}


def idle_cron_split(srv: RedisServer, seconds: float) -> dict[str, Any]:
    """An idle server's main-thread system and user time per second at hz 10 and hz 100
    (1M keys of DEBUG POPULATE, as for the profile's cron costs): serverCron's work, with
    its wake-ups. (Split into a cost per tick and one per 100 ms, the two shares came out
    0.33-0.61 and 0.33-0.84 in three runs: only their pooled share is used.)"""
    c = srv.client()
    c.call("FLUSHALL")
    c.call("DEBUG", "POPULATE", "1000000")
    per_s: dict[str, list[float]] = {}
    for hz in (10, 100):
        c.call("CONFIG", "SET", "hz", str(hz))
        time.sleep(1.0)
        a = info(c, "cpu")
        time.sleep(seconds)
        b = info(c, "cpu")
        per_s[str(hz)] = [(float(b[k]) - float(a[k])) / seconds * 1e6 for k in
                          ("used_cpu_sys_main_thread", "used_cpu_user_main_thread")]
    c.call("CONFIG", "SET", "hz", "10")
    c.call("FLUSHALL")
    c.close()
    return {"seconds": seconds, "sys_user_us_per_s": per_s}


def split_summary(data: dict[str, Any], loop: dict[str, float]) -> None:
    """--cpu-split's figures from its raw runs, into ``data`` (and printed): the fit of
    fit_sys_share, the median system share of the BGSAVE children, and serverCron's system
    share pooled over the idle windows."""
    data["fit"] = f = fit_sys_share(data["runs"], loop)
    for k, key in (("read", "read"), ("command", "command"), ("loop", "loop_one_client")):
        print(f"{k}: system {f['sys_us'][key]:.3f} us + user {f['user_us'][key]:.3f} us, "
              f"system share {f['sys_share'][k]:.3f}")
    shares = [b["sys_share"] for b in data["bgsave"]]
    data["child_sys_share"] = statistics.median(shares)
    print(f"BGSAVE child's system share: median {data['child_sys_share']:.3f} "
          f"({min(shares):.3f}-{max(shares):.3f})")
    windows = [v for ic in data["idle_cron"] for v in ic["sys_user_us_per_s"].values()]
    cron_sys, cron_user = sum(v[0] for v in windows), sum(v[1] for v in windows)
    data["cron_sys_share"] = cron_sys / (cron_sys + cron_user)
    print(f"idle serverCron: system share {data['cron_sys_share']:.3f} pooled over "
          f"{len(windows)} windows at hz 10 and 100 ("
          + ", ".join(f"{v[0] / (v[0] + v[1]):.2f}" for v in windows) + ")")


def cpu_split(runs: int, requests: int, out: str) -> int:
    """How the main thread's CPU divides between the kernel and the process (INFO
    used_cpu_sys_main_thread against used_cpu_user_main_thread): SET and GET over
    SPLIT_LOADS, ``runs`` times on one unpinned server, with perf's counts, fitted by
    fit_sys_share; and the system share of a BGSAVE child's CPU over SPLIT_DATASETS."""
    from redissim.profile import load_profile_data

    loop = load_profile_data("default")["loop"]
    if not perf_works():
        print("--cpu-split needs perf (the loop's iterations are counted with it)",
              file=sys.stderr)
        return 2
    data: dict[str, Any] = {
        "generated_by": "benchmarks/calibrate_redis.py --cpu-split",
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(), "requests": requests, "runs": [], "bgsave": [],
    }
    with running_server() as srv:
        run_redis_benchmark(srv.port, test="set", clients=50, pipeline=16, requests=400000,
                            keyspace=100000)  # the GETs find their keys
        for i in range(runs):
            for clients, pipeline in SPLIT_LOADS:
                for test in ("set", "get"):
                    label = f"split{i} {test} c{clients} P{pipeline} r100000"
                    # one client does a tenth of the others' rate: fewer requests
                    n = requests // 4 if clients == 1 else requests
                    run = measured_run(srv, True, label, test=test, clients=clients,
                                       pipeline=pipeline, requests=n, keyspace=100000)
                    d = run["delta"]
                    cmds = d["total_commands_processed"]
                    print(f"  {label:30s} rps={run['bench']['rps']:>9.0f} cpu/cmd="
                          f"{d['cpu_main_us'] / cmds:.3f} sys/cmd={d['cpu_main_sys_us'] / cmds:.3f}"
                          f" (share {d['cpu_main_sys_us'] / d['cpu_main_us']:.3f})", flush=True)
                    data["runs"].append(run)
        for _ in range(runs):
            for keys, size in SPLIT_DATASETS:
                b = bgsave_child_cpu(srv, keys, size)
                print(f"  bgsave {keys} x {size} B: child {b['child_cpu_us'] / 1e3:.0f} ms, "
                      f"system share {b['sys_share']:.3f}", flush=True)
                data["bgsave"].append(b)
        data["idle_cron"] = [idle_cron_split(srv, 8.0) for _ in range(runs)]
    split_summary(data, loop)
    Path(out).write_text(json.dumps(data, indent=1, default=float) + "\n")
    print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--requests", type=int, default=200000, help="-n for the load matrix")
    ap.add_argument("--quick", action="store_true", help="fewer requests, unpinned only")
    ap.add_argument("--no-perf", action="store_true", help="do not use perf stat")
    ap.add_argument("--commands-only", type=int, metavar="RUNS",
                    help="only the per-command costs, RUNS times, to --out (default "
                         "benchmarks/data/commands-calibration.json); prints each one's least")
    ap.add_argument("--pipeline-sweep", type=int, metavar="RUNS",
                    help="only SET/GET at -c 50 over pipeline depths 2-64, RUNS times, to "
                         "--out (default benchmarks/data/pipeline-sweep.json): the per-command "
                         "cost outside call() against the per-read one")
    ap.add_argument("--cpu-split", type=int, metavar="RUNS",
                    help="only SET/GET at -c 1 and -c 50 over pipeline depths 1-64 and BGSAVEs, "
                         "RUNS times, to --out (default benchmarks/data/cpu-split.json): the "
                         "kernel's share of the main thread's and the child's CPU")
    ap.add_argument("--rederive", metavar="JSON", help="recompute the derivation of a saved run")
    ap.add_argument(
        "--repeat", metavar="JSON", nargs="*", help="with --rederive: earlier runs to pool"
    )
    args = ap.parse_args(argv)
    if args.rederive:
        data = json.loads(Path(args.rederive).read_text())
        for extra in args.repeat or []:
            # Earlier runs of this script on the same machine: keep their raw numbers and
            # fit all load-matrix runs together (the box is shared, single runs are noisy).
            rep = json.loads(Path(extra).read_text())
            keep = ("date_utc", "load_matrix", "command_suite", "keys_scan", "fork",
                    "idle_cron", "python_ping_rtt", "perf_trace_split")  # fmt: skip
            data.setdefault("repeat_runs", []).append({k: rep[k] for k in keep if k in rep})
        data["derived"] = derive(data)
        data["proposed_profile"] = proposed_profile(data)
        Path(args.out).write_text(json.dumps(data, indent=1, default=float))
        print(json.dumps(data["proposed_profile"], indent=1, default=float))
        return 0
    for b in (REDIS_SERVER, REDIS_BENCHMARK):
        if not shutil.which(b):
            print(f"{b} not found on PATH", file=sys.stderr)
            return 2
    use_perf = not args.no_perf and perf_works()
    n = 40000 if args.quick else args.requests
    if args.pipeline_sweep:
        return pipeline_sweep(args.pipeline_sweep, n, args.out if args.out != DEFAULT_OUT
                              else "benchmarks/data/pipeline-sweep.json")
    if args.cpu_split:
        return cpu_split(args.cpu_split, n, args.out if args.out != DEFAULT_OUT
                         else "benchmarks/data/cpu-split.json")
    if args.commands_only:
        return commands_only(args.commands_only, n, args.out if args.out != DEFAULT_OUT
                             else "benchmarks/data/commands-calibration.json")
    data: dict[str, Any] = {
        "generated_by": "benchmarks/calibrate_redis.py",
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "perf_available": use_perf,
        "notes": "redis-benchmark and redis-server share a 2-core VM; 'pinned' = server on "
        "CPU 0, benchmark on CPU 1 via taskset; 'unpinned' = scheduler's choice.",
        "load_matrix": [],
    }
    pin_modes = [("unpinned", None, None)] + ([] if args.quick else [("pinned", 0, 1)])
    for pin_label, scpu, bcpu in pin_modes:
        print(f"== load matrix, {pin_label}", flush=True)
        with running_server(cpu=scpu) as srv:
            data["load_matrix"] += load_matrix(srv, use_perf, bcpu, n, pin_label)
            if pin_label == pin_modes[-1][0]:
                print("== per-command costs", flush=True)
                data["command_suite"] = command_suite(srv, use_perf, bcpu, n)
                print("== payload sizes", flush=True)
                data["payload_suite"] = payload_suite(srv, use_perf, bcpu, n // 2)
                if use_perf:
                    data["perf_trace_split"] = perf_trace_split(srv, bcpu)
                    print(f"  perf trace: {data['perf_trace_split']}", flush=True)
                print("== loopback RTT", flush=True)
                data["python_ping_rtt"] = python_ping_rtt(srv, 20000)
                data["redis_cli_latency"] = redis_cli_latency(srv, 5.0)
                print(f"  python PING rtt: {data['python_ping_rtt']}", flush=True)
                print(f"  redis-cli --latency: {data['redis_cli_latency']}", flush=True)
                print("== idle serverCron", flush=True)
                c = srv.client()
                c.call("FLUSHALL")
                c.close()
                data["idle_cron"] = [idle_cron(srv, use_perf, 5.0, "empty hz10")]
                print("== KEYS / SCAN", flush=True)
                data["keys_scan"] = keys_scan(srv, 1_000_000, 1 if args.quick else 3)
                data["idle_cron"].append(idle_cron(srv, use_perf, 5.0, "1M keys hz10"))
                c = srv.client()
                c.call("CONFIG", "SET", "hz", "100")
                c.close()
                data["idle_cron"].append(idle_cron(srv, use_perf, 5.0, "1M keys hz100"))
                print(f"  idle: {data['idle_cron']}", flush=True)
                print("== fork", flush=True)
                sizes = [1_000_000] if args.quick else [1_000_000, 4_000_000]
                data["fork"] = fork_times(srv, sizes, 1 if args.quick else 3)
    data["derived"] = derive(data)
    data["proposed_profile"] = proposed_profile(data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, default=float))
    print(json.dumps(data["proposed_profile"], indent=1, default=float))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
