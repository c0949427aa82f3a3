"""Measure how long a real redis-server takes to load a dump.rdb, to calibrate the model's
restart (``Persistence.load_time``).

Models nothing itself. For the datasets of ``calibrate_rdb.py``, with ``rdbcompression yes``
and ``no``: a redis-server builds the dataset and SAVEs it (on tmpfs, ``/dev/shm`` when there
is one, so that no device time is included); then a fresh redis-server is started on that
file, three times, and the time its log gives ("DB loaded from disk: N seconds", which
``rdbLoad`` reports) is taken, the smallest of the three. The same dataset in a redissim
keyspace gives the features: keys, file bytes, the bytes LZF must unpack (strings stored
compressed), and used_memory (what the load allocates). The load time is fitted by
non-negative least squares as a sum of the four, and the figures for the cost profile's
``persistence.rdb-load-*`` entries are printed with each dataset's residual.

Run by hand (about three minutes and 2.5 GB of RAM):

    python benchmarks/calibrate_load.py --out benchmarks/data/load-calibration.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from calibrate_rdb import _nnls, datasets  # noqa: E402
from realredis import RedisServer, find_redis_server  # noqa: E402

from redissim.server.keyspace import Keyspace  # noqa: E402
from redissim.server.persistence import rdb_estimate  # noqa: E402
from redissim.sim.clock import EPOCH_MS  # noqa: E402

LOADED = re.compile(r"DB loaded from disk: ([0-9.]+) seconds")


def used_memory(c: object) -> int:
    raw = c.command("INFO", "memory")  # type: ignore[attr-defined]
    for line in raw.decode().split("\r\n"):
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError("no used_memory")


def load_seconds(binary: str, rdb: Path, repeats: int) -> tuple[float, int]:
    """The smallest load time of ``repeats`` fresh starts on ``rdb``, and used_memory after."""
    best, used = float("inf"), 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(dir=rdb.parent) as d:
            shutil.copy(rdb, Path(d) / "dump.rdb")
            srv = RedisServer(binary, Path(d))
            srv.start(timeout=300)
            try:
                c = srv.client()
                used = used_memory(c)
                c.close()
                log = (Path(d) / "redis.log").read_text()
            finally:
                srv.stop()
            m = LOADED.search(log)
            if m is None:
                raise RuntimeError(f"no 'DB loaded from disk' line in {d}/redis.log")
            best = min(best, float(m.group(1)))
    return best, used


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    binary = find_redis_server()
    if binary is None:
        sys.exit("calibrate_load: redis-server not found (install Debian's redis-server)")
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    rows = []
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        work = Path(tmp)
        for name, batches in datasets(random.Random(1)):
            ks = Keyspace()
            for batch in batches:
                for cmd in batch:
                    ks.execute(cmd, EPOCH_MS)
            srv = RedisServer(binary, work / "build")
            (work / "build").mkdir(exist_ok=True)
            srv.start()
            try:
                c = srv.client()
                for batch in batches:
                    c.pipeline(batch)
                for comp in ("yes", "no"):
                    c.command("CONFIG", "SET", "rdbcompression", comp)
                    assert c.command("SAVE") == "OK"
                    shutil.move(work / "build" / "dump.rdb", work / f"{comp}.rdb")
                c.close()
            finally:
                srv.stop()
            for comp in ("yes", "no"):
                est = rdb_estimate(ks, comp == "yes")
                rdb = work / f"{comp}.rdb"
                secs, used = load_seconds(binary, rdb, args.repeat)
                row = {"dataset": name, "rdbcompression": comp, "keys": est.keys,
                       "rdb_bytes": rdb.stat().st_size, "model_rdb_bytes": est.nbytes,
                       "lzf_packed_bytes": est.lzf_packed, "used_memory": used,
                       "load_s": secs}
                rows.append(row)
                print(f"{name:24s} {comp:3s} {row['rdb_bytes']:>13,d} B, "
                      f"{est.lzf_packed:>13,d} B unpacked, used_memory {used:>13,d}: "
                      f"loaded in {secs:.3f} s", flush=True)
                rdb.unlink()
    a = np.array([[r["keys"], r["rdb_bytes"], r["lzf_packed_bytes"], r["used_memory"]]
                  for r in rows], dtype=float)
    b = np.array([r["load_s"] for r in rows])
    coef = _nnls(a, b)
    fit = {"rdb-load-per-key-us": coef[0] * 1e6, "rdb-load-per-kb-us": coef[1] * 1e6 * 1024,
           "lzf-unpack-per-kb-us": coef[2] * 1e6 * 1024,
           "load-s-per-gb": coef[3] * 1024 ** 3}
    print("fit: " + ", ".join(f"{k} {v:.3f}" for k, v in fit.items()))
    pred = a @ coef
    for r, p in zip(rows, pred, strict=True):
        print(f"  {r['dataset']:24s} {r['rdbcompression']:3s} measured {r['load_s']:.3f} s, "
              f"fit {p:.3f} s ({100 * (p / r['load_s'] - 1):+.0f} %)")
    if args.out:
        args.out.write_text(json.dumps({
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": platform.platform(), "cpus": os.cpu_count(),
            "redis_server": binary, "datasets": rows, "fit": fit,
        }, indent=1) + "\n")


if __name__ == "__main__":
    main()
