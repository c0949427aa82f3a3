"""Benchmark of the cache replay (redissim/replay.py) and the one-pass LRU curve.

Run by hand:  .venv/bin/python benchmarks/bench_replay.py [--fidelity] [--quick]

Part 1 (speed): 1M Zipf(1.0) requests over 100k keys at a 50k-key maxmemory, per policy, beside
an OrderedDict LRU in the same run; then the one-pass true-LRU curve for 50 sizes against 50
OrderedDict replays and against 5 sampled-LRU replays. Speeds are given per wall second and per
CPU second of this process (the CPU figure is the one to trust on a shared machine).

Part 2 (--fidelity): what Redis's sampling costs in hit ratio. The same replays with the
sampler Redis uses (dictGetSomeKeys over consecutive buckets; dictGetRandomKey) and with
uniform sampling, at theory.md rows (N = 10,000, 10^6 requests, 200,000 warm-up), plus the
1-second LRU clock at several request rates. Prints a Markdown section for RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redissim import replay as rp  # noqa: E402
from redissim.server import eviction as ev  # noqa: E402
from redissim.theory import che  # noqa: E402


def machine() -> str:
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines()
                      if ln.startswith("Model name")), "?")
        cpus = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines()
                     if ln.startswith("CPU(s)")), "?")
    except OSError:
        model, cpus = "?", "?"
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    return (f"{model}, {cpus} CPUs, Python {platform.python_version()}, "
            f"load average at start {' '.join(load)}")


def speed(n_keys: int, n_req: int, cap: int) -> list[str]:
    out = [f"### Replay speed: {n_req:,} Zipf(1.0) requests, {n_keys:,} keys, maxmemory "
           f"{cap:,} keys, warm-up 20%", "",
           "| policy | hit ratio | evictions | wall s | CPU s | req/s (CPU) | req/s (wall) |",
           "|---|---|---|---|---|---|---|"]
    t = time.perf_counter()
    req = rp.zipf_requests(n_keys, 1.0, n_req, seed=1)
    gen = time.perf_counter() - t
    w = n_req // 5
    volatile = [True] * n_keys
    runs = [
        ("OrderedDict LRU", rp.TRUE_LRU, {}),
        ("allkeys-lru K=5", ev.ALLKEYS_LRU, {}),
        ("allkeys-lru K=10", ev.ALLKEYS_LRU, {"samples": 10}),
        ("allkeys-lru K=5 no pool", ev.ALLKEYS_LRU, {"use_pool": False}),
        ("allkeys-lfu K=5", ev.ALLKEYS_LFU, {}),
        ("allkeys-random", ev.ALLKEYS_RANDOM, {}),
        ("volatile-lru K=5 (all keys TTL 1 h)", ev.VOLATILE_LRU,
         {"volatile": volatile, "ttl_s": 3600.0}),
        ("volatile-ttl K=5 (all keys TTL 1 h)", ev.VOLATILE_TTL,
         {"volatile": volatile, "ttl_s": 3600.0}),
        ("noeviction", ev.NOEVICTION, {}),
    ]
    single: dict[str, float] = {}
    for label, policy, kw in runs:
        r = rp.replay(req, cap, policy, warmup=w, seed=1, **kw)  # type: ignore[arg-type]
        single[label] = r.cpu_seconds
        out.append(f"| {label} | {r.hit_ratio:.4f} | {r.evictions:,} | {r.seconds:.2f} | "
                   f"{r.cpu_seconds:.2f} | {n_req / r.cpu_seconds:,.0f} | "
                   f"{n_req / r.seconds:,.0f} |")
        print(out[-1], flush=True)
    out.append("")
    out.append(f"Request generation (numpy, inverse CDF): {gen:.2f} s.")
    out.append("")

    sizes = sorted({int(x) for x in (rp.np.geomspace(100, n_keys - 1, 50))})
    c0, t0 = time.process_time(), time.perf_counter()
    curve = rp.lru_hit_ratio_curve(req, sizes, warmup=w)
    curve_cpu, curve_wall = time.process_time() - c0, time.perf_counter() - t0
    c0 = time.process_time()
    od = [rp.replay(req, c, rp.TRUE_LRU, warmup=w).hit_ratio for c in sizes]
    od_cpu = time.process_time() - c0
    exact = all(a == b for a, b in zip(curve.tolist(), od, strict=True))
    five = sum(rp.replay(req, c, ev.ALLKEYS_LRU, warmup=w, seed=1).cpu_seconds
               for c in sizes[::10][:5])
    out += [
        f"### One-pass LRU curve ({len(sizes)} sizes, 100 .. {n_keys - 1:,} keys)", "",
        "| method | CPU s |", "|---|---|",
        f"| one pass (stack distances, numpy) | {curve_cpu:.2f} (wall {curve_wall:.2f}) |",
        f"| {len(sizes)} OrderedDict replays | {od_cpu:.2f} |",
        f"| 5 allkeys-lru K=5 replays (sizes {sizes[::10][:5]}) | {five:.2f} |",
        "",
        f"Curve equals the {len(sizes)} OrderedDict replays exactly: {exact}. "
        f"Speed-up vs 50 replays: {od_cpu / curve_cpu:.1f}x; vs 5 sampled replays: "
        f"{five / curve_cpu:.1f}x.",
        "",
    ]
    return out


def fidelity(n_req: int) -> list[str]:
    n = 10_000
    w = n_req // 5
    out = [f"### Sampling fidelity: Redis's samplers vs uniform sampling (N = {n:,}, "
           f"{n_req:,} requests, {w:,} warm-up, one stream per row, seed 5)", "",
           "| alpha | C/N | Che LRU | true LRU | K=3 dict / uniform | K=5 dict / uniform | "
           "K=10 dict / uniform | Che RANDOM | random dict / uniform |",
           "|---|---|---|---|---|---|---|---|---|"]
    for alpha, frac in [(0.8, 0.10), (0.9, 0.05), (1.0, 0.05), (1.0, 0.20)]:
        req = rp.zipf_requests(n, alpha, n_req, seed=5)
        c = int(n * frac)
        cells = [f"{alpha}", f"{frac}", f"{che.zipf_lru_hit_ratio(n, alpha, c):.4f}",
                 f"{rp.replay(req, c, rp.TRUE_LRU, warmup=w).hit_ratio:.4f}"]
        for k in (3, 5, 10):
            d = rp.replay(req, c, ev.ALLKEYS_LRU, samples=k, warmup=w, seed=5).hit_ratio
            u = rp.replay(req, c, ev.ALLKEYS_LRU, samples=k, warmup=w, seed=5,
                          sampler="uniform").hit_ratio
            cells.append(f"{d:.4f} / {u:.4f}")
        cells.append(f"{che.zipf_random_hit_ratio(n, alpha, c):.4f}")
        d = rp.replay(req, c, ev.ALLKEYS_RANDOM, warmup=w, seed=5).hit_ratio
        u = rp.replay(req, c, ev.ALLKEYS_RANDOM, warmup=w, seed=5, sampler="uniform").hit_ratio
        cells.append(f"{d:.4f} / {u:.4f}")
        out.append("| " + " | ".join(cells) + " |")
        print(out[-1], flush=True)
    out.append("")
    out += ["### The 1-second LRU clock (allkeys-lru K=5, alpha 1.0, C/N 0.05, hz 10)", "",
            "| LRU idle measured in | hit ratio |", "|---|---|"]
    req = rp.zipf_requests(n, 1.0, n_req, seed=5)
    c = n // 20
    r = rp.replay(req, c, ev.ALLKEYS_LRU, warmup=w, seed=5)
    out.append(f"| exact request counts | {r.hit_ratio:.4f} |")
    for rate in (1_000.0, 10_000.0, 100_000.0):
        r = rp.replay(req, c, ev.ALLKEYS_LRU, warmup=w, seed=5, time_mode="clock",
                      request_rate=rate)
        out.append(f"| 1 s LRU clock at {rate:,.0f} req/s | {r.hit_ratio:.4f} |")
        print(out[-1], flush=True)
    out.append("")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fidelity", action="store_true", help="also run the sampling fidelity grid")
    ap.add_argument("--quick", action="store_true", help="10x fewer requests (smoke run)")
    args = ap.parse_args()
    scale = 10 if args.quick else 1
    lines = ["## Cache replay and one-pass LRU curve (bench_replay.py)", "",
             f"Machine: {machine()}.", ""]
    lines += speed(100_000, 1_000_000 // scale, 50_000)
    if args.fidelity:
        lines += fidelity(1_000_000 // scale)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
