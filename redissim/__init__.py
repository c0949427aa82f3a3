"""redissim: a discrete-event simulation and visualisation engine of Redis 7 internals.

Public API::

    from redissim import load_scenario, simulate
    scenario, _ = load_scenario("quickstart")
    result = simulate(scenario)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redissim import _compiled

__version__ = "0.1.0"

# Before anything imports a compiled module: their Python source if asked for or if stale.
_compiled.use_source()

if TYPE_CHECKING:
    from redissim.scenario import Scenario
    from redissim.sim.engine import Result


def load_scenario(name_or_path: str, overrides: list[str] | None = None,
                  seed: int | None = None) -> tuple[Scenario, dict]:
    from redissim.scenario import load_scenario as _load
    return _load(name_or_path, overrides, seed)


def simulate(scenario: Scenario, **kwargs: Any) -> Result:
    from redissim.sim.engine import simulate as _simulate
    return _simulate(scenario, **kwargs)


__all__ = ["load_scenario", "simulate", "Scenario", "Result"]
