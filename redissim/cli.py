"""The ``redissim`` command: a thin layer over the public API.

Every user mistake (missing file, bad YAML, a field out of range, an unknown field) ends in one
line on stderr naming the file, the field and what is allowed, and exit status 2 -- never a
traceback, and never a half-written output file (outputs are written to a temporary file and
renamed into place only when complete).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from redissim.outputs import give_default_mode
from redissim.scenario import (
    Scenario,
    ScenarioError,
    builtin_scenarios,
    load_raw,
    load_scenario,
)
from redissim.scenario import resolve as resolve_scenario

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Simulate and visualise Redis 7 internals.")


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"redissim: {msg}", err=True)
    raise typer.Exit(code)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once (temp file + rename)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ScenarioError(f"{path}: directory {parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        give_default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_scenario(target: str, seed: int | None, overrides: list[str],
                 show_progress: bool = True, trace: bool = False, client_stats: bool = False):
    """Load and run a scenario and all its variants; returns the list of Results."""
    from redissim.scenario import variant_scenario
    from redissim.sim.engine import Simulation

    scenario, data = load_scenario(target, overrides, seed)
    runs: list[tuple[str | None, Scenario]] = [(None, scenario)]
    for v in scenario.variants:
        runs.append((v.name, variant_scenario(data, v, target)))
    if scenario.variants:
        runs = runs[1:]  # variants replace the base run
    results = []
    for name, sc in runs:
        sim = Simulation(sc, trace=trace, client_stats=client_stats)
        res = _run_with_progress(sim, name or sc.name, show_progress)
        res.variant = name
        results.append(res)
    return results


def _write_figures(png: Path, results: list) -> None:
    from redissim.report.lru_grid import draw_grid

    grids = [(r.variant, r.extra["lru_grid"]) for r in results if "lru_grid" in r.extra]
    if not grids:
        raise ScenarioError(f"{png}: this scenario draws no figure (only lru-grid does)")
    for variant, grid in grids:
        target = png if variant is None or len(grids) == 1 else \
            png.with_name(f"{png.stem}-{_slug(variant)}{png.suffix}")
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".png")
        os.close(fd)
        try:
            draw_grid(grid, tmp, f"{results[0].scenario.name} {variant or ''}: "
                                 f"score {grid.score:.3f}")
            give_default_mode(tmp)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()


def _run_with_progress(sim, label: str, show: bool):
    if not show or not sys.stderr.isatty():
        return sim.run()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.monotonic()
    state: dict = {}

    def cb(frac: float) -> None:
        # Only show a bar once the run has taken a couple of seconds of wall time.
        if "bar" not in state and time.monotonic() - started > 2.0:
            p = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                         transient=True)
            p.start()
            state["bar"] = p
            state["task"] = p.add_task(f"simulating {label}", total=1.0)
        if "bar" in state:
            state["bar"].update(state["task"], completed=frac)

    try:
        return sim.run(progress=cb)
    finally:
        if "bar" in state:
            state["bar"].stop()


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="scenario file or built-in name")],
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="override a field: dotted.path=value (repeatable)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results as JSON")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="write results as CSV")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no text report")] = False,
    png: Annotated[Path | None, typer.Option(
        help="write the scenario's figure (the LRU grid of lru-grid) to this PNG; "
             "variants get their name appended")] = None,
    memtier: Annotated[bool, typer.Option(
        "--memtier", help="print the report as memtier_benchmark prints one (ALL STATS and "
        "the latency distribution) instead of redis-benchmark's")] = False,
    memtier_json: Annotated[Path | None, typer.Option(
        "--memtier-json", help="write memtier_benchmark's --json-out-file document; "
        "variants get their name appended")] = None,
) -> None:
    """Run a scenario and print a redis-benchmark style report."""
    from redissim.report.summary import comparison_text, report_text, to_csv, to_json

    want_client = memtier or memtier_json is not None
    try:
        for out in (json_out, csv_out, png, memtier_json):
            if out is not None and not (out.parent if str(out.parent) else Path(".")).is_dir():
                raise ScenarioError(f"{out}: directory {out.parent} does not exist")
        results = run_scenario(scenario, seed, set_ or [], client_stats=want_client)
        if json_out is not None:
            write_atomic(json_out, to_json(results))
        if csv_out is not None:
            write_atomic(csv_out, to_csv(results))
        if png is not None:
            _write_figures(png, results)
        if memtier_json is not None:
            _write_memtier_json(memtier_json, results)
    except (ScenarioError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    if not quiet:
        if memtier:
            from redissim.report.memtier import memtier_text

            for res in results:
                if res.variant:
                    typer.echo(f"#### variant: {res.variant}")
                typer.echo(memtier_text(res))
            return
        for res in results:
            typer.echo(report_text(res))
        if len(results) > 1:
            typer.echo(comparison_text(results))


def _write_memtier_json(path: Path, results: list) -> None:
    """One memtier JSON document per run; variants get their name appended to the file name."""
    import json

    from redissim.report.memtier import memtier_json

    for res in results:
        target = path if res.variant is None or len(results) == 1 else \
            path.with_name(f"{path.stem}-{_slug(res.variant)}{path.suffix}")
        write_atomic(target, json.dumps(memtier_json(res), indent=2) + "\n")


@app.command()
def validate(scenario: Annotated[str, typer.Argument(help="scenario file or built-in name")]
             ) -> None:
    """Check a scenario file without running it."""
    try:
        sc, _ = load_scenario(scenario)
    except (ScenarioError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    typer.echo(f"{scenario}: ok ({len(sc.workloads)} workloads, {len(sc.variants)} variants)")


@app.command()
def animate(
    scenario: Annotated[str, typer.Argument(help="scenario file or built-in name")],
    export: Annotated[Path | None, typer.Option(
        help="write out.gif, out.mp4 or dir/ (headless) instead of opening a window")] = None,
    fps: Annotated[float, typer.Option(help="frames per second of the export")] = 30.0,
    size: Annotated[str, typer.Option(help="frame size WxH")] = "1280x720",
    speed: Annotated[float | None, typer.Option(
        help="simulated seconds per wall second (default: the run fits in 20 s)")] = None,
    duration: Annotated[float | None, typer.Option(help="wall seconds of export")] = None,
    variant: Annotated[str | None, typer.Option(help="which variant to show")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="override a field: dotted.path=value (repeatable)")] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="replay from this simulated time, e.g. 29.9s (the trace is recorded "
        "from there: metrics.trace-from)")] = None,
) -> None:
    """Replay a scenario's event trace in a pygame window, or export it headless."""
    from redissim.scenario import variant_scenario

    overrides = list(set_ or [])
    if from_ is not None:
        overrides.append(f"metrics.trace-from={from_}")
    try:
        sc, data = load_scenario(scenario, overrides, seed)
        if sc.variants:
            names = [v.name for v in sc.variants]
            if variant is not None and variant not in names:
                raise ScenarioError(f"{scenario}: no variant {variant!r}; variants: "
                                    + ", ".join(names))
            chosen = next(v for v in sc.variants if v.name == (variant or names[0]))
            sc = variant_scenario(data, chosen, scenario)
        elif variant is not None:
            raise ScenarioError(f"{scenario}: has no variants")
        from redissim.view.export import output_kind, parse_size

        w_h = parse_size(size)
        if export is not None:
            output_kind(export)  # reject a bad target before simulating
        if fps <= 0:
            raise ValueError("--fps must be positive")
    except (ScenarioError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    if export is not None:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    from redissim.sim.engine import Simulation
    from redissim.view.animate import export as export_view
    from redissim.view.animate import run_window, text_progress
    from redissim.view.model import ViewInput

    res = _run_with_progress(Simulation(sc, trace=True), sc.name, True)
    if res.trace is not None and not res.trace.events and res.trace.start > 0:
        _fail(f"{scenario}: metrics.trace-from ({res.trace.start:g} s) is after the run's end "
              f"({res.sim_time:g} s): nothing to replay; give an earlier --from")
    vi = ViewInput.from_result(res)
    if export is None:
        try:
            run_window(vi, speed=speed, size=w_h)
        except Exception as e:  # no display, no video device
            _fail(f"cannot open a window ({e}); use --export out.mp4 to render headless")
        return
    try:
        frames = _export_atomic(export, lambda out: export_view(
            vi, out, fps=fps, size=w_h, speed=speed, duration=duration,
            progress=text_progress() if sys.stderr.isatty() else None))
    except ValueError as e:
        _fail(str(e))
    typer.echo(f"wrote {export} ({frames} frames at {fps:g} fps, {w_h[0]}x{w_h[1]})")


def _export_atomic(target: Path, write) -> int:
    """Render into a temporary sibling, then move it into place (no half-written output)."""
    import shutil

    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{target}: directory {parent} does not exist")
    is_dir = target.suffix.lower() not in (".gif", ".mp4")
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{target.name.rstrip('/')}."))
    try:
        out = tmp if is_dir else tmp / target.name
        n = write(out)
        give_default_mode(out)
        if is_dir:
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        else:
            os.replace(out, target)
        return n
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@app.command()
def sweep(
    scenario: Annotated[str, typer.Argument(help="scenario file or built-in name")],
    vary: Annotated[list[str] | None, typer.Option(
        help="an axis of the grid: dotted.path=v1,v2,... (or p1,p2=v1,v2 to set several "
             "fields together); repeatable, the first one varies slowest")] = None,
    replications: Annotated[int, typer.Option(
        help="runs per point, with seeds seed, seed+1, ...")] = 1,
    jobs: Annotated[int | None, typer.Option(
        help="worker processes (default: one per CPU; 1 runs in this process)")] = None,
    info: Annotated[list[str] | None, typer.Option(
        help="also report this INFO field, e.g. used_memory (repeatable)")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="override a field for every run: dotted.path=value (repeatable)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the sweep as JSON")] = None,
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", help="write one row per point and command as CSV")] = None,
    png: Annotated[Path | None, typer.Option(
        help="draw ops/s and p99 against the first --vary axis to this PNG")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no table")] = False,
    scheduler: Annotated[str | None, typer.Option(
        metavar="ADDRESS",
        # The backslash: typer renders help as rich markup, which would take "[dask]" for a
        # style tag and drop it.
        help="run the sweep's runs on the Dask scheduler at ADDRESS (e.g. "
             "tcp://10.0.0.5:8786) instead of local processes; needs "
             "pip install 'redissim\\[dask]'")] = None,
) -> None:
    """What-if: run a scenario over a grid of settings and tabulate throughput and latency."""
    from redissim.sweep import (
        SchedulerError,
        overridden,
        parse_axis,
        run_sweep,
        sweep_csv,
        sweep_json,
        sweep_png,
        sweep_text,
    )

    try:
        for out in (json_out, csv_out, png):
            if out is not None and not (out.parent if str(out.parent) else Path(".")).is_dir():
                raise ScenarioError(f"{out}: directory {out.parent} does not exist")
        if jobs is not None and jobs < 1:
            raise ScenarioError("--jobs must be at least 1")
        axes = [parse_axis(v) for v in vary or []]
        if not axes:
            raise ScenarioError("sweep needs at least one --vary dotted.path=v1,v2,...")
        _sc, data = load_scenario(scenario, set_ or [], seed)
        source = str(resolve_scenario(scenario))
        for note in overridden(data, axes):
            typer.echo(f"redissim: note: {note}", err=True)
        if scheduler is not None:
            if jobs is not None:
                typer.echo("redissim: note: --jobs is ignored with --scheduler (the cluster's "
                           "workers run the runs)", err=True)
            from redissim.dask_cluster import quiet_client_logs

            quiet_client_logs()
        progress = _sweep_progress() if sys.stderr.isatty() else None
        try:
            result = run_sweep(data, source, axes, replications=replications, jobs=jobs,
                               info_fields=info or [], progress=progress,
                               scheduler=scheduler)
        finally:
            if progress is not None:
                progress(-1, -1)
        if json_out is not None:
            write_atomic(json_out, sweep_json(result))
        if csv_out is not None:
            write_atomic(csv_out, sweep_csv(result))
        if png is not None:
            sweep_png(result, png)
    except (ScenarioError, SchedulerError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    if not quiet:
        typer.echo(sweep_text(result), nl=False)


def _sweep_progress():
    """A progress bar over the sweep's runs; called with (-1, -1) to close it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
    state: dict = {}

    def cb(done: int, total: int) -> None:
        if done < 0:
            if state:
                bar.stop()
            return
        if not state:
            bar.start()
            state["task"] = bar.add_task("runs", total=total)
        bar.update(state["task"], completed=done)

    return cb


@app.command("cache-curve")
def cache_curve(
    trace: Annotated[Path | None, typer.Option(
        help="key trace: one key per line, or CSV (see --column)")] = None,
    column: Annotated[str | None, typer.Option(help="CSV column holding the key")] = None,
    keys: Annotated[int, typer.Option(help="synthetic: number of keys")] = 100_000,
    alpha: Annotated[float, typer.Option(help="synthetic: Zipf exponent")] = 1.0,
    requests: Annotated[int, typer.Option(help="synthetic: number of requests")] = 1_000_000,
    sizes: Annotated[str, typer.Option(
        help="cache sizes: fractions of the keys, key counts, or bytes like 64mb "
             "(with --value-bytes)")] = "0.01,0.05,0.1,0.2,0.5",
    policy: Annotated[list[str] | None, typer.Option(
        help="maxmemory-policy to replay (repeatable)")] = None,
    samples: Annotated[int, typer.Option(help="maxmemory-samples")] = 5,
    value_bytes: Annotated[int | None, typer.Option(
        help="value size: sizes become maxmemory in bytes")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    png: Annotated[Path | None, typer.Option(help="also draw the curves to this PNG")] = None,
) -> None:
    """Hit ratio against cache size: Redis's sampled policies replayed, beside the exact
    one-pass LRU curve (stack distances) and Che's approximation."""
    from redissim.report.cache_curve import DEFAULT_POLICIES, cache_curve_main

    try:
        if trace is not None and not trace.exists():
            raise ValueError(f"{trace}: no such file")
        if png is not None and not (png.parent if str(png.parent) else Path(".")).is_dir():
            raise ValueError(f"{png}: directory {png.parent} does not exist")
        cache_curve_main(trace=trace, column=column, keys=keys, alpha=alpha, requests=requests,
                         sizes=sizes, policies=policy or DEFAULT_POLICIES, samples=samples,
                         value_bytes=value_bytes, seed=seed, png=png)
    except ValueError as e:
        _fail(str(e))


@app.command("list")
def list_() -> None:
    """Name the built-in scenarios, one line each."""
    for name, path in builtin_scenarios().items():
        try:
            desc = " ".join(str(load_raw(path).get("description", "")).split())
        except ScenarioError:
            desc = "(unreadable)"
        first = desc.split(". ")[0].rstrip(".")
        typer.echo(f"{name:<20} {first}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
