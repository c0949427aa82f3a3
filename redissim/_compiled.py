"""Which modules the build compiles with mypyc, and the switch back to their Python source.

The per-command path (the event loop, the keyspace and what they call on every command) is
compiled to C extension modules by mypyc when the package is installed (``setup.py``); the
``.py`` files stay beside the extensions and remain the source of truth. Python's import system
prefers an extension over a ``.py`` of the same name, so two cases need the source instead:

- ``REDISSIM_PURE=1`` in the environment: run the plain Python modules (to compare the two
  builds, or to profile with tools that do not see into compiled code);
- in a source checkout, a ``.py`` edited after the last build: the extension is stale.

The compiled modules call one another directly, not through Python imports, so they are used
all together or not at all: one stale module sends every one of them back to its source.
This module must not import anything from redissim (setup.py reads COMPILED from it).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from types import ModuleType

#: compiled by mypyc, in this order (setup.py); everything else is always plain Python
COMPILED: tuple[str, ...] = (
    "redissim.server.commands",
    "redissim.server.resp",
    "redissim.server.hashtable",
    "redissim.server.keyspace",
    "redissim.server.expiry",
    "redissim.server.eventloop",
    "redissim.server.persistence",
    "redissim.sim.metrics",
    "redissim.sim.network",
    "redissim.sim.workload",
    "redissim.server.cluster_slots",
    "redissim.sim.cluster",
    "redissim.server.memory",
    "redissim.server.eviction",
    "redissim.server.maxmemory",
)

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _paths(name: str) -> tuple[str, list[str]]:
    """The module's source file and the extension files built for it, if any."""
    base = os.path.join(_ROOT, *name.split("."))
    return base + ".py", [base + s for s in EXTENSION_SUFFIXES if os.path.exists(base + s)]


def _stale() -> list[str]:
    """Compiled modules whose source is newer than their extension (source checkouts only:
    an installed wheel's file times say nothing about edits)."""
    if not os.path.exists(os.path.join(_ROOT, "pyproject.toml")):
        return []
    out = []
    for name in COMPILED:
        src, exts = _paths(name)
        if exts and os.path.exists(src) and os.path.getmtime(src) > max(map(os.path.getmtime, exts)):
            out.append(name)
    return out


class _SourceFinder:
    """A meta path finder that answers for the compiled modules with their ``.py`` file."""

    def find_spec(self, name: str, path: object = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name not in COMPILED:
            return None
        src, _ = _paths(name)
        return importlib.util.spec_from_file_location(name, src)


def use_source() -> bool:
    """Install the finder if the source must be used; True if it is (call before importing
    any of COMPILED)."""
    if any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        return True
    source = os.environ.get("REDISSIM_PURE", "") not in ("", "0")
    if not source:
        stale = _stale()
        if stale:
            source = True
            warnings.warn(
                f"redissim: {stale[0]} was edited after it was compiled; running the Python "
                "source of every compiled module (slower). Rebuild with: pip install -e .",
                stacklevel=3)
    if not source:
        return False
    sys.meta_path.insert(0, _SourceFinder())
    return True


def is_compiled() -> bool:
    """True if the compiled extensions are what runs."""
    mod = sys.modules.get("redissim.server.keyspace")
    if mod is None:
        import redissim.server.keyspace as keyspace
        mod = keyspace
    return not (mod.__file__ or "").endswith(".py")
