"""INFO's CPU section: the main thread's busy time as ``getrusage`` reports it, split into
system and user time by the profile's kernel shares (``EventLoop.cpu_fields``), and the CPU
of the children once they are reaped. Against a real server: tests/test_fidelity_redis.py."""

from __future__ import annotations

import re

import pytest
import yaml

from redissim.profile import CostProfile, load_profile_data
from redissim.scenario import Scenario
from redissim.sim.engine import simulate

#: genRedisInfoString's CPU section, in its order (server.c, 7.0)
FIELDS = ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
          "used_cpu_sys_main_thread", "used_cpu_user_main_thread")


def _scenario(pipeline: int = 1, server: dict | None = None, storage: dict | None = None,
              script: list | None = None, requests: int = 20_000) -> Scenario:
    workloads: list[dict] = [{"clients": 50, "pipeline": pipeline, "requests": requests,
                              "commands": [{"cmd": "SET"}], "keys": {"space": 10_000}}]
    if script:
        workloads.append({"type": "script", "steps": script})
    data: dict = {"name": "cpu", "seed": 2, "workloads": workloads, "server": server or {}}
    if storage:
        data["storage"] = storage
    return Scenario.model_validate(data)


def _cpu(res) -> dict[str, float]:
    return {k: float(v) for k, v in res.info["cpu"].items()}


def _share(cpu: dict[str, float]) -> float:
    main = cpu["used_cpu_sys_main_thread"] + cpu["used_cpu_user_main_thread"]
    return cpu["used_cpu_sys_main_thread"] / main


def test_the_fields_are_redis_s_and_add_up_to_the_loop_s_busy_time():
    res = simulate(_scenario(script=[{"at": 0.1, "cmd": "INFO cpu"}]))
    text = res.workloads[1].records[0]["reply"]
    lines = text.split("\r\n")
    assert lines[0] == "# CPU"
    assert tuple(line.split(":")[0] for line in lines[1:] if line) == FIELDS
    assert all(re.fullmatch(r"\w+:\d+\.\d{6}", line) for line in lines[1:] if line), text
    assert tuple(res.info["cpu"]) == FIELDS
    cpu = _cpu(res)
    busy = res.info["stats"]["eventloop_duration_sum"] / 1e6
    main = cpu["used_cpu_sys_main_thread"] + cpu["used_cpu_user_main_thread"]
    assert main == pytest.approx(busy, abs=3e-6)
    # no thread but the main one has CPU in the model, and no child ran
    assert cpu["used_cpu_sys"] == cpu["used_cpu_sys_main_thread"]
    assert cpu["used_cpu_user"] == cpu["used_cpu_user_main_thread"]
    assert cpu["used_cpu_sys_children"] == cpu["used_cpu_user_children"] == 0.0


def test_pipelining_moves_the_cpu_from_the_kernel_to_the_commands():
    """At one command a read most of the CPU is the kernel's (the read(2), the write(2), the
    wake-ups); at 64 a read it is the commands' own, which are user time. (The real
    server's shares: tests/test_fidelity_redis.py.)"""
    one, deep = (_share(_cpu(simulate(_scenario(p)))) for p in (1, 64))
    assert one > 0.6 and deep < 0.25, (one, deep)


def test_a_profile_without_kernel_shares_counts_everything_as_user_time(tmp_path):
    data = load_profile_data("default")
    data.pop("kernel-share")
    path = tmp_path / "no-shares.yaml"
    path.write_text(yaml.safe_dump(data))
    sc = _scenario().model_copy(update={"profile": str(path)})
    cpu = _cpu(simulate(sc))
    assert cpu["used_cpu_sys_main_thread"] == 0.0 and cpu["used_cpu_user_main_thread"] > 0


def test_waiting_for_fsync_is_not_cpu():
    """Under appendfsync always the loop waits for every fsync on the main thread: busy, but
    not on the CPU. The AOF's write(2)s are syscalls, in the system time."""
    sc = _scenario(server={"appendonly": "yes", "appendfsync": "always", "save": ""},
                   storage={"preset": "hdd"}, requests=2_000)
    res = simulate(sc)
    cpu = _cpu(res)
    busy = res.info["stats"]["eventloop_duration_sum"] / 1e6
    main = cpu["used_cpu_sys_main_thread"] + cpu["used_cpu_user_main_thread"]
    assert main < 0.2 * busy, (main, busy)
    plain = _cpu(simulate(_scenario(requests=2_000)))
    assert cpu["used_cpu_sys_main_thread"] > plain["used_cpu_sys_main_thread"]


def test_a_bgsave_child_counts_once_reaped_and_its_fork_as_system_time():
    script = [{"at": 0.05, "cmd": "BGSAVE"}, {"at": 0.3, "cmd": "INFO cpu"}]
    sc = _scenario(script=script, requests=40_000)
    res = simulate(sc)
    cpu = _cpu(res)
    share = CostProfile.model_validate(load_profile_data("default")).kernel_share.child
    children = cpu["used_cpu_sys_children"] + cpu["used_cpu_user_children"]
    assert children > 0
    assert cpu["used_cpu_sys_children"] == pytest.approx(share * children, abs=2e-6)
    before = _cpu(simulate(_scenario(requests=40_000)))
    # the fork's stall joins the parent's system time
    p = res.extra["persistence"]
    assert cpu["used_cpu_sys_main_thread"] >= before["used_cpu_sys_main_thread"] \
        + 0.9 * p.stat_fork_time


def test_a_restarted_process_counts_from_zero_with_its_loading():
    """After a crash the new process's CPU is its startup and loading (the RDB's 50k keys)
    and what its loop did since, the loading mostly user time (rebuilding keys)."""
    sc = Scenario.model_validate({
        "name": "restart", "seed": 2, "duration": 1.5, "storage": {"preset": "ssd"},
        "server": {"appendonly": "yes", "appendfsync": "everysec", "save": ""},
        "preload": {"keys": 50_000, "value-size": 10},
        "faults": [{"at": 0.5, "kind": "crash", "restart-after": 0.2}],
        "workloads": [{"clients": 5, "duration": 1.5, "think-time": 0.001,
                       "commands": [{"cmd": "SET"}], "keys": {"space": 1000}}]})
    res = simulate(sc)
    cpu = _cpu(res)
    main = cpu["used_cpu_sys_main_thread"] + cpu["used_cpu_user_main_thread"]
    busy = res.info["stats"]["eventloop_duration_sum"] / 1e6  # since the restart
    p = res.extra["persistence"]
    # a crash: the file comes from the page cache, so all of the load time is CPU
    loading = res.extra["faults"]["faults"][0]["load_time_s"]
    assert main == pytest.approx(busy + loading, rel=1e-3, abs=5e-6)
    share = CostProfile.model_validate(load_profile_data("default")).kernel_share.load
    assert cpu["used_cpu_user_main_thread"] > (1 - share) * loading
    assert p.cpu_load == pytest.approx(loading)
