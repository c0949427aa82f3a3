"""The model against a real server over the whole pipelining curve.

Reads a sweep of ``calibrate_redis.py --pipeline-sweep`` (redis-benchmark SET and GET at -c 50
-r 100000, -P 2 to 64, several rounds), takes redis-benchmark's own CPU from it (a cost per
batch and one per request: a straight line through its CPU per request against 1/P, as
``benchmarks/calibrate_client.py`` does with two depths), runs the same workloads in the model
with that client, and prints the real range and the model's figure of the rate and the
average latency at every depth.

The server's costs come from the profile; only the client's are taken from the sweep, so the
rates test the profile's per-read and per-command costs (``loop.read-us``, ``loop.write-us``,
``loop.parse-us``, the commands') where the server is the bottleneck, and the latencies how
the model shares a cycle between the two loops.

Run by hand:  .venv/bin/python benchmarks/validate_pipeline_sweep.py
              [benchmarks/data/pipeline-sweep.json]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from redissim.scenario import Scenario
from redissim.sim.engine import simulate

#: redis-benchmark's share of its CPU spent on replies (its readHandler), as in quickstart
READ_SHARE = 0.234


def client_costs(runs: list[dict], test: str) -> tuple[float, float]:
    """(us per batch, us per request) of redis-benchmark's CPU in the runs of ``test``."""
    inv_p = [1 / r["params"]["pipeline"] for r in runs if r["params"]["test"] == test]
    per_req = [r["bench"]["benchmark_cpu_s"] / r["params"]["requests"] * 1e6
               for r in runs if r["params"]["test"] == test]
    batch, request = np.polyfit(np.array(inv_p), np.array(per_req), 1)
    return float(batch), max(float(request), 0.0)


def model(cmd: str, pipeline: int, batch_us: float, request_us: float) -> tuple[float, float]:
    """(rate, mean latency in ms) of the model at one depth."""
    sc = Scenario.model_validate({
        "name": "sweep", "seed": 3,
        "preload": {"keys": 100_000, "prefix": "key", "value-size": 3},
        "workloads": [{"clients": 50, "pipeline": pipeline, "requests": 200_000,
                       "commands": [{"cmd": cmd}], "keys": {"space": 100_000, "prefix": "key:"},
                       "client-cpu-per-batch": f"{batch_us}us", "client-cpu": f"{request_us}us",
                       "client-read-share": READ_SHARE,
                       "client-cpu-distribution": "exponential"}]})
    c = simulate(sc).workloads[0].commands[0]
    return c.throughput_rps, c.latency.mean * 1e3


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/data/pipeline-sweep.json")
    runs = json.loads(path.read_text())["runs"]
    real: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for r in runs:
        real[r["params"]["test"], r["params"]["pipeline"]].append(
            (r["bench"]["rps"], r["bench"]["avg_ms"]))
    print(f"{path}: {len(runs)} runs")
    print("cmd  P   | real rate          model rate | real avg ms    model avg ms")
    for test in ("set", "get"):
        batch, request = client_costs(runs, test)
        print(f"{test.upper()}: redis-benchmark {batch:.2f} us a batch + {request:.3f} us a "
              "request")
        for p in sorted({p for t, p in real if t == test}):
            rates, lats = zip(*real[test, p], strict=True)
            rate, lat = model(test.upper(), p, batch, request)
            print(f"{test.upper():4s} {p:<3d} | {min(rates) / 1e3:5.0f}k-{max(rates) / 1e3:5.0f}k"
                  f"     {rate / 1e3:6.0f}k | {min(lats):.3f}-{max(lats):.3f}    {lat:.3f}")


if __name__ == "__main__":
    main()
