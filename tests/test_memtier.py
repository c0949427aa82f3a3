"""memtier_benchmark's report (report/memtier.py, sim/hdr.py, sim/client_stats.py):
HdrHistogram's arithmetic against the reference library, the percentile iterator's steps
against their rule, the table's layout against a real memtier_benchmark's output, and the
counts against the simulated server's own INFO counters."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hdr_reference import reference
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.report.memtier import memtier_json, memtier_text
from redissim.scenario import Scenario, load_scenario
from redissim.sim.engine import simulate
from redissim.sim.hdr import HdrHistogram

DATA = Path(__file__).parent / "data"
PY = [sys.executable, "-m", "redissim"]

latencies = st.lists(st.integers(min_value=0, max_value=50_000_000), min_size=1, max_size=400)


@settings(max_examples=60, deadline=None)
@given(latencies)
def test_hdr_arithmetic_matches_the_reference_library(values):
    ref = reference(values, 600_000_000, 2)  # memtier's safe_hdr_histogram settings
    ours = HdrHistogram(np.array(values))
    for p in (0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        assert ours.value_at_percentile(p) == ref.get_value_at_percentile(p), p
    assert ours.min() == ref.get_min_value()
    assert ours.max() == ref.get_max_value()
    assert ours.mean() == pytest.approx(ref.get_mean_value(), rel=1e-12)
    # the V2 log encoding decodes, with the reference decoder, to the same counts
    back = type(ref).decode(ours.encode())
    assert back.get_total_count() == len(values)
    for v in set(values):
        assert back.get_count_at_value(max(v, 10)) == ref.get_count_at_value(max(v, 10))


@settings(max_examples=40, deadline=None)
@given(latencies)
def test_percentile_iterator_follows_its_rule(values):
    """Steps at 0 %, then 100/(10 * 2^k) apart while the tail above holds 1/2^k; each step at
    the first bucket whose cumulative share reaches it; then the top bucket at 100 %."""
    h = HdrHistogram(np.array(values))
    # brute force: every value's bucket (by its highest equivalent value), counted
    highs = sorted(HdrHistogram(np.array([v])).max() for v in values)
    n = len(highs)
    share = {b: 100.0 * sum(1 for x in highs if x <= b) / n for b in highs}
    steps = list(h.percentiles())
    target = 0.0
    for value, pct, cum in steps[:-1]:
        assert pct == pytest.approx(target)
        assert value == min(b for b in share if share[b] >= target)
        assert cum == sum(1 for x in highs if x <= value)
        target += 100.0 / (10 * 2 ** (int(math.log2(100.0 / (100.0 - target))) + 1))
    assert steps[-1] == (highs[-1], 100.0, n)
    assert steps[-2][0] == highs[-1]  # the last bucket's own step comes just before


def small(requests: int = 6000, commands=None, clients: int = 8) -> Scenario:
    return Scenario.model_validate({
        "name": "memtier-small", "seed": 5,
        "workloads": [{"name": "mt", "clients": clients, "client-threads": 2,
                       "requests": requests, "value-size": 32,
                       "commands": commands or [{"cmd": "SET"}, {"cmd": "GET", "weight": 10}],
                       "keys": {"space": 3000, "prefix": "memtier-"}}]})


@pytest.fixture(scope="module")
def run():
    return simulate(small(), client_stats=True)


def _mask(line: str) -> str:
    return re.sub(r"\d", "9", line)


def test_table_layout_is_a_real_memtier_runs(run):
    """The header, rules and row titles line up character for character with the output of
    a real memtier_benchmark (git 2f74d611, 4 x 50 connections, -n 2000) against
    redis-server 7.0: only the digits differ."""
    real = (DATA / "memtier-2.0-all-stats.txt").read_text().splitlines()
    ours = memtier_text(run).splitlines()
    assert ours[0] == "2         Threads" and ours[1] == "4         Connections per thread"
    assert ours[2] == "750       Requests per client"
    # lines 3-17: blank lines, title, rules, column titles, the four rows, the histogram's
    # head; all but the rows with numbers are the same text (Waits: no WAIT in either)
    for i in range(3, 18):
        assert len(ours[i]) == len(real[i]), (i, ours[i], real[i])
        if i not in (9, 10, 12):
            assert ours[i] == real[i]
    assert [_mask(x)[:6] for x in ours[9:13]] == [_mask(x)[:6] for x in real[9:13]]
    assert ours[-2:] == real[-2:]  # "---" and "WAIT      0.000      100.000"


def test_counts_agree_with_the_servers_info(run):
    cs = run.extra["client_stats"]
    stats = run.info["stats"]
    sent = sum(s.bytes_tx for s in cs.totals.values())
    received = sum(s.bytes_rx for s in cs.totals.values())
    assert sent == stats["total_net_input_bytes"]
    assert received == stats["total_net_output_bytes"]
    get = cs.totals["GET"]
    assert get.hits == stats["keyspace_hits"] and get.misses == stats["keyspace_misses"]
    assert get.hits > 0 and get.misses > 0
    assert sum(s.ops for s in cs.totals.values()) == 6000
    per_second = sum(t.ops for sec in cs.seconds.values() for t in sec.values())
    assert per_second == 6000


def test_table_numbers_are_consistent(run):
    rows = {ln.split()[0]: ln.split() for ln in memtier_text(run).splitlines()
            if ln.split() and ln.split()[0] in ("Sets", "Gets", "Totals")}
    sets, gets, tot = (float(rows[k][1]) for k in ("Sets", "Gets", "Totals"))
    assert tot == pytest.approx(sets + gets, abs=0.02)
    hits, misses = float(rows["Gets"][2]), float(rows["Gets"][3])
    assert hits + misses == pytest.approx(gets, abs=0.02)
    cs = run.extra["client_stats"]
    assert tot == pytest.approx(6000 / cs.duration, rel=1e-6)
    # KB/sec is (sent + received) / 1024 per second of the test
    stats = run.info["stats"]
    kb = (stats["total_net_input_bytes"] + stats["total_net_output_bytes"]) / 1024 / cs.duration
    assert float(rows["Totals"][-1]) == pytest.approx(kb, abs=0.01)


def test_json_document_has_memtiers_keys(run):
    doc = memtier_json(run)
    assert list(doc) == ["run information", "ALL STATS"]
    assert doc["run information"] == {"Threads": 2, "Connections per thread": 4,
                                      "Requests per client": 750, "Format version": 2}
    a = doc["ALL STATS"]
    assert list(a) == ["Runtime", "Sets", "Gets", "Waits", "Totals", "SET", "GET", "WAIT"]
    tot = a["Totals"]
    assert tot["Count"] == 6000
    # (keys as memtier truncates "p%.3f" to 6 characters; the encoded histogram, as a real
    # run's, inside)
    assert set(tot["Percentile Latencies"]) == {"p50.00", "p99.00", "p99.90",
                                                "Histogram log format"}
    encoded = tot["Percentile Latencies"]["Histogram log format"]["Compressed Histogram"]
    assert encoded.startswith("HISTFAAA")  # the compression cookie, as in a real run's
    series = tot["Time-Serie"]
    assert sum(v["Count"] for v in series.values()) == 6000
    assert all({"p50.00", "p99.00", "p99.90"} <= set(v) for v in series.values() if v["Count"])
    assert a["WAIT"] == [{"<=msec": 0.0, "percent": 100.0}]
    assert a["GET"][-1]["percent"] == 100.0
    assert a["Runtime"]["Total duration"] == a["Runtime"]["Finish time"] - a["Runtime"]["Start time"]
    json.dumps(doc)  # plain JSON types only


def test_other_commands_get_memtiers_command_mode():
    res = simulate(small(2000, [{"cmd": "INCR"}, {"cmd": "GET"}]), client_stats=True)
    lines = memtier_text(res).splitlines()
    header = next(ln for ln in lines if ln.startswith("Type"))
    assert "Hits/sec" not in header and "Ops/sec" in header
    titles = [ln.split()[0] for ln in lines[9:12]]
    assert titles == ["Incrs", "Gets", "Totals"] or titles == ["Gets", "Incrs", "Totals"]


def test_same_seed_same_report():
    a = memtier_text(simulate(small(2000), client_stats=True))
    b = memtier_text(simulate(small(2000), client_stats=True))
    assert a == b


def test_client_stats_do_not_change_the_run():
    plain = simulate(small(2000))
    counted = simulate(small(2000), client_stats=True)
    assert plain.info == counted.info and plain.sim_time == counted.sim_time


def test_cli_memtier_outputs(tmp_path):
    out = tmp_path / "mt.json"
    r = subprocess.run([*PY, "run", "memtier-defaults", "--set", "workloads.0.requests=4000",
                        "--memtier-json", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ALL STATS" in r.stdout and "Request Latency Distribution" in r.stdout
    assert r.stdout.startswith("#### variant: defaults\n4         Threads\n"
                               "50        Connections per thread\n20        Requests per client\n")
    for variant in ("defaults", "distinct-client-seed"):
        doc = json.loads((tmp_path / f"mt-{variant}.json").read_text())
        assert doc["ALL STATS"]["Totals"]["Count"] == 4000
    assert not out.exists()  # (variants write one file each)
    bad = subprocess.run([*PY, "run", "quickstart", "--memtier-json", str(tmp_path / "no/x.json")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "does not exist" in bad.stderr


def test_memtier_defaults_scenario_loads():
    sc, _ = load_scenario("memtier-defaults")
    wl = sc.workloads[0]
    assert (wl.clients, wl.client_threads, wl.requests, wl.value_size) == (200, 4, 2_000_000, 32)
    assert sc.report == "memtier"


# -- memtier's own way of sending: SET:GET in turn, and every connection seeded alike ------

def memtier_like(sequence: str, requests: int = 400_000) -> Scenario:
    return Scenario.model_validate({
        "name": "memtier-like", "seed": 1,
        "workloads": [{"name": "mt", "clients": 200, "client-threads": 4, "requests": requests,
                       "value-size": 32, "mix": "ratio", "sequence": sequence,
                       "commands": [{"cmd": "SET"}, {"cmd": "GET", "weight": 10}],
                       "keys": {"space": 10_000_000, "prefix": "memtier-"}}]})


def test_memtier_defaults_match_a_real_runs_keyspace():
    """A real memtier_benchmark (git 2f74d611) with its defaults and -n 2000 against
    redis-server 7.0.15 on this project's machine left db0:keys=182 and keyspace_hits 0,
    keyspace_misses 363600: every connection seeded alike sends the same 182 SETs (one in
    each 11 of its 2000 requests) and its GETs never find them."""
    info = simulate(memtier_like("per-connection")).info
    assert info["keyspace"]["db0"].startswith("keys=182,")
    assert (info["stats"]["keyspace_hits"], info["stats"]["keyspace_misses"]) == (0, 363_600)


def test_distinct_client_seed_matches_a_real_runs_keyspace():
    """The same real run with --distinct-client-seed (after FLUSHALL) left keys=36352 and
    675 hits; a hit needs a GET of a key some connection SET before (36,400 SETs over 10M
    names), so the count is small and random: 662-742 for seeds 1-3, within 20 % here."""
    info = simulate(memtier_like("shared")).info
    keys = int(info["keyspace"]["db0"].split(",")[0].split("=")[1])
    assert keys == pytest.approx(36_352, rel=0.01)
    assert info["stats"]["keyspace_hits"] == pytest.approx(675, rel=0.2)
    # (a shared stream takes the 1:10 turn over the workload's 400,000 requests, not each
    # connection's 2000: 36,364 SETs where memtier's connections send 182 each)
    gets = info["stats"]["keyspace_hits"] + info["stats"]["keyspace_misses"]
    assert gets == 400_000 - 36_364


def test_ratio_mix_sends_the_commands_in_turn():
    sc = Scenario.model_validate({
        "name": "ratio", "seed": 2,
        "workloads": [{"name": "r", "clients": 1, "requests": 23, "mix": "ratio",
                       "commands": [{"cmd": "SET", "weight": 2}, {"cmd": "GET", "weight": 3}],
                       "keys": {"space": 100}}]})
    res = simulate(sc, client_stats=True)
    cs = res.extra["client_stats"]
    # 23 = 4 x (2 SET + 3 GET) + 2 SET + 1 GET
    assert (cs.totals["SET"].ops, cs.totals["GET"].ops) == (10, 13)


def test_per_connection_shares_the_requests():
    sc = Scenario.model_validate({
        "name": "share", "seed": 2,
        "workloads": [{"name": "s", "clients": 3, "requests": 1000, "pipeline": 7,
                       "sequence": "per-connection", "commands": [{"cmd": "SET"}],
                       "keys": {"space": 1_000_000}}]})
    res = simulate(sc)
    assert res.info["stats"]["total_commands_processed"] == 1000
    # each connection sends the same keys: 334 distinct (the first connection's share)
    assert res.info["keyspace"]["db0"].startswith("keys=334,")


@pytest.mark.parametrize("bad, msg", [
    ({"mix": "ratio", "commands": [{"cmd": "SET", "weight": 1.5}]}, "whole weights"),
    ({"type": "open", "rate": 1000, "sequence": "per-connection"}, "closed workloads"),
    ({"sequence": "per-connection", "fill-on-miss": True}, "fill-on-miss"),
])
def test_bad_sequence_settings_are_refused(tmp_path, bad, msg):
    wl = {"name": "w", "clients": 2, "requests": 10, **bad}
    f = tmp_path / "s.yaml"
    f.write_text(json.dumps({"name": "s", "workloads": [wl]}))
    r = subprocess.run([*PY, "validate", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and msg in r.stderr, r.stderr


def test_per_connection_pickers_share_one_zipf_distribution():
    """200 connections x a 1M-key zipf CDF would be 1.6 GB: they all read the workload's."""
    from redissim.sim.engine import Simulation

    sc = Scenario.model_validate({
        "name": "zipf", "seed": 2,
        "workloads": [{"name": "z", "clients": 20, "requests": 400, "sequence": "per-connection",
                       "commands": [{"cmd": "GET"}],
                       "keys": {"distribution": "zipf", "alpha": 0.9, "space": 1_000_000}}]})
    sim = Simulation(sc)
    res = sim.run()
    drv = sim.drivers[0]
    assert drv._mixes is not None and len(drv._mixes) == 20
    assert all(m.keys.cdf is drv.mix.keys.cdf for m in drv._mixes.values())
    assert res.info["stats"]["total_commands_processed"] == 400


def test_a_script_is_one_connection_and_a_timed_run():
    """setex-expiry's redis-cli (one connection, timed commands): memtier's --test-time form,
    in arbitrary-command mode (SETEX, TTL, ... each its row)."""
    sc, _ = load_scenario("setex-expiry")
    text = memtier_text(simulate(sc, client_stats=True))
    assert text.startswith("1         Threads\n1         Connections per thread\n11        Seconds\n")
    assert "Setexs" in text and "Hits/sec" not in text


def test_cluster_mode_adds_moved_and_ask():
    """memtier's --cluster-mode (run_stats.cpp: print_moved_sec_column, print_ask_sec_column,
    result_print_to_json) puts MOVED/sec and ASK/sec after Misses/sec, 12 wide like the
    others, with "---" for Waits; the simulated cluster never redirects, so both are 0."""
    doc = small().model_dump(by_alias=True)
    doc["cluster"] = {"masters": 3}
    res = simulate(Scenario.model_validate(doc), client_stats=True)
    lines = memtier_text(res, histogram=False).splitlines()
    head = next(i for i, x in enumerate(lines) if x.startswith("Type "))
    table = lines[head - 1:head + 6]
    assert len({len(x) for x in table}) == 1  # the rule, the titles and every row align
    titles = lines[head].split()
    assert titles[titles.index("Misses/sec") + 1:titles.index("Misses/sec") + 3] == \
        ["MOVED/sec", "ASK/sec"]
    for row in lines[head + 2:head + 6]:
        cells = row.split()
        if cells[0] == "Waits":
            assert cells[4:6] == ["---", "---"]
        else:
            assert cells[4:6] == ["0.00", "0.00"]
    stats = memtier_json(res)["ALL STATS"]
    for name in ("Sets", "Gets", "Waits", "Totals"):
        assert (stats[name]["MOVED/sec"], stats[name]["ASK/sec"]) == (0.0, 0.0)
    plain = memtier_json(simulate(small(), client_stats=True))["ALL STATS"]
    assert "MOVED/sec" not in plain["Totals"]
