"""What cluster mode costs a redis-server: CPU per command, and memory at start and per key.

Run by hand:  .venv/bin/python benchmarks/calibrate_cluster.py [--pairs 3] [--requests 400000]

Starts, in turns, a standalone redis-server and a cluster-enabled one that owns all 16384
slots itself (CLUSTER ADDSLOTSRANGE 0 16383: no redirections, one node), each on 127.0.0.1
in a temporary directory, and drives both alike with redis-benchmark (-t set,get -r 100000
-c 50, at -P 1 and -P 16). CPU per command is the server process's utime + stime
(/proc/PID/stat) over the run, divided by total_commands_processed: everything the process
did, inside and outside call() (getNodeByQuery's slot check runs in processCommand, before
call(), so commandstats' usec_per_call would not see it). Memory: used_memory_startup, and
used_memory before and after DEBUG POPULATE 100000 key 10 and MEMORY USAGE of one key.
The figures go to redissim/profiles/default.yaml (cluster.per-command-us) and
server/maxmemory.py (the cluster-mode memory constants) by hand, with the date.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from realredis import (  # noqa: E402
    RedisServer,
    cluster_node,
    find_redis_server,
    own_all_slots,
)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(binary: str, workdir: Path, cluster: bool) -> RedisServer:
    if not cluster:
        return RedisServer(binary, workdir).start()
    server = cluster_node(binary, workdir).start()
    own_all_slots(server)
    return server


def _info(server: RedisServer, section: str) -> dict[str, str]:
    c = server.client()
    text = c.command("INFO", section).decode()
    c.close()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def cpu_per_command(binary: str, cluster: bool, pipeline: int, requests: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        server = _start(binary, Path(d), cluster)
        try:
            pid = server.pid
            assert pid is not None
            before = _cpu_s(pid)
            subprocess.run(["redis-benchmark", "-p", str(server.port), "-q", "-n", str(requests),
                            "-P", str(pipeline), "-c", "50", "-r", "100000", "-t", "set,get"],
                           check=True, capture_output=True)
            used = _cpu_s(pid) - before
            cmds = int(_info(server, "stats")["total_commands_processed"])
            return used / cmds * 1e6
        finally:
            server.stop()


def memory(binary: str, cluster: bool) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as d:
        server = _start(binary, Path(d), cluster)
        try:
            m0 = _info(server, "memory")
            c = server.client()
            c.command("DEBUG", "POPULATE", "100000", "key", "10")
            usage = c.command("MEMORY", "USAGE", "key:5")
            c.close()
            m1 = _info(server, "memory")
            return {"startup": int(m0["used_memory_startup"]),
                    "per_key_x1000": round((int(m1["used_memory"]) - int(m0["used_memory"]))
                                           / 100),
                    "memory_usage": int(usage)}
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=400_000)
    args = ap.parse_args()
    binary = find_redis_server()
    if binary is None or shutil.which("redis-benchmark") is None:
        sys.exit("needs redis-server and redis-benchmark (apt-get install redis-server)")
    for mode in (False, True):
        print(("cluster   " if mode else "standalone"), memory(binary, mode))
    for p in (1, 16):
        deltas = []
        for _ in range(args.pairs):
            a = cpu_per_command(binary, False, p, args.requests)
            b = cpu_per_command(binary, True, p, args.requests)
            deltas.append(b - a)
            print(f"-P {p:2d}: standalone {a:.3f} us, cluster {b:.3f} us per command "
                  f"(+{b - a:.3f})")
        print(f"-P {p:2d}: median extra {statistics.median(deltas):.3f} us per command")


if __name__ == "__main__":
    main()
