"""Sweeps on a Dask cluster (``run_sweep(scheduler=...)``, ``redissim sweep --scheduler``):
the same bytes out as a local sweep, the runs' own errors passed on, and a scheduler that is
missing, malformed, unreachable or no scheduler at all reported in one line, no traceback.

The cluster is a LocalCluster of two worker processes on 127.0.0.1, started once for the
module (under a second here) and fed runs of about 20 ms each.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

distributed = pytest.importorskip(
    "distributed", reason="the dask extra is not installed (pip install 'redissim[dask]')")

from redissim.scenario import ScenarioError, load_scenario  # noqa: E402
from redissim.sweep import (  # noqa: E402
    SchedulerError,
    parse_axis,
    run_sweep,
    sweep_csv,
    sweep_json,
    sweep_text,
)

PY = [sys.executable, "-m", "redissim"]

#: The CLI with the connect timeout cut from 10 s to 1 s, so that an unreachable scheduler
#: fails fast; in a fresh interpreter, so that what it prints at exit is seen too.
PY_SHORT_TIMEOUT = [sys.executable, "-c",
                    "import redissim.dask_cluster as d; d.SCHEDULER_TIMEOUT = 1.0\n"
                    "from redissim.cli import main; main()"]


def quickstart_data() -> dict:
    """The built-in quickstart (SET then GET, 50 clients) cut to 3000 requests a workload (a
    run takes about 20 ms); with exponential command costs, so that the seed, which
    quickstart's one fixed key leaves unused, changes every number a run reports."""
    _sc, data = load_scenario("quickstart")
    data = copy.deepcopy(data)
    for wl in data["workloads"]:
        wl["requests"] = 3000
    data["costs"] = {"commands.distribution": "exponential"}
    return data


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a 2-process, 1-thread-each LocalCluster on loopback."""
    # processes=True as on a real cluster (each run pickled to another interpreter); it
    # starts in under a second here. dashboard_address ":0": None still binds 8787 for the
    # scheduler's HTTP routes; ":0" takes whatever port is free.
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=":0",
                                       silence_logs=logging.CRITICAL)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_a_sweep_on_dask_is_byte_for_byte_the_local_sweep(scheduler: str) -> None:
    data = quickstart_data()
    axes = [parse_axis("server.hz=10,100")]
    seen: list[tuple[int, int]] = []
    remote = run_sweep(data, "quickstart", axes, replications=2, scheduler=scheduler,
                       info_fields=["used_memory"], progress=lambda d, n: seen.append((d, n)))
    local = run_sweep(data, "quickstart", axes, replications=2, jobs=1,
                      info_fields=["used_memory"])
    assert sweep_text(remote) == sweep_text(local)
    assert sweep_csv(remote) == sweep_csv(local)
    assert sweep_json(remote) == sweep_json(local)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    # the replications differ (else the comparison would prove less than it seems): runs
    # landing in the wrong slots would show
    for p in remote.points:
        assert p.runs[(None, 0)]["stats"] != p.runs[(None, 1)]["stats"]
    assert remote.points[0].runs[(None, 0)]["stats"] != remote.points[1].runs[(None, 0)]["stats"]


def test_a_runs_own_error_comes_back_as_it_is(scheduler: str) -> None:
    with pytest.raises(ScenarioError, match="--info evictedkeys"):
        run_sweep(quickstart_data(), "quickstart", [parse_axis("server.hz=10")],
                  scheduler=scheduler, info_fields=["evictedkeys"])


@pytest.mark.parametrize("address, message", [
    ("nonsense", "missing port number"),
    ("http://127.0.0.1:1", "unknown address scheme 'http'"),
])
def test_a_malformed_address_is_refused_before_connecting(address: str, message: str) -> None:
    with pytest.raises(SchedulerError) as e:
        run_sweep(quickstart_data(), "quickstart", [parse_axis("server.hz=10")],
                  scheduler=address)
    text = str(e.value)
    assert text.startswith(f"--scheduler {address}: not a Dask scheduler address")
    assert message in text and "\n" not in text


def test_a_port_that_is_no_scheduler_is_named_as_such() -> None:
    """Pointed at, say, a Redis port by mistake: its reply is no Dask handshake (distributed
    misreads it, here as a frame of exabytes); one line, and no Client left half-open."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(10)  # the serving thread ends by itself whatever happens

        def answer_like_redis() -> None:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"-ERR unknown command 'x'\r\n" * 8)

        server = threading.Thread(target=answer_like_redis, daemon=True)
        server.start()
        address = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
        with pytest.raises(SchedulerError) as e:
            run_sweep(quickstart_data(), "quickstart", [parse_axis("server.hz=10")],
                      scheduler=address)
        server.join(10)
    text = str(e.value)
    assert text.startswith(f"--scheduler {address}: ") and "\n" not in text
    # the reply is misread, or seen cut off, depending on timing
    assert "no Dask scheduler's handshake" in text or "cannot reach" in text, text


def test_cli_sweep_on_dask_prints_what_a_local_sweep_prints(scheduler: str,
                                                             tmp_path: Path) -> None:
    f = tmp_path / "quick.yaml"
    f.write_text(yaml.safe_dump(quickstart_data()))
    args = ["sweep", str(f), "--vary", "server.hz=10,100", "--replications", "2"]
    remote = subprocess.run([*PY, *args, "--scheduler", scheduler], capture_output=True,
                            text=True, timeout=120)
    local = subprocess.run([*PY, *args, "--jobs", "1"], capture_output=True, text=True,
                           timeout=120)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert remote.stdout.startswith("sweep of quickstart: 2 points x 1 variant x 2 rep")
    assert remote.stderr == ""


def free_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_unreachable_scheduler_fails_in_one_line(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    r = subprocess.run([*PY_SHORT_TIMEOUT, "sweep", "quickstart", "--vary", "server.hz=10",
                        "--scheduler", address], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    # distributed retries a refused connection until the timeout; whether the last attempt
    # was refused or cut short by the timeout is a race, hence either reason
    assert re.fullmatch(f"redissim: --scheduler {re.escape(address)}: cannot reach the Dask "
                        r"scheduler: (Connection refused|timed out) \(gave up after 1 s\)\n",
                        r.stderr), r.stderr
    assert r.stdout == ""


def test_cli_without_the_dask_extra_says_what_to_install(tmp_path: Path) -> None:
    # None in sys.modules makes an import fail as if the package were not installed.
    hide = ("import sys; sys.modules['distributed'] = None; "
            "sys.modules['dask.distributed'] = None\n"
            "from redissim.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", hide, "sweep", "quickstart", "--vary",
                        "server.hz=10", "--scheduler", "tcp://127.0.0.1:8786"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("redissim: --scheduler needs the dask extra: "
                               "pip install 'redissim[dask]'"), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_cli_help_names_the_extra() -> None:
    # (typer's help is rich markup, where an unescaped "[dask]" silently disappears)
    r = subprocess.run([*PY, "sweep", "--help"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "COLUMNS": "300"})
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "--scheduler" in ln)
    assert "ADDRESS" in line and "pip install 'redissim[dask]'" in line


def test_a_local_sweep_does_not_import_dask() -> None:
    code = ("import sys\n"
            "from redissim.sweep import parse_axis, run_sweep\n"
            "data = {'name': 'n', 'workloads': [{'name': 'a', 'requests': 200, "
            "'commands': [{'cmd': 'GET'}]}]}\n"
            "run_sweep(data, 'n', [parse_axis('server.hz=10,100')], jobs=2)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_a_cluster_without_workers_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler no worker ever joined: one line after the wait, not a hang."""
    import redissim.dask_cluster as dc

    monkeypatch.setattr(dc, "WORKER_TIMEOUT", 1.0)
    cluster = distributed.LocalCluster(n_workers=0, processes=True, host="127.0.0.1",
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
    try:
        with pytest.raises(SchedulerError) as e:
            run_sweep(quickstart_data(), "quickstart", [parse_axis("server.hz=10")],
                      scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    text = str(e.value)
    assert text == (f"--scheduler {cluster.scheduler_address}: the Dask cluster has no workers "
                    f"(none joined in 1 s; start some, e.g. dask worker "
                    f"{cluster.scheduler_address})")
