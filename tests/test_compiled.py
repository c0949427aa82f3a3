"""The mypyc-compiled build and the Python source give the same results; the switch between them."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redissim import _compiled

PY = [sys.executable, "-m", "redissim"]
ROOT = Path(__file__).resolve().parent.parent


def _compiled_build_present() -> bool:
    return all(_compiled._paths(name)[1] for name in _compiled.COMPILED)


needs_build = pytest.mark.skipif(
    not _compiled_build_present(),
    reason="redissim is installed without its mypyc extensions (REDISSIM_PURE=1 at install, "
           "or not installed from this checkout): there is only one build to compare")


def _run(args: list[str], pure: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "REDISSIM_PURE"}
    if pure:
        env["REDISSIM_PURE"] = "1"
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@needs_build
@pytest.mark.parametrize("scenario, extra", [
    ("quickstart", ["--set", "workloads.0.requests=50000", "--set", "workloads.1.requests=50000"]),
    ("pipelining", ["--set", "workloads.0.requests=50000", "--set", "workloads.1.requests=50000"]),
    ("setex-expiry", []), ("expiry-reclaim", []),
    ("atomic-counter", []), ("eviction", ["--set", "workloads.0.duration=1s"])])
def test_both_builds_give_identical_json(tmp_path: Path, scenario: str, extra: list[str]) -> None:
    """Closed-loop and pipelined clients with their own CPU (requests and replies taking turns
    on the client's thread), a scripted client, lazy and active expiry, increments
    done by the application (GET, then SET), maxmemory eviction under three policies (about
    a thousand keys each): the same bytes whichever build runs (mypyc turns an int stored in a
    float attribute into a float, for one, which JSON would show)."""
    outs = []
    for pure in (False, True):
        out = tmp_path / f"{scenario}-{pure}.json"
        r = _run([*PY, "run", scenario, "-q", *extra, "--json", str(out)], pure)
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


@needs_build
def test_both_builds_give_identical_json_for_a_cluster(tmp_path: Path) -> None:
    """The cluster's routing (sim/cluster.py, server/cluster_slots.py) compiled and not."""
    outs = []
    for pure in (False, True):
        out = tmp_path / f"cluster-{pure}.json"
        r = _run([*PY, "run", "cluster-scaling", "-q", "--json", str(out),
                  "--set", "workloads.0.requests=20000"], pure)
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


@needs_build
def test_the_switch_picks_the_build() -> None:
    code = ("from redissim._compiled import is_compiled; import redissim.server.eventloop as e; "
            "print(is_compiled(), e.__file__.endswith('.py'))")
    assert _run([sys.executable, "-c", code], pure=False).stdout.split() == ["True", "False"]
    assert _run([sys.executable, "-c", code], pure=True).stdout.split() == ["False", "True"]


def _fake_tree(root: Path, src_age: float, ext_age: float) -> None:
    (root / "pyproject.toml").write_text("")
    now = time.time()
    for name in _compiled.COMPILED:
        base = root.joinpath(*name.split("."))
        base.parent.mkdir(parents=True, exist_ok=True)
        src = base.with_suffix(".py")
        ext = Path(str(base) + _compiled.EXTENSION_SUFFIXES[0])
        src.write_text("")
        ext.write_text("")
        os.utime(src, (now - src_age, now - src_age))
        os.utime(ext, (now - ext_age, now - ext_age))


def test_an_edited_source_makes_the_extensions_stale(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compiled, "_ROOT", str(tmp_path))
    _fake_tree(tmp_path, src_age=100, ext_age=50)  # built after the last edit
    assert _compiled._stale() == []
    edited = tmp_path.joinpath(*_compiled.COMPILED[3].split(".")).with_suffix(".py")
    os.utime(edited, None)  # edited now, after the build
    assert _compiled._stale() == [_compiled.COMPILED[3]]
    # An installed package (no pyproject.toml beside it): file times say nothing.
    (tmp_path / "pyproject.toml").unlink()
    assert _compiled._stale() == []


def test_the_source_finder_answers_only_for_compiled_modules() -> None:
    finder = _compiled._SourceFinder()
    spec = finder.find_spec("redissim.server.keyspace")
    assert spec is not None and spec.origin is not None and spec.origin.endswith("keyspace.py")
    assert finder.find_spec("redissim.scenario") is None
