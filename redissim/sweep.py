"""What-if sweeps: one scenario run over a grid of field values, each point replicated.

A sweep answers "what if" for the settings users size a deployment with (``hz``,
``maxmemory``, clients, pipeline depth, arrival rate...): every combination of the values
given for each axis (the grid, first axis slowest) is a point; each point runs the
scenario's variants (or the scenario itself when it has none) ``replications`` times, with
the seeds ``seed``, ``seed + 1``, ... so that replication 0 of a point is exactly what
``redissim run --set path=value`` prints. The runs are independent, so they are spread over
local worker processes, or, given a scheduler address, over the workers of a Dask cluster
(``distributed``, the optional ``dask`` extra; imported only then); the results come back in
grid order, the same whatever the number or the kind of workers.

For each point, variant and workload command the sweep reports throughput and latency
(avg, p50, p95, p99, max, in ms) averaged over the replications, with the half-width of a 95 %
Student-t confidence interval where there are two or more, and any INFO fields asked for.

An axis is ``path=v1,v2,...`` (dotted paths as ``--set`` takes them; each value read as
YAML, so ``64mb``, ``10`` and ``yes`` mean what they mean in a scenario file), or
``path1,path2=v1,v2,...`` to set several fields to the same value together (e.g. the
pipeline of both workloads of ``pipelining``).
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import statistics
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from redissim.dask_cluster import SchedulerError
from redissim.scenario import Scenario, ScenarioError, parse_value, set_path, validate

__all__ = ["Axis", "parse_axis", "Run", "Point", "SweepResult", "plan", "overridden",
           "summarize", "run_sweep", "SchedulerError", "t95", "sweep_text", "sweep_csv",
           "sweep_json", "sweep_png"]


#: Student's t, two-sided 95 %, by degrees of freedom 1..30 (beyond: the normal's 1.96)
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)

LATENCY_KEYS = ("avg", "p50", "p95", "p99", "max")


def t95(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        return math.nan
    return _T95[df - 1] if df <= len(_T95) else 1.96


@dataclass(frozen=True)
class Axis:
    """Fields set together, and the values they take in turn."""

    paths: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return ",".join(self.paths)


def parse_axis(text: str) -> Axis:
    """``path=v1,v2`` or ``p1,p2=v1,v2`` (or a YAML list: ``path=[1, 10]``)."""
    if "=" not in text:
        raise ScenarioError(f"--vary {text}: expected dotted.path=value1,value2,...")
    left, right = text.split("=", 1)
    paths = tuple(p.strip() for p in left.split(","))
    if not all(paths):
        raise ScenarioError(f"--vary {text}: an empty field path")
    raw = right.strip()
    parsed = parse_value(raw) if raw.startswith("[") else None
    if isinstance(parsed, list):
        values: tuple[Any, ...] = tuple(parsed)
    else:
        values = tuple(parse_value(v.strip()) for v in raw.split(",") if v.strip())
    if not values:
        raise ScenarioError(f"--vary {text}: no values (give value1,value2,...)")
    return Axis(paths, values)


@dataclass
class Run:
    """One simulation of the sweep: a grid point, a variant, a replication."""

    point: int
    variant: str | None
    replication: int
    scenario: Scenario  #: seeded with the scenario's seed + replication


@dataclass
class Point:
    """A grid point: the value of each axis, and the summaries of its runs."""

    values: tuple[Any, ...]
    #: (variant, replication) -> the run's summary (see summarize)
    runs: dict[tuple[str | None, int], dict[str, Any]] = field(default_factory=dict)


@dataclass
class SweepResult:
    scenario: str
    axes: list[Axis]
    replications: int
    points: list[Point]
    variants: list[str | None]
    info_fields: list[str]

    def rows(self) -> Iterator[dict[str, Any]]:
        """One row per point, variant and workload command, averaged over replications (a
        command that some replications never sent counts there as 0 calls and 0 ops/s;
        its latencies are averaged over the replications that sent it)."""
        for p in self.points:
            for v in self.variants:
                reps = [p.runs[(v, r)] for r in range(self.replications)]
                per_rep = [dict(zip(r["ops"], r["stats"], strict=True)) for r in reps]
                ops = list(dict.fromkeys(op for r in reps for op in r["ops"]))
                for key in ops:
                    wl, op = key
                    row: dict[str, Any] = {
                        **{a.name: val for a, val in zip(self.axes, p.values, strict=True)},
                        "variant": v, "workload": wl, "op": op, "runs": len(reps)}
                    present = [s[key] for s in per_rep if key in s]
                    for k in ("calls", "ops_s"):
                        mean, half = _mean_ci([s[key][k] if key in s else 0.0 for s in per_rep])
                        row[k] = mean
                        if k != "calls":
                            row[f"{k}_ci95"] = half
                    for k in LATENCY_KEYS:
                        row[f"{k}_ms"], row[f"{k}_ms_ci95"] = _mean_ci([s[k] for s in present])
                    for f in self.info_fields:
                        row[f] = _mean_ci([_num(r["info"].get(f)) for r in reps])[0]
                    yield row


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _mean_ci(xs: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % confidence interval (nan for one value)."""
    mean = statistics.fmean(xs)
    if len(xs) < 2:
        return mean, math.nan
    return mean, t95(len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))


def plan(data: dict, source: str, axes: Sequence[Axis], replications: int) -> tuple[
        list[Point], list[str | None], list[Run]]:
    """Validate every grid point (and its variants) before anything runs; return the
    points, the variant names and the runs in grid order."""
    if replications < 1:
        raise ScenarioError("--replications must be at least 1")
    paths = [p for a in axes for p in a.paths]
    twice = next((p for p in paths if paths.count(p) > 1), None)
    if twice is not None:
        raise ScenarioError(f"--vary {twice}: the same field is varied twice")
    points: list[Point] = []
    runs: list[Run] = []
    grid = list(itertools.product(*(a.values for a in axes))) if axes else [()]
    base = validate(copy.deepcopy(data), source)
    variant_sets: list[tuple[str | None, dict[str, Any]]] = [
        (v.name, v.set) for v in base.variants] or [(None, {})]
    variants = [name for name, _ in variant_sets]
    for pi, values in enumerate(grid):
        where = ", ".join(f"{a.name}={v}" for a, v in zip(axes, values, strict=True))
        points.append(Point(tuple(values)))
        for name, changes in variant_sets:
            # The variant's own changes first, then the point's: an axis overrides a
            # field that a variant sets too (that is what the user asked to vary).
            d = copy.deepcopy(data)
            d.pop("variants", None)
            label = f"{source} (variant {name})" if name is not None else source
            for k, v in changes.items():
                set_path(d, k, v, f"{label}: {k}")
            for a, v in zip(axes, values, strict=True):
                for path in a.paths:
                    set_path(d, path, v, f"{source} (--vary {path})")
            sc = validate(d, f"{label} (sweep point {where})" if where else label)
            for r in range(replications):
                seeded = sc.model_copy(update={"seed": sc.seed + r}) if r else sc
                runs.append(Run(pi, name, r, seeded))
    return points, variants, runs


def overridden(data: dict, axes: Sequence[Axis]) -> list[str]:
    """Notes for the user: the fields an axis sets that a variant sets too (the axis wins,
    so those variants no longer differ in that field)."""
    notes = []
    paths = {p for a in axes for p in a.paths}
    for v in data.get("variants") or []:
        if not isinstance(v, dict):
            continue
        hit = sorted(paths & set((v.get("set") or {}).keys()))
        if hit:
            notes.append(f"variant {v.get('name')}: --vary {', '.join(hit)} replaces its own "
                         f"value")
    return notes


def summarize(scenario: Scenario, info_fields: Sequence[str] = ()) -> dict[str, Any]:
    """Run one scenario; keep what the sweep reports (not the histograms themselves)."""
    from redissim.sim.engine import simulate

    res = simulate(scenario)
    ops: list[tuple[str, str]] = []
    stats: list[dict[str, float]] = []
    for wl in res.workloads:
        for c in wl.commands:
            lat = c.latency.summary_ms()
            ops.append((wl.name, c.label))
            stats.append({"calls": c.calls, "ops_s": c.throughput_rps,
                          **{k: lat[k] for k in LATENCY_KEYS}})
    flat: dict[str, Any] = {}
    for section in res.info.values():
        if isinstance(section, dict):
            flat.update(section)
    missing = [f for f in info_fields if f not in flat]
    if missing:
        raise ScenarioError(f"--info {missing[0]}: INFO has no such field (this run's INFO "
                            f"has e.g. used_memory, evicted_keys, expired_keys, "
                            f"keyspace_hits, total_commands_processed)")
    return {"ops": ops, "stats": stats, "sim_time": res.sim_time,
            "info": {f: flat[f] for f in info_fields}}


#: What one run needs: its scenario and the INFO fields to report.
_Work = tuple[Scenario, tuple[str, ...]]


def _run_one(args: _Work) -> dict[str, Any]:
    sc, info_fields = args
    return summarize(sc, info_fields)


def run_sweep(data: dict, source: str, axes: Sequence[Axis], *, replications: int = 1,
              jobs: int | None = None, info_fields: Sequence[str] = (),
              progress: Callable[[int, int], None] | None = None,
              scheduler: str | None = None) -> SweepResult:
    """Plan, run and collect a sweep.

    The runs go to ``jobs`` local processes (default: one per CPU; 1 runs them in this
    process), or, when ``scheduler`` names a Dask scheduler (``tcp://10.0.0.5:8786``), one
    task each to that cluster's workers, and ``jobs`` is ignored. Either way the result is
    the same, byte for byte in every output format: each run is seeded by the plan, not by
    where it runs. The workers of a cluster need redissim (the same version) installed;
    running them with one thread each (``dask worker --nthreads 1 --nworkers N``) suits
    simulations, which are pure Python and hold the GIL. Raises :class:`SchedulerError` when
    the scheduler cannot be used.
    """
    points, variants, runs = plan(data, source, axes, replications)
    work = [(r.scenario, tuple(info_fields)) for r in runs]
    if scheduler is not None:
        from redissim.dask_cluster import run_on_dask
        results = run_on_dask(scheduler, _run_one, work, progress)
    else:
        results = _run_locally(work, jobs, progress)
    for r, out in zip(runs, results, strict=True):
        points[r.point].runs[(r.variant, r.replication)] = out
    name = str(data.get("name", source))
    return SweepResult(name, list(axes), replications, points, variants, list(info_fields))


def _run_locally(work: list[_Work], jobs: int | None,
                 progress: Callable[[int, int], None] | None) -> list[dict[str, Any]]:
    """The runs' summaries in the order of ``work``, from ``jobs`` local processes."""
    if jobs is None:
        jobs = os.cpu_count() or 1
    jobs = max(1, min(jobs, len(work)))
    done = 0
    results = []
    if jobs == 1:
        for w in work:
            results.append(_run_one(w))
            done += 1
            if progress is not None:
                progress(done, len(work))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for out in pool.map(_run_one, work):
                results.append(out)
                done += 1
                if progress is not None:
                    progress(done, len(work))
    return results


# -- output ------------------------------------------------------------------------------------

def _fmt_ms(ms: float) -> str:
    if math.isnan(ms):
        return "-"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 1:
        return f"{ms:.2f} ms"
    return f"{ms * 1000:.1f} us"


def _fmt_val(v: Any) -> str:
    return "-" if v is None else str(v)


def sweep_text(sr: SweepResult) -> str:
    """A table: the axes, the variant, the command, throughput (± 95 % CI), latencies."""
    rows = list(sr.rows())
    n_runs = len(sr.points) * len(sr.variants) * sr.replications
    head = [a.name for a in sr.axes]
    if any(v is not None for v in sr.variants):
        head.append("variant")
    n_left = len(head) + 1  # the axes, the variant and the command: text, left-aligned
    head += ["op", "ops/s", "avg", "p50", "p99"] + list(sr.info_fields)
    table: list[list[str]] = []
    many_wl = len({r["workload"] for r in rows}) > 1
    for r in rows:
        line = [_fmt_val(r[a.name]) for a in sr.axes]
        if any(v is not None for v in sr.variants):
            line.append(_fmt_val(r["variant"]))
        op = f"{r['workload']}: {r['op']}" if many_wl and r["workload"].upper() != r["op"] \
            else r["op"]
        ci = r["ops_s_ci95"]
        line.append(op)
        line.append(f"{r['ops_s']:,.0f}" + (f" ± {ci:,.0f}" if not math.isnan(ci) else ""))
        line += [_fmt_ms(r[f"{k}_ms"]) for k in ("avg", "p50", "p99")]
        line += [_fmt_num(r[f]) for f in sr.info_fields]
        table.append(line)
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    out = [f"sweep of {sr.scenario}: {len(sr.points)} point{'s' * (len(sr.points) != 1)}"
           f" x {len(sr.variants)} variant{'s' * (len(sr.variants) != 1)}"
           f" x {sr.replications} replication{'s' * (sr.replications != 1)} = {n_runs} runs"
           + ("; ± is the 95 % confidence interval of the mean" if sr.replications > 1 else "")]
    out.append("  ".join(h.ljust(w) if i < n_left else h.rjust(w)
                         for i, (h, w) in enumerate(zip(head, widths, strict=True))).rstrip())
    for t in table:
        out.append("  ".join(c.ljust(w) if i < n_left else c.rjust(w)
                             for i, (c, w) in enumerate(zip(t, widths, strict=True))).rstrip())
    return "\n".join(out) + "\n"


def _fmt_num(x: float) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 or x == int(x) else f"{x:.3g}"


def sweep_csv(sr: SweepResult) -> str:
    import csv
    import io

    rows = list(sr.rows())
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v)
                        for k, v in r.items()})
    return buf.getvalue()


def sweep_json(sr: SweepResult) -> str:
    import json

    def clean(x: Any) -> Any:
        if isinstance(x, float) and math.isnan(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        return x

    doc = {
        "scenario": sr.scenario,
        "axes": [{"paths": list(a.paths), "values": list(a.values)} for a in sr.axes],
        "replications": sr.replications,
        "rows": [clean(r) for r in sr.rows()],
        "runs": [{"point": list(p.values), "variant": v, "replication": rep,
                  "sim_time": clean(out["sim_time"]),
                  "ops": [{"workload": wl, "op": op, **clean(st)}
                          for (wl, op), st in zip(out["ops"], out["stats"], strict=True)],
                  "info": out["info"]}
                 for p in sr.points for (v, rep), out in sorted(
                     p.runs.items(), key=lambda kv: (sr.variants.index(kv[0][0]), kv[0][1]))],
    }
    return json.dumps(doc, indent=1, default=str) + "\n"


def sweep_png(sr: SweepResult, path: Any) -> None:
    """Throughput and p99 against the first axis, a line per command and combination of
    the other axes (and variant), with the 95 % intervals as error bars; written atomically."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from redissim.report.figure import save_png

    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ScenarioError(f"{path}: directory {parent} does not exist")
    x_axis = sr.axes[0]
    xs = list(x_axis.values)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in xs)
    pos = {i: (v if numeric else i) for i, v in enumerate(xs)}
    lines: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for row in sr.rows():
        i = xs.index(row[x_axis.name])
        rest = [f"{a.name.rsplit('.', 1)[-1]}={row[a.name]}" for a in sr.axes[1:]]
        if row["variant"] is not None:
            rest.append(str(row["variant"]))
        op = row["op"] if row["workload"].upper() == row["op"] else \
            f"{row['workload']}: {row['op']}"
        label = " ".join([*rest, op])
        lines.setdefault(label, []).append((pos[i], row))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=110)
    for label, pts in lines.items():
        px = [p for p, _ in pts]
        for ax, key in ((ax1, "ops_s"), (ax2, "p99_ms")):
            ys = [r[key] for _, r in pts]
            err = [r[f"{key}_ci95"] for _, r in pts]
            has_err = not any(math.isnan(e) for e in err)
            ax.errorbar(px, ys, yerr=err if has_err else None, marker="o", capsize=3,
                        label=label)
    for ax, title in ((ax1, "throughput (ops/s)"), (ax2, "p99 latency (ms)")):
        ax.set_xlabel(x_axis.name)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        if not numeric:
            ax.set_xticks(list(pos.values()), [str(v) for v in xs])
        elif min(xs) > 0 and max(xs) / min(xs) >= 100:
            ax.set_xscale("log")
    p99s = [r["p99_ms"] for pts in lines.values() for _, r in pts if r["p99_ms"] > 0]
    if p99s and max(p99s) / min(p99s) >= 10:
        ax2.set_yscale("log")
    else:
        ax2.set_ylim(bottom=0)
    ax1.set_ylim(bottom=0)
    ax2.legend(fontsize=7, loc="best")
    fig.suptitle(f"sweep of {sr.scenario}" + (f" ({sr.replications} replications, 95 % CI)"
                                              if sr.replications > 1 else ""), fontsize=10)
    fig.tight_layout()
    save_png(fig, path)
