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

from redissim.scenario import ScenarioError, builtin_scenarios, load_raw, load_scenario

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
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_scenario(target: str, seed: int | None, overrides: list[str],
                 show_progress: bool = True, trace: bool = False):
    """Load and run a scenario and all its variants; returns the list of Results."""
    from redissim.scenario import variant_scenario
    from redissim.sim.engine import Simulation

    scenario, data = load_scenario(target, overrides, seed)
    runs = [(None, scenario)]
    for v in scenario.variants:
        runs.append((v.name, variant_scenario(data, v, target)))
    if scenario.variants:
        runs = runs[1:]  # variants replace the base run
    results = []
    for name, sc in runs:
        sim = Simulation(sc, trace=trace)
        res = _run_with_progress(sim, name or sc.name, show_progress)
        res.variant = name
        results.append(res)
    return results


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
) -> None:
    """Run a scenario and print a redis-benchmark style report."""
    from redissim.report.summary import benchmark_text, to_csv, to_json

    try:
        for out in (json_out, csv_out):
            if out is not None and not (out.parent if str(out.parent) else Path(".")).is_dir():
                raise ScenarioError(f"{out}: directory {out.parent} does not exist")
        results = run_scenario(scenario, seed, set_ or [])
        if json_out is not None:
            write_atomic(json_out, to_json(results))
        if csv_out is not None:
            write_atomic(csv_out, to_csv(results))
    except (ScenarioError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    if not quiet:
        for res in results:
            typer.echo(benchmark_text(res))


@app.command()
def validate(scenario: Annotated[str, typer.Argument(help="scenario file or built-in name")]
             ) -> None:
    """Check a scenario file without running it."""
    try:
        sc, _ = load_scenario(scenario)
    except (ScenarioError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    typer.echo(f"{scenario}: ok ({len(sc.workloads)} workloads, {len(sc.variants)} variants)")


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
