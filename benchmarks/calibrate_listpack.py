"""The CPU of finding a field in a listpack hash (``lpFind``, listpack.c), on a real server.

A listpack-encoded hash is searched field by field from its head: HGET of the field in place
p compares p fields (skipping their values), HGET of a missing field compares them all. So
HGET's time grows with where the field is, where a hash table's does not. This measures
``usec_per_call`` of HGET (INFO commandstats: the time inside the command) on 200 listpack
hashes of n fields, for fields drawn uniformly (p is (n+1)/2 on average) and for a missing
field (p = n), and fits ``usec = base + per_entry * p`` by least squares.

The time per field is not one constant: ``lpFind`` compares a field's bytes only when its
length is the probe's, and skips the values between fields, so where the names change length
(field:9 to field:10, field:99 to field:100) the slope changes; the curve is steeper up to
about 100 fields than beyond. The fit is the straight line through 8 .. 300 fields. (200
hashes of 300 fields of ~20 bytes are 1.2 MB, about this VM's L2; more would add the cache
misses the model counts elsewhere, ``model.cpu-caches``.)

Run by hand:  .venv/bin/python benchmarks/calibrate_listpack.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from realredis import RedisServer, find_redis_server  # noqa: E402

SIZES = (8, 50, 100, 150, 200, 300)
KEYS = 200


def _hget_usec(c: object) -> float:
    for line in c.command("INFO", "commandstats").decode().splitlines():  # type: ignore[attr-defined]
        if line.startswith("cmdstat_hget:"):
            d = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
            return float(d["usec_per_call"])
    raise RuntimeError("no HGET in commandstats")


def measure(c: object, n: int, missing: bool, rng: random.Random, rounds: int) -> float:
    """The least usec_per_call of ``rounds`` rounds of 40,000 pipelined HGETs."""
    best = float("inf")
    for _ in range(rounds):
        c.command("CONFIG", "RESETSTAT")  # type: ignore[attr-defined]
        for _ in range(20):
            c.pipeline([["HGET", f"h{rng.randrange(KEYS)}",  # type: ignore[attr-defined]
                         "nofield" if missing else f"field:{rng.randrange(n)}"]
                        for _ in range(2000)])
        best = min(best, _hget_usec(c))
    return best


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (base, slope) of usec against entries compared."""
    k = len(points)
    mx = sum(x for x, _ in points) / k
    my = sum(y for _, y in points) / k
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return my - slope * mx, slope


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    binary = find_redis_server()
    if binary is None:
        sys.exit("redis-server is not installed")
    rng = random.Random(1)
    points: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        srv = RedisServer(binary, Path(tmp)).start()
        try:
            c = srv.client()
            for n in SIZES:
                c.command("FLUSHALL")
                for k in range(KEYS):
                    c.command("HSET", f"h{k}", *[x for j in range(n)
                                                 for x in (f"field:{j}", f"v{j}")])
                assert c.command("OBJECT", "ENCODING", "h0") == b"listpack"
                hit = measure(c, n, False, rng, args.rounds)
                miss = measure(c, n, True, rng, args.rounds)
                points += [((n + 1) / 2, hit), (n, miss)]
                print(f"n={n:4d}  hit {hit:.3f} us (p={(n + 1) / 2:.1f})  missing {miss:.3f} us "
                      f"(p={n})")
            c.close()
        finally:
            srv.stop()
    base, slope = fit(points)
    print(f"fit: usec = {base:.3f} + {slope * 1000:.2f} ns x fields compared")


if __name__ == "__main__":
    main()
