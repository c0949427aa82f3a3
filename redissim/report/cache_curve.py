"""``redissim cache-curve``: hit ratio against maxmemory for Redis eviction policies.

Presentation only: runs :mod:`redissim.replay` (Redis 7.0 ``src/evict.c`` policies replayed
without timing, and the one-pass true-LRU curve from stack distances) and
:mod:`redissim.theory.che` on a key trace or a synthetic Zipf stream, prints a rich table and
optionally draws a PNG with matplotlib. The CLI wrapper (``redissim/cli.py``, owned by the lead)
maps ``ValueError`` / ``OSError`` to its one-line error and exit status 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from redissim import replay as rp
from redissim.server import eviction as ev
from redissim.server import memory as mem
from redissim.theory import che
from redissim.units import parse_size

DEFAULT_POLICIES: tuple[str, ...] = (rp.TRUE_LRU, ev.ALLKEYS_LRU, ev.ALLKEYS_LFU,
                                     ev.ALLKEYS_RANDOM)


@dataclass
class CacheCurveResult:
    """Everything the command printed, for scripts and tests."""

    distinct_keys: int
    requests: int
    warmup: int
    sizes: list[int]
    unit: str = "keys"  # or "bytes" (maxmemory in bytes of used_memory)
    #: policy -> hit ratio per size (same order as ``sizes``)
    replays: dict[str, list[float]] = field(default_factory=dict)
    replay_seconds: dict[str, float] = field(default_factory=dict)
    lru_curve_sizes: list[int] = field(default_factory=list)
    lru_curve: list[float] = field(default_factory=list)
    curve_seconds: float = 0.0
    che_lru: list[float] | None = None
    che_random: list[float] | None = None
    png: Path | None = None


def parse_sizes(spec: str | Sequence[float], distinct: int) -> list[int]:
    """Cache sizes in keys: values <= 1 are fractions of the distinct keys, others key counts."""
    items = [s for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    out: list[int] = []
    for item in items:
        try:
            v = float(item)
        except ValueError:
            raise ValueError(f"--sizes: {item!r} is not a number") from None
        n = int(round(v * distinct)) if v <= 1.0 else int(v)
        if not 1 <= n < distinct:
            raise ValueError(f"--sizes: {item} gives {n} keys; must be 1..{distinct - 1} "
                             f"(the stream has {distinct} distinct keys)")
        out.append(n)
    if not out:
        raise ValueError("--sizes: give at least one size")
    return sorted(set(out))


def parse_byte_sizes(spec: str | Sequence[float | str]) -> list[int]:
    """maxmemory values in bytes, with redis.conf units ("64mb" = 64 MiB, "64m" = 64e6)."""
    items = [x for x in spec.split(",") if x.strip()] if isinstance(spec, str) else list(spec)
    try:
        out = sorted({parse_size(x) for x in items})
    except ValueError as e:
        raise ValueError(f"--sizes: {e}") from None
    if not out or out[0] <= 0:
        raise ValueError("--sizes: give at least one positive size")
    return out


def cache_curve_main(
    *,
    trace: str | Path | None = None,
    column: str | None = None,
    keys: int = 100_000,
    alpha: float = 1.0,
    requests: int = 1_000_000,
    sizes: str | Sequence[float] = "0.01,0.05,0.1,0.2,0.5",
    policies: Sequence[str] = DEFAULT_POLICIES,
    samples: int = 5,
    warmup: float = 0.2,
    seed: int = 0,
    curve_points: int = 50,
    time_mode: str = "requests",
    request_rate: float = 100_000.0,
    value_bytes: int | None = None,
    baseline_bytes: int = 0,
    lg_quantum: int = mem.UPSTREAM_LG_QUANTUM,
    png: str | Path | None = None,
    console: Console | None = None,
) -> CacheCurveResult:
    """Replay a key trace (``trace``; one key per line or CSV with ``column``, default "key") or
    a Zipf(``alpha``) stream of ``requests`` over ``keys`` keys against each cache size and
    policy; print hit ratios beside the one-pass true-LRU curve (and Che's approximation for
    the synthetic stream); write ``png`` if given. ``warmup`` is a fraction of the requests.

    With ``value_bytes`` the sizes are maxmemory in bytes (redis.conf units accepted): each key
    costs its Redis 7.0 allocation (dictEntry, key SDS, a ``value_bytes`` string) and the bucket
    arrays count too, plus ``baseline_bytes`` for the rest of the server (0 by default, i.e.
    maxmemory minus the empty server). The one-pass curve and Che are per key and are only
    shown when sizes are in keys.
    """
    console = console or Console()
    for p in policies:
        if p not in rp.REPLAY_POLICIES or p.startswith("volatile-"):
            allowed = ", ".join(x for x in rp.REPLAY_POLICIES if not x.startswith("volatile-"))
            raise ValueError(f"--policy: {p!r} is not one of {allowed}")
    if not 0.0 <= warmup < 1.0:
        raise ValueError("--warmup: a fraction in [0, 1)")
    names: list[str] | None = None
    if trace is not None:
        req, names = rp.load_key_trace(trace, column)
        source = f"trace {trace}"
        popularity = None
    else:
        if keys < 2 or requests < 1 or alpha <= 0:
            raise ValueError("--keys must be >= 2, --requests >= 1 and --alpha > 0")
        req = rp.zipf_requests(keys, alpha, requests, seed)
        source = f"Zipf(alpha={alpha}) over {keys} keys, IRM"
        popularity = che.zipf_popularity(keys, alpha)
    n = len(req)
    if n == 0:
        raise ValueError(f"{trace}: no keys")
    distinct = int(req.max()) + 1
    if distinct < 2:
        raise ValueError("the stream needs at least 2 distinct keys")
    bytes_mode = value_bytes is not None
    costs: list[int] | None = None
    if bytes_mode:
        if value_bytes is None or value_bytes < 0:
            raise ValueError("--value-bytes must be >= 0")
        size_list = parse_byte_sizes(sizes)
        key_lens = ([len(x.encode()) for x in names] if names is not None
                    else [len(f"key:{i}") for i in range(distinct)])
        costs = rp.redis_key_costs(key_lens, [value_bytes] * distinct, lg_quantum)
    else:
        size_list = parse_sizes(sizes, distinct)
    w = int(n * warmup)
    res = CacheCurveResult(distinct_keys=distinct, requests=n, warmup=w, sizes=size_list,
                           unit="bytes" if bytes_mode else "keys")

    for p in policies:
        ratios = []
        secs = 0.0
        for c in size_list:
            r = rp.replay(req, c, p, samples=samples, warmup=w, seed=seed, time_mode=time_mode,
                          request_rate=request_rate, n_keys=distinct, key_cost=costs,
                          baseline=baseline_bytes, lg_quantum=lg_quantum)
            ratios.append(r.hit_ratio)
            secs += r.seconds
        res.replays[p] = ratios
        res.replay_seconds[p] = secs

    import time

    at: dict[int, float] = {}
    if not bytes_mode:
        t0 = time.perf_counter()
        pts = max(2, curve_points)
        curve_sizes = sorted(set(
            np.unique(np.geomspace(1, distinct - 1, pts).astype(int)).tolist() + size_list))
        curve = rp.lru_hit_ratio_curve(req, curve_sizes, warmup=w)
        res.curve_seconds = time.perf_counter() - t0
        res.lru_curve_sizes = curve_sizes
        res.lru_curve = curve.tolist()
        at = dict(zip(curve_sizes, res.lru_curve, strict=True))
    if popularity is not None and not bytes_mode:
        res.che_lru = [che.che_lru_hit_ratio(popularity, c) for c in size_list]
        res.che_random = [che.che_random_hit_ratio(popularity, c) for c in size_list]

    table = Table(title=f"Hit ratio by maxmemory - {source}")
    if bytes_mode:
        table.add_column("maxmemory (B)", justify="right")
    else:
        table.add_column("keys", justify="right")
        table.add_column("%", justify="right")
        table.add_column("LRU curve", justify="right")
    if res.che_lru is not None:
        table.add_column("Che LRU", justify="right")
        table.add_column("Che RAND", justify="right")
    for p in policies:
        table.add_column(_short_label(p, samples), justify="right")
    for i, c in enumerate(size_list):
        row = ([f"{c:,}"] if bytes_mode
               else [f"{c:,}", f"{100 * c / distinct:.1f}", f"{at[c]:.4f}"])
        if res.che_lru is not None and res.che_random is not None:
            row += [f"{res.che_lru[i]:.4f}", f"{res.che_random[i]:.4f}"]
        row += [f"{res.replays[p][i]:.4f}" for p in policies]
        table.add_row(*row)
    console.print(table)
    idle = "requests" if time_mode == "requests" else "1 s LRU clock"
    tail = (f"{value_bytes}-byte values, lg-quantum {lg_quantum}, baseline {baseline_bytes} B"
            if bytes_mode else
            f"LRU curve: {len(res.lru_curve_sizes)} sizes in {res.curve_seconds:.2f} s (one pass)")
    console.print(f"{n:,} requests, {distinct:,} distinct keys, first {w:,} excluded as "
                  f"warm-up; LRU idle time in {idle}; {tail}")
    if png is not None:
        res.png = _write_png(Path(png), res, policies, samples, source)
        console.print(f"wrote {res.png}")
    return res


def _short_label(policy: str, samples: int) -> str:
    """Column label: allkeys- dropped (every policy here is allkeys-*), K shown for pools."""
    if policy == rp.TRUE_LRU:
        return "true LRU"
    name = policy.removeprefix("allkeys-")
    return f"{name} K={samples}" if policy in ev.POOL_POLICIES else name


def _write_png(path: Path, res: CacheCurveResult, policies: Sequence[str], samples: int,
               source: str) -> Path:
    """Draw the curves with matplotlib and write the PNG atomically (temp file + rename)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from redissim.report.figure import save_png

    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{path}: directory {parent} does not exist")  # (before drawing)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    if res.lru_curve:
        ax.plot(res.lru_curve_sizes, res.lru_curve, color="black", lw=1.5,
                label="true LRU (stack distances)")
    if res.che_lru is not None and res.che_random is not None:
        ax.plot(res.sizes, res.che_lru, ls="--", color="grey", label="Che LRU")
        ax.plot(res.sizes, res.che_random, ls=":", color="grey", label="Che RANDOM")
    for p in policies:
        label = "true LRU replay" if p == rp.TRUE_LRU else (
            f"{p} K={samples}" if p in ev.POOL_POLICIES else p)
        ax.plot(res.sizes, res.replays[p], marker="o", ls="-" if res.unit == "bytes" else "none",
                label=label)
    ax.set_xscale("log")
    ax.set_xlabel(f"maxmemory ({res.unit})")
    ax.set_ylabel("hit ratio")
    ax.set_ylim(0, 1)
    ax.set_title(source, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_png(fig, path)
