"""Measure what an RDB save costs a real redis-server, to calibrate the model's RDB child.

Models nothing itself. For each dataset it loads the same keys into a real redis-server and
into a redissim keyspace, then:

* checks that ``persistence.rdb_estimate`` gives the size of the dump.rdb Redis writes
  (``SAVE``), byte for byte;
* runs BGSAVE three times with ``rdbcompression yes`` and three times with ``no`` and takes
  the child's CPU time (INFO ``used_cpu_user_children`` + ``used_cpu_sys_children``, the
  smallest of the three), the file on tmpfs (``/dev/shm`` when there is one) so that no
  device time is included;
* fits, by non-negative least squares, the child's CPU as
  ``keys * per_key + file bytes * per_byte + LZF literal bytes * per_literal + LZF matched
  bytes * per_matched`` (the last two counted by redissim's own LZF, which makes the same
  choices as Redis's: the sizes agree), and prints the figures for the cost profile's
  ``persistence.rdb-save-*`` entries with each dataset's residual.

Run by hand (about two minutes and 2.5 GB of RAM):

    python benchmarks/calibrate_rdb.py --out benchmarks/data/rdb-calibration.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from realredis import RedisServer, RespClient, find_redis_server  # noqa: E402

from redissim.server.keyspace import Keyspace  # noqa: E402
from redissim.server.persistence import rdb_estimate  # noqa: E402
from redissim.sim.clock import EPOCH_MS  # noqa: E402

Batch = list[list[bytes]]


def datasets(rng: random.Random) -> Iterator[tuple[str, list[Batch]]]:
    """(name, command batches): DEBUG POPULATE's zero-padded values, a filler like
    redis-benchmark's, random bytes (LZF gives up), JSON-like text."""
    yield "populate 1M x 3 B", [[[b"DEBUG", b"POPULATE", b"1000000", b"key", b"3"]]]
    yield "populate 300k x 100 B", [[[b"DEBUG", b"POPULATE", b"300000", b"key", b"100"]]]
    yield "populate 100k x 10 KiB", [[[b"DEBUG", b"POPULATE", b"100000", b"key", b"10240"]]]
    yield "100k x 1 KiB of 'x'", [[[b"SET", b"key:%d" % (b * 1000 + i), b"x" * 1024]
                                  for i in range(1000)] for b in range(100)]
    yield "100k x 1 KiB random", [[[b"SET", b"key:%d" % (b * 1000 + i), rng.randbytes(1024)]
                                  for i in range(1000)] for b in range(100)]
    yield "200k JSON-like ~90 B", [[[b"SET", b"user:%06d" % (b * 1000 + i),
                                    b'{"name":"user%d","email":"user%d@example.com","age":%d}'
                                    % (b * 1000 + i, b * 1000 + i, i % 90)]
                                   for i in range(1000)] for b in range(200)]


def info(c: RespClient, section: str) -> dict[str, str]:
    raw = c.command("INFO", section)
    assert isinstance(raw, bytes)
    return dict(line.split(":", 1) for line in raw.decode().split("\r\n") if ":" in line)


def child_cpu(c: RespClient) -> float:
    i = info(c, "cpu")
    return float(i["used_cpu_user_children"]) + float(i["used_cpu_sys_children"])


def bgsave_cpu(c: RespClient, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        before = child_cpu(c)
        assert c.command("BGSAVE") == "Background saving started"
        while info(c, "persistence")["rdb_bgsave_in_progress"] == "1":
            time.sleep(0.005)
        time.sleep(0.2)  # the parent reaps the child in serverCron; its CPU is then counted
        best = min(best, child_cpu(c) - before)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    binary = find_redis_server()
    if binary is None:
        sys.exit("calibrate_rdb: redis-server not found (install Debian's redis-server)")
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    rows = []
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        srv = RedisServer(binary, Path(tmp)).start()
        try:
            c = srv.client()
            for name, batches in datasets(random.Random(1)):
                c.command("FLUSHALL")
                ks = Keyspace()
                for batch in batches:
                    c.pipeline(batch)
                    for cmd in batch:
                        ks.execute(cmd, EPOCH_MS)
                est = rdb_estimate(ks)
                c.command("CONFIG", "SET", "rdbcompression", "yes")
                assert c.command("SAVE") == "OK"
                real = os.path.getsize(Path(tmp) / "dump.rdb")
                cpu_yes = bgsave_cpu(c, args.repeat)
                c.command("CONFIG", "SET", "rdbcompression", "no")
                assert c.command("SAVE") == "OK"
                real_raw = os.path.getsize(Path(tmp) / "dump.rdb")
                cpu_no = bgsave_cpu(c, args.repeat)
                rows.append({"dataset": name, "keys": est.keys,
                             "rdb_bytes": real, "model_rdb_bytes": est.nbytes,
                             "rdb_bytes_uncompressed": real_raw,
                             "lzf_literal_bytes": est.lzf_literal,
                             "lzf_matched_bytes": est.lzf_matched,
                             "child_cpu_s": cpu_yes, "child_cpu_s_uncompressed": cpu_no})
                print(f"{name:24s} rdb {real:>12,d} B (model {est.nbytes:>12,d}), "
                      f"uncompressed {real_raw:>13,d} B; child CPU {cpu_yes:.3f} s, "
                      f"uncompressed {cpu_no:.3f} s", flush=True)
            c.close()
        finally:
            srv.stop()
    # Each dataset gives two equations: compressed (LZF work, the compressed file) and not.
    a, b = [], []
    for r in rows:
        a.append([r["keys"], r["rdb_bytes"], r["lzf_literal_bytes"], r["lzf_matched_bytes"]])
        b.append(r["child_cpu_s"])
        a.append([r["keys"], r["rdb_bytes_uncompressed"], 0, 0])
        b.append(r["child_cpu_s_uncompressed"])
    am, bm = np.array(a, dtype=float), np.array(b)
    coef = _nnls(am, bm)
    fit = {"rdb-save-per-key-us": coef[0] * 1e6, "rdb-save-per-kb-us": coef[1] * 1e6 * 1024,
           "lzf-literal-per-kb-us": coef[2] * 1e6 * 1024,
           "lzf-matched-per-kb-us": coef[3] * 1e6 * 1024}
    print("fit: " + ", ".join(f"{k} {v:.3f}" for k, v in fit.items()))
    pred = am @ coef
    for i, r in enumerate(rows):
        for j, label in ((0, "compressed"), (1, "uncompressed")):
            k = 2 * i + j
            print(f"  {r['dataset']:24s} {label:12s} measured {bm[k]:.3f} s, "
                  f"fit {pred[k]:.3f} s ({100 * (pred[k] / bm[k] - 1):+.0f} %)")
    if args.out:
        args.out.write_text(json.dumps({
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": platform.platform(), "cpus": os.cpu_count(),
            "redis_server": binary, "datasets": rows, "fit": fit,
        }, indent=1) + "\n")


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0 (active set: drop the most negative one
    and solve again; 4 unknowns)."""
    active = list(range(a.shape[1]))
    while True:
        x = np.zeros(a.shape[1])
        sol, *_ = np.linalg.lstsq(a[:, active], b, rcond=None)
        if (sol >= 0).all():
            x[active] = sol
            return x
        active.pop(int(np.argmin(sol)))


if __name__ == "__main__":
    main()
