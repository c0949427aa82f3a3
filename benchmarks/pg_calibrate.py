"""Calibrate the simulated PostgreSQL pipeline against a real PostgreSQL 15 (run by hand).

What it does (issue 7, part 5):

1. ``initdb`` a throw-away cluster in a temp dir, as the unprivileged user ``nobody``
   (initdb refuses to run as root), start ``postgres`` on 127.0.0.1 on a free port, and
   stop it at the end by sending SIGINT (fast shutdown) to the postmaster PID.
2. ``pgbench -i -s SCALE``, a warm-up, then ``pgbench -S`` with ``-M prepared`` and
   ``-M simple`` at ``-c 1, 4, 16`` (tps, mean latency).
3. ``EXPLAIN (ANALYZE, BUFFERS)`` of a primary-key lookup, repeated: planning vs execution time.
4. ``log_parser_stats`` / ``log_planner_stats`` / ``log_executor_stats`` for a batch of simple
   PK lookups: the server's own elapsed time per stage (parse, analysis, rewrite, plan, execute).
5. ``pg_test_fsync`` on the same file system: fdatasync latency for the device profile.

The server's CPU per transaction is read from the backends themselves (/proc/<pid>/stat of
the postmaster's children), so other load on the machine does not inflate it; throughput and
latency still suffer from it, so prefer an idle machine.

Prints a markdown section to stdout; append it to ``benchmarks/RESULTS.md`` with ``>>``.
Usage:  .venv/bin/python benchmarks/pg_calibrate.py [--scale 10] [--seconds 10] > /tmp/pg.md
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGBENCH = shutil.which("pgbench") or str(PG_BIN / "pgbench")
RUN_AS = "nobody"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(cmd: list[str], **kw: object) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)  # type: ignore[call-overload]
    return str(res.stdout) + str(res.stderr)


class Cluster:
    """A temporary PostgreSQL 15 cluster owned by ``nobody``, stopped by PID."""

    def __init__(self, shared_buffers: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="redissim-pg-"))
        shutil.chown(self.dir, user=RUN_AS)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.shared_buffers = shared_buffers
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        as_user = {"user": RUN_AS, "group": "nogroup", "cwd": str(self.dir)}
        run([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
             "--no-sync"], **as_user)
        logf = open(self.log, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
             "-c", f"shared_buffers={self.shared_buffers}", "-c", "max_connections=50",
             "-c", "logging_collector=off", "-c", "log_min_messages=log"],
            stdout=logf, stderr=subprocess.STDOUT, user=RUN_AS, group="nogroup",
            cwd=str(self.dir))
        for _ in range(100):
            ok = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1",
                                 "-p", str(self.port)], capture_output=True)
            if ok.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not start: " + self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # fast shutdown of the postmaster
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGQUIT)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def conn_args(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def psql(self, sql: str | None = None, file: Path | None = None) -> str:
        cmd = [str(PG_BIN / "psql"), *self.conn_args(), "-X", "-q", "-A", "-t",
               "-v", "ON_ERROR_STOP=1", "-d", "postgres"]
        cmd += ["-f", str(file)] if file is not None else ["-c", str(sql)]
        return run(cmd)


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def server_cpu_s(postmaster: int) -> float:
    """CPU seconds (user + system) of the postmaster's live children: backends and
    background processes, read from /proc/<pid>/stat (fields 14, 15 after the comm)."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        f = raw[raw.rindex(")") + 2:].split()
        if int(f[1]) == postmaster:          # ppid
            total += int(f[11]) + int(f[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def pgbench(cl: Cluster, mode: str, clients: int, seconds: int,
            script: str = "-S") -> dict[str, float]:
    """One pgbench run. Server CPU per transaction is measured directly on the backends
    (/proc) over the window [1 s, T - 1 s], with the transactions of that window taken from
    pgbench's per-second progress lines, so other load on the machine does not count."""
    assert cl.proc is not None and seconds >= 4
    kids0 = children_cpu_s()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [PGBENCH, *cl.conn_args(), script, "-n", "-M", mode, "-c", str(clients),
         "-j", str(min(clients, os.cpu_count() or 1)), "-T", str(seconds), "-P", "1",
         "postgres"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(max(0.0, t0 + 1.0 - time.monotonic()))
    cpu_a = server_cpu_s(cl.proc.pid)
    time.sleep(max(0.0, t0 + seconds - 1.0 - time.monotonic()))
    cpu_b = server_cpu_s(cl.proc.pid)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err)
    kids = children_cpu_s() - kids0
    out = out + err
    tps = float(re.search(r"tps = ([\d.]+) \(without initial", out).group(1))  # type: ignore[union-attr]
    lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    n = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))  # type: ignore[union-attr]
    # progress: <t> s, <tps> tps, ... -- each line covers the second ending at t
    window = sum(float(m.group(2)) for m in re.finditer(r"progress: ([\d.]+) s, ([\d.]+) tps", out)
                 if 1.0 < float(m.group(1)) <= seconds - 1.0 + 1e-6)
    return {"tps": tps, "lat_ms": lat, "n": n,
            "server_cpu_us": (cpu_b - cpu_a) / window * 1e6 if window else float("nan"),
            "client_cpu_us": kids / n * 1e6}


def explain_analyze(cl: Cluster, rows: int, n: int) -> dict[str, float]:
    rnd = random.Random(7)
    sql = Path(cl.dir) / "explain.sql"
    sql.write_text("".join(
        f"EXPLAIN (ANALYZE, BUFFERS) SELECT abalance FROM pgbench_accounts WHERE aid = {rnd.randint(1, rows)};\n"
        for _ in range(n)))
    out = cl.psql(file=sql)
    plan = [float(x) for x in re.findall(r"Planning Time: ([\d.]+) ms", out)]
    exe = [float(x) for x in re.findall(r"Execution Time: ([\d.]+) ms", out)]
    hits = re.findall(r"Buffers: shared hit=(\d+)", out)
    # Drop the first few (catalog caches warming up in this backend).
    plan, exe = plan[10:], exe[10:]
    return {"n": len(plan), "plan_ms_median": statistics.median(plan),
            "exec_ms_median": statistics.median(exe),
            "plan_ms_mean": statistics.fmean(plan), "exec_ms_mean": statistics.fmean(exe),
            "shared_hit_per_query": statistics.median(int(h) for h in hits) if hits else -1}


STAGES = {
    "PARSER STATISTICS": "parse",
    "PARSE ANALYSIS STATISTICS": "analyze",
    "REWRITER STATISTICS": "rewrite",
    "PLANNER STATISTICS": "plan",
    "EXECUTOR STATISTICS": "execute",
}


def stage_stats(cl: Cluster, rows: int, n: int) -> dict[str, float]:
    """Per-stage elapsed seconds from the server's log_*_stats (ShowUsage) output."""
    rnd = random.Random(11)
    sql = Path(cl.dir) / "stages.sql"
    body = ["SET client_min_messages = warning;", "SET log_parser_stats = on;",
            "SET log_planner_stats = on;", "SET log_executor_stats = on;"]
    body += [f"SELECT abalance FROM pgbench_accounts WHERE aid = {rnd.randint(1, rows)};"
             for _ in range(n)]
    sql.write_text("\n".join(body) + "\n")
    start = cl.log.stat().st_size
    cl.psql(file=sql)
    time.sleep(0.5)
    text = cl.log.read_bytes()[start:].decode(errors="replace")
    found: dict[str, list[float]] = {v: [] for v in STAGES.values()}
    pat = re.compile(r"LOG:\s+([A-Z ]+STATISTICS)\s*\n.*?([\d.]+) s elapsed", re.S)
    for m in pat.finditer(text):
        name = STAGES.get(m.group(1).strip())
        if name:
            found[name].append(float(m.group(2)))
    res: dict[str, float] = {}
    for k, v in found.items():
        v = v[20:]  # skip the SET statements and a warm-up
        if v:
            res[k + "_us_median"] = statistics.median(v) * 1e6
            res[k + "_us_mean"] = statistics.fmean(v) * 1e6
            res[k + "_n"] = len(v)
    return res


def test_fsync(cl: Cluster) -> str:
    target = cl.dir / "fsync.test"
    try:
        out = run([str(PG_BIN / "pg_test_fsync"), "-s", "2", "-f", str(target)])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        return f"pg_test_fsync failed: {e}"
    keep = [ln.rstrip() for ln in out.splitlines()
            if "fdatasync" in ln or "fsync" in ln or "open_datasync" in ln]
    return "\n".join(keep)


def pread_cost_us(size_mb: int = 256, n: int = 200_000) -> tuple[float, float]:
    """Mean cost of an 8 kB and of a 1-byte pread(2) hitting the OS page cache (random
    offsets in a cached file), in microseconds, from Python (adds ~0.3 us of call overhead)."""
    fd_path = Path(tempfile.mkstemp(prefix="redissim-pread-")[1])
    try:
        fd_path.write_bytes(os.urandom(size_mb * 1024 * 1024))
        fd = os.open(fd_path, os.O_RDONLY)
        blocks = size_mb * 1024 * 1024 // 8192
        for b in range(blocks):
            os.pread(fd, 8192, b * 8192)
        rnd = random.Random(3)
        offs = [rnd.randrange(blocks) * 8192 for _ in range(n)]
        t0 = time.perf_counter()
        for o in offs:
            os.pread(fd, 8192, o)
        t1 = time.perf_counter()
        for o in offs:
            os.pread(fd, 1, o)
        t2 = time.perf_counter()
        os.close(fd)
        return (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6
    finally:
        fd_path.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--shared-buffers", default="512MB")
    args = ap.parse_args()
    if not (PG_BIN / "initdb").exists():
        sys.exit(f"PostgreSQL 15 binaries not found under {PG_BIN}")
    rows = 100_000 * args.scale
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    cl = Cluster(args.shared_buffers)
    try:
        cl.start()
        run([PGBENCH, *cl.conn_args(), "-i", "-q", "-s", str(args.scale), "postgres"])
        cl.psql("CREATE EXTENSION pg_prewarm; SELECT pg_prewarm('pgbench_accounts'); "
                "SELECT pg_prewarm('pgbench_accounts_pkey');")
        pgbench(cl, "prepared", 2, 4)  # warm-up
        cl.psql("SELECT pg_stat_reset();")
        bench = {(m, c): pgbench(cl, m, c, args.seconds)
                 for m in ("prepared", "simple") for c in (1, 4, 16)}
        bench_stat = cl.psql("SELECT blks_hit, blks_read FROM pg_stat_database "
                             "WHERE datname = 'postgres';").strip()
        upd = {c: pgbench(cl, "prepared", c, args.seconds, script="-N") for c in (1, 4, 16)}
        wal = cl.psql("SELECT wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal;").strip()
        sizes = cl.psql("CREATE EXTENSION pageinspect; "
                        "SELECT pg_relation_size('pgbench_accounts'), "
                        "pg_relation_size('pgbench_accounts_pkey'), "
                        "(SELECT level FROM bt_metap('pgbench_accounts_pkey'));").strip()
        ex = explain_analyze(cl, rows, 500)
        st = stage_stats(cl, rows, 2000)
        fs = test_fsync(cl)
        pr8k, pr1 = pread_cost_us()
    finally:
        cl.stop()

    lscpu = run(["lscpu"]).splitlines()[:20]
    print(f"\n## PostgreSQL calibration (pg_calibrate.py, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(f"PostgreSQL {run([str(PG_BIN / 'postgres'), '--version']).strip()}, "
          f"pgbench scale {args.scale} ({rows} rows), shared_buffers {args.shared_buffers}, "
          f"tables prewarmed, client and server on the same machine over TCP 127.0.0.1, "
          f"-j = min(clients, cores), {args.seconds} s per run. Python {platform.python_version()}.\n")
    print("```\n" + "\n".join(lscpu) + "\n```\n")
    print("Server CPU per transaction: user+system CPU of all the postmaster's children "
          "(/proc) over seconds 1..T-1 of each run, divided by the transactions pgbench's "
          "progress reports for that window. pgbench CPU: its rusage / transactions. "
          f"Load average before the runs: {load0}.\n")
    print("| script | mode | -c | tps | latency avg (ms) | server CPU/txn (us) | pgbench CPU/txn (us) |")
    print("|---|---|---|---|---|---|---|")
    rows_out = [("-S", m, c, r) for (m, c), r in bench.items()]
    rows_out += [("-N", "prepared", c, r) for c, r in upd.items()]
    for sc, m, c, r in rows_out:
        print(f"| {sc} | {m} | {c} | {r['tps']:.0f} | {r['lat_ms']:.3f} | "
              f"{r['server_cpu_us']:.1f} | {r['client_cpu_us']:.1f} |")
    print(f"\npg_stat_wal after the -N runs (records|bytes|write|sync): `{wal}`.")
    print(f"\npg_stat_database blks_hit|blks_read during the -S runs: `{bench_stat}`; "
          f"relation sizes heap|pkey bytes|btree root level: `{sizes}`.\n")
    print(f"EXPLAIN (ANALYZE, BUFFERS) PK lookup, {ex['n']} runs after 10 warm-up: planning "
          f"median {ex['plan_ms_median'] * 1000:.1f} us (mean {ex['plan_ms_mean'] * 1000:.1f}), "
          f"execution median {ex['exec_ms_median'] * 1000:.1f} us (mean "
          f"{ex['exec_ms_mean'] * 1000:.1f}), shared hit per query {ex['shared_hit_per_query']}.\n")
    print("Server-side per-stage elapsed time (log_parser_stats / log_planner_stats / "
          "log_executor_stats, simple protocol, includes getrusage overhead):\n")
    print("| stage | median (us) | mean (us) | n |\n|---|---|---|---|")
    for k in STAGES.values():
        if k + "_n" in st:
            print(f"| {k} | {st[k + '_us_median']:.1f} | {st[k + '_us_mean']:.1f} | "
                  f"{st[k + '_n']:.0f} |")
    print(f"\npread(2) from the OS page cache (Python loop, random offsets): 8 kB {pr8k:.2f} us, "
          f"1 byte {pr1:.2f} us per call.")
    print("\npg_test_fsync -s 2 (same file system as the temp dir):\n```\n" + fs + "\n```")


if __name__ == "__main__":
    main()
