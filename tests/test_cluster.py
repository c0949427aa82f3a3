"""Redis Cluster (sim/cluster.py): the masters, the routing by key slot, and queueing theory.

The slot arithmetic itself is checked against a real redis-server and redis-cli in
tests/test_cluster_slots.py; here the simulation built on it.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from realredis import RedisServer, cluster_node, find_redis_server, own_all_slots
from test_cli import tiny

from redissim.report.summary import report_text, to_json
from redissim.scenario import Scenario, ScenarioError, load_scenario, validate, variant_scenario
from redissim.server import memory as mem
from redissim.server.cluster_slots import allocate_slots, key_hash_slot
from redissim.sim.engine import Simulation, info_keys, simulate
from redissim.theory.queueing import mm1
from redissim.view.model import ViewInput

SERVICE_US = 10.0


def _sets(masters: int | None, **wl) -> Scenario:
    doc = {
        "name": "cluster",
        "seed": 3,
        "workloads": [{"type": "closed", "clients": 20, "pipeline": 4, "requests": 20_000,
                       "commands": [{"cmd": "SET"}],
                       "keys": {"space": 5_000, "prefix": "user:"}, **wl}],
    }
    if masters is not None:
        doc["cluster"] = {"masters": masters}
    return Scenario.model_validate(doc)


def _owner(ranges: list[tuple[int, int]], key: bytes) -> int:
    slot = key_hash_slot(key)
    return next(i for i, (a, b) in enumerate(ranges) if a <= slot <= b)


def test_every_key_lives_on_the_master_of_its_slot():
    sim = Simulation(_sets(3))
    res = sim.run()
    ranges = allocate_slots(3)
    union: set[bytes] = set()
    for i, node in enumerate(sim.nodes):
        keys = list(node.keyspace.dbs[0].data)
        assert keys, f"master {i + 1} got no keys"
        assert all(_owner(ranges, k) == i for k in keys)
        union.update(keys)
    # the clients draw the same keys as against one server: the masters hold them all
    alone = Simulation(_sets(None))
    alone.run()
    assert union == set(alone.keyspace.dbs[0].data)
    assert sum(m["requests"] for m in res.extra["cluster"]) == 20_000
    assert sum(m["total_commands_processed"] for m in res.extra["cluster"]) == 20_000


def test_one_master_cluster_is_the_single_server_but_for_cluster_mode_costs():
    """``cluster: {masters: 1}`` is a standalone server in cluster mode: with cluster mode's
    CPU cost set to 0 the clients see exactly the same run; its memory is the measured
    cluster-state startup plus 16 B per key more (benchmarks/calibrate_cluster.py)."""
    plain = json.loads(to_json([simulate(_sets(None))]))
    free = _sets(1)
    free.costs = {"cluster.per-command-us": 0.0}
    one = json.loads(to_json([simulate(free)]))
    block = one.pop("cluster")
    assert block[0]["slots"] == [0, 16383] and block[0]["requests"] == 20_000
    assert one["workloads"] == plain["workloads"] and one["commands"] == plain["commands"]
    keys = info_keys({"keyspace": {k: v for k, v in plain["info"].items()
                                   if k.startswith("db")}})
    assert keys > 4_000
    assert one["info"]["used_memory"] - plain["info"]["used_memory"] == 724_032 + 16 * keys
    assert one["info"]["used_memory_startup"] - plain["info"]["used_memory_startup"] == 724_032
    # and with the cost: every command 0.33 us longer, the same commands
    costly = json.loads(to_json([simulate(_sets(1))]))
    assert costly["info"]["total_commands_processed"] == 20_000
    assert costly["sim_time_s"] > one["sim_time_s"]


def test_cluster_mode_memory_usage_counts_the_entry_metadata():
    """MEMORY USAGE on a cluster master: 16 B more than standalone (the real servers said
    64 and 80 for DEBUG POPULATE's key:5); the script's MEMORY USAGE goes to the key's
    master like its SET."""
    def usage(cluster: dict | None) -> list:
        doc = {"name": "mu", "workloads": [{"type": "script", "steps": [
            {"at": 0, "cmd": f"SET {k} xxxxxxxxxx"} for k in ("a", "b", "c")] + [
            {"at": 0, "cmd": f"MEMORY USAGE {k}"} for k in ("a", "b", "c")] + [
            {"at": 0, "cmd": f"OBJECT ENCODING {k}"} for k in ("a", "b", "c")]}]}
        if cluster is not None:
            doc["cluster"] = cluster
        res = simulate(Scenario.model_validate(doc))
        return [r["reply"] for r in res.workloads[0].records][3:]
    plain = usage(None)
    spread = usage({"masters": 3})
    assert plain[:3] == [64, 64, 64] and spread[:3] == [80, 80, 80]
    # (found on the master that has the key: another would answer nil)
    assert spread[3:] == plain[3:] == ["embstr"] * 3
    # a, b and c are on three different masters
    assert len({_owner(allocate_slots(3), k) for k in (b"a", b"b", b"c")}) == 3


def test_hash_tag_sends_every_request_to_one_master():
    """A prefix with a hash tag puts every key in one slot: one master does all the work,
    however many there are (the hot-shard problem)."""
    res = simulate(_sets(3, keys={"space": 5_000, "prefix": "{user}:"}))
    reqs = [m["requests"] for m in res.extra["cluster"]]
    owner = _owner(allocate_slots(3), b"user")
    assert reqs[owner] == 20_000 and sum(reqs) == 20_000


def test_pipelines_are_split_by_master_and_replies_all_arrive():
    res = simulate(_sets(4, pipeline=16, commands=[{"cmd": "GET"}]))
    cmds = res.workloads[0].commands[0]
    assert cmds.calls == 20_000
    reqs = [m["requests"] for m in res.extra["cluster"]]
    # uniform keys over 5,000 names: each master about a quarter
    assert all(abs(r - 5_000) < 500 for r in reqs), reqs
    # a pipeline of 16 reaches each master as a part of about 4 (a read may hold the parts
    # of several clients, hence some slack)
    for m in res.extra["cluster"]:
        assert 3.0 < m["total_commands_processed"] / m["total_reads_processed"] < 8.0


def test_preload_is_spread_over_the_masters():
    doc = {"name": "p", "cluster": {"masters": 3},
           "preload": {"keys": 3_000, "prefix": "key", "value-size": 8, "ttl-min": 100,
                       "ttl-max": 200},
           "workloads": [{"requests": 10, "commands": [{"cmd": "GET"}],
                          "keys": {"space": 3_000, "prefix": "key:"}}]}
    sim = Simulation(Scenario.model_validate(doc))
    ranges = allocate_slots(3)
    total = 0
    for i, node in enumerate(sim.nodes):
        db = node.keyspace.dbs[0]
        assert all(_owner(ranges, k) == i for k in db.data)
        assert len(db.exp) == len(db.data)
        total += len(db.data)
    assert total == 3_000
    # the sizing line says whose memory it is
    assert "\nmaster 1 of 3: memory: used_memory " in report_text(sim.run())


def test_cluster_of_mm1_queues():
    """Poisson requests over uniform keys, split by slot: each master is an M/M/1 queue at
    its share of the rate (a random split of a Poisson stream is Poisson). 280k requests
    per second would overload one master (mu = 100k); four serve them, each at rho ~ 0.7,
    with the mean response time M/M/1 predicts for its own share."""
    lam, mu = 280_000.0, 1e6 / SERVICE_US
    n = 400_000
    sc = Scenario.model_validate({
        "name": "mm1-cluster", "seed": 5, "cluster": {"masters": 4},
        "model": {"loop": "fcfs"},
        "network": {"rtt": 0, "bandwidth": "1000000gbit"},
        "costs": {"commands.default-us": SERVICE_US, "commands.per-command-us": {},
                  "commands.per-command-miss-us": {}, "commands.distribution": "exponential",
                  "cluster.per-command-us": 0.0},
        "workloads": [{"type": "open", "rate": lam, "requests": n, "clients": 1,
                       "commands": [{"cmd": "GET"}],
                       "keys": {"space": 1_000_000}}],
    })
    res = simulate(sc)
    h = res.workloads[0].commands[0].latency
    assert h.count == n
    span = n / lam
    expected = 0.0
    for m in res.extra["cluster"]:
        share = m["requests"] / n
        expected += share * mm1(share * lam, mu)["W"]
        assert m["busy_fraction"] == pytest.approx(share * lam * span / mu / res.sim_time,
                                                   rel=0.05)
    assert h.mean == pytest.approx(expected, rel=0.03)


def test_report_shows_each_master():
    res = simulate(_sets(3))
    text = report_text(res)
    assert "# Cluster: 3 masters" in text
    assert text.count("\nmaster ") == 3
    assert "slots 0-5460" in text and "slots 10923-16383" in text
    assert "master 1 of 3" in text
    # redis-benchmark --cluster's block (7.0's showLatencyReport): one configuration per
    # node, one thread per master
    block = text.split(" ======\n", 1)[1].split("\n\n")[0].splitlines()
    assert block[4:] == [
        "  cluster mode: yes (3 masters)",
        *[line for m in range(3) for line in (
            f"  node [{m}] configuration:", "    save: 3600 1 300 100 60 10000",
            "    appendonly: no")],
        "  multi-thread: yes", "  threads: 3"]  # (redis-benchmark prints no pipeline line)


@pytest.mark.parametrize("wl, msg", [
    ({"target": "postgres", "requests": 10}, "against Redis"),
])
def test_what_a_cluster_does_not_model_is_refused(wl, msg):
    with pytest.raises(ScenarioError) as e:
        validate({"name": "x", "cluster": {"masters": 2}, "workloads": [wl]}, "x.yaml")
    text = str(e.value)
    assert text.startswith("x.yaml: ") and msg in text and "\n" not in text


MSET2 = [{"cmd": "MSET", "args": ["MSET", "{key}", "1", "{key}", "2"]}]


@pytest.mark.parametrize("prefix, routing, crossslot", [
    ("user:", "slot", True),      # two random keys: nearly never one slot
    ("{user}:", "slot", False),   # one hash tag: one slot, one master
    ("user:", "client", False),   # redis-benchmark --cluster tags every key alike
])
def test_multi_key_commands_are_refused_crossslot_unless_in_one_slot(prefix, routing,
                                                                     crossslot):
    doc = _sets(3, commands=MSET2, keys={"space": 5_000, "prefix": prefix}).model_dump(
        by_alias=True)
    doc["cluster"]["routing"] = routing
    sim = Simulation(Scenario.model_validate(doc))
    res = sim.run()
    masters = res.extra["cluster"]
    assert sum(m["requests"] for m in masters) == 20_000
    rejected = sum(node.loop.cmdstats["mset"].rejected_calls for node in sim.nodes
                   if "mset" in node.loop.cmdstats)
    crossed = sum(node.loop.errorstats.get("CROSSSLOT", 0) for node in sim.nodes)
    ran = sum(m["total_commands_processed"] for m in masters)
    assert rejected == crossed and ran + rejected == 20_000
    if crossslot:
        # the chance that two keys share a slot is 1/16384 (plus the same key twice: 1/5000)
        assert 19_980 <= crossed < 20_000
        assert all(node.keyspace.dbs[0].data == {} or len(node.keyspace.dbs[0].data) < 20
                   for node in sim.nodes)
    else:
        assert crossed == 0 and ran == 20_000
        assert sum(len(n.keyspace.dbs[0].data) for n in sim.nodes) > 4_000


@pytest.mark.parametrize("masters", [None, 1, 3, 5])
def test_a_scan_walk_visits_every_master_and_returns_each_key_once(masters):
    """redis-py's scan_iter on a cluster: SCAN 0 to each master, then round-robin over the
    masters still walking. Nothing writes during the walk, so (SCAN's guarantee) every key
    comes back exactly once: as many as against one server, whatever the masters."""
    doc = {"name": "scan", "seed": 2, "preload": {"keys": 20_000, "prefix": "key"},
           "workloads": [{"type": "scan", "count": 100, "match": "key:1*"}]}
    if masters is not None:
        doc["cluster"] = {"masters": masters}
    sim = Simulation(Scenario.model_validate(doc))
    res = sim.run()
    extra = res.workloads[0].extra
    assert extra["walks"] == 1
    # MATCH key:1* over key:0..key:19999: 1, 10-19, 100-199, 1000-1999, 10000-19999
    assert extra["keys_seen"] == 1 + 10 + 100 + 1_000 + 10_000
    calls = [node.loop.cmdstats["scan"].calls for node in sim.nodes]
    # each master walked whole: about (its keys / COUNT) calls, none skipped
    for node, n in zip(sim.nodes, calls, strict=True):
        assert n >= len(node.keyspace.dbs[0].data) // 100
    assert sum(calls) == res.workloads[0].commands[0].calls


def test_a_splitting_client_gets_what_one_server_answers():
    """multi-key: split (Lettuce, redis-py's mget_nonatomic): each MGET/MSET/DEL/EXISTS
    whose keys span slots goes as one command per slot, and the client gets the replies put
    together: the same replies, in the same order, as from one server; no CROSSSLOT."""
    lines = ["MSET a 1 b 2 c 3 d 4", "MGET a b c d nokey", "MGET d c", "EXISTS a b nokey a",
             "DEL a c nokey", "MGET a b c d", "MSET {t}x 1 {t}y 2", "MGET {t}x {t}y b",
             "UNLINK b d", "DBSIZE"]
    def run(cluster: dict | None) -> tuple[list, dict]:
        doc = {"name": "split", "workloads": [{"type": "script", "steps": [
            {"at": i * 0.001, "cmd": line} for i, line in enumerate(lines)]}]}
        if cluster is not None:
            doc["cluster"] = cluster
        res = simulate(Scenario.model_validate(doc))
        return [r["reply"] for r in res.workloads[0].records], res.extra.get("cluster")
    alone, _ = run(None)
    split, masters = run({"masters": 3, "multi-key": "split"})
    # (DBSIZE, keyless, asks one master: the keys are spread)
    assert split[:-1] == alone[:-1] == [
        "OK", ["1", "2", "3", "4", None], ["4", "3"], 3, 2, [None, "2", None, "4"], "OK",
        ["1", "2", "2"], 2]
    assert sum(m["errorstats"].get("CROSSSLOT", 0) for m in masters) == 0
    # sent whole, the same lines are refused
    sent, masters = run({"masters": 3})
    assert sum(m["errorstats"].get("CROSSSLOT", 0) for m in masters) == 8  # all but one


_KEYS = st.sampled_from(["a", "b", "c", "d", "{u}a", "{u}b", "x{u}", "k:1", "k:2", "{k}:3"])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["MGET", "MSET", "DEL", "EXISTS", "UNLINK"]),
                          st.lists(_KEYS, min_size=1, max_size=6)), min_size=1, max_size=8))
def test_split_replies_equal_one_servers_for_any_keys(commands):
    """Whatever the keys (repeated, tagged, in any number of slots), a splitting client's
    replies are one server's, in order."""
    lines = []
    for name, keys in commands:
        if name == "MSET":
            lines.append(" ".join([name] + [f"{k} v{i}" for i, k in enumerate(keys)]))
        else:
            lines.append(" ".join([name, *keys]))
    lines.append("MGET " + " ".join(["a", "b", "c", "d", "{u}a", "{u}b", "x{u}", "k:1"]))

    def replies(cluster: dict | None) -> list:
        doc = {"name": "p", "workloads": [{"type": "script", "steps": [
            {"at": i * 0.001, "cmd": line} for i, line in enumerate(lines)]}]}
        if cluster is not None:
            doc["cluster"] = cluster
        return [r["reply"] for r in simulate(Scenario.model_validate(doc)).workloads[0].records]

    assert replies({"masters": 3, "multi-key": "split"}) == replies(None)


def test_splitting_clients_under_load_count_each_command_once():
    doc = _sets(3, commands=[{"cmd": "MGET", "args": ["MGET", "{key}", "{key}", "{key}"]}],
                clients=10, pipeline=4, requests=3_000).model_dump(by_alias=True)
    doc["cluster"]["multi-key"] = "split"
    sim = Simulation(Scenario.model_validate(doc))
    res = sim.run()
    assert res.workloads[0].commands[0].calls == 3_000  # one per MGET, not per part
    parts = sum(node.loop.cmdstats["mget"].calls for node in sim.nodes)
    assert 3_000 * 2.5 < parts <= 9_000  # 3 keys: mostly 3 slots, rarely 2
    assert sum(m["rejected_calls"] for m in res.extra["cluster"]) == 0
    assert sim.router is not None and sim.router.open_splits == 0
    with pytest.raises(ScenarioError, match="multi-key split"):
        validate({"name": "x", "cluster": {"masters": 2, "routing": "client",
                                           "multi-key": "split"},
                  "workloads": [{"requests": 10}]}, "x.yaml")


def test_a_client_without_a_slot_map_follows_moved():
    """routing: redirect (redis-cli -c): each request goes to the client's current master;
    one that does not own the key's slot answers -MOVED slot 127.0.0.1:3000N (a rejected
    call, an errorstat), and the client sends it again there and stays. With keys spread
    uniformly over 3 masters two requests in three are redirected; every one is run once,
    on its key's master, and costs a second round trip."""
    slot_doc = _sets(3, clients=10, pipeline=1, requests=6_000).model_dump(by_alias=True)
    redirect_doc = json.loads(json.dumps(slot_doc))
    redirect_doc["cluster"]["routing"] = "redirect"
    sims, p50 = {}, {}
    for name, doc in (("slot", slot_doc), ("redirect", redirect_doc)):
        sims[name] = Simulation(Scenario.model_validate(doc))
        p50[name] = sims[name].run().workloads[0].commands[0].latency.summary_ms()["p50"]
    sim = sims["redirect"]
    moved = sum(n.loop.errorstats.get("MOVED", 0) for n in sim.nodes)
    assert sim.router is not None and moved == sim.router.redirects
    assert 6_000 * 0.6 < moved < 6_000 * 0.73
    assert sum(n.loop.total_commands_processed for n in sim.nodes) == 6_000
    assert sum(n.loop.cmdstats["set"].rejected_calls for n in sim.nodes) == moved
    ranges = allocate_slots(3)
    for i, node in enumerate(sim.nodes):
        assert all(_owner(ranges, k) == i for k in node.keyspace.dbs[0].data)
    # the same keys as the cluster-aware clients wrote
    assert [set(n.keyspace.dbs[0].data) for n in sim.nodes] == \
        [set(n.keyspace.dbs[0].data) for n in sims["slot"].nodes]
    # most requests pay two round trips: the median latency is well above the direct one
    assert p50["redirect"] > 1.3 * p50["slot"]


def test_moved_names_the_owner_of_the_slot():
    doc = {"name": "x", "cluster": {"masters": 3, "routing": "redirect"},
           "workloads": [{"type": "script", "steps": [
               {"at": 0, "cmd": "SET a 1"}, {"at": 0.001, "cmd": "GET a"},
               {"at": 0.002, "cmd": "MGET a b"}]}]}
    sim = Simulation(Scenario.model_validate(doc))
    res = sim.run()
    # the script is client 0: its first master is master 1; "a" is in slot 15495, master 3's
    assert [r["reply"] for r in res.workloads[0].records] == [
        "OK", "1", {"error": "CROSSSLOT Keys in request don't hash to the same slot"}]
    assert sim.nodes[0].loop.errorstats == {"MOVED": 1}
    assert sim.nodes[2].loop.errorstats == {"CROSSSLOT": 1}  # (it stayed on master 3)
    assert sim.router is not None and sim.router.redirects == 1


def test_select_is_refused_in_cluster_mode():
    doc = {"name": "x", "cluster": {"masters": 2}, "workloads": [{"type": "script", "steps": [
        {"at": 0, "cmd": "SELECT 1"}, {"at": 0.001, "cmd": "SELECT 0"},
        {"at": 0.002, "cmd": "SET k v"}]}]}
    res = simulate(Scenario.model_validate(doc))
    assert [r["reply"] for r in res.workloads[0].records] == [
        {"error": "ERR SELECT is not allowed in cluster mode"}, "OK", "OK"]
    assert res.info["server"]["redis_mode"] == "cluster"


def test_the_trace_follows_the_traced_master():
    """The view draws one server: the trace holds the chosen master's events only."""
    doc = _sets(3, keys={"space": 5_000, "prefix": "{user}:"}).model_dump(by_alias=True)
    owner = _owner(allocate_slots(3), b"user")
    for traced, busy in ((owner + 1, True), ((owner + 1) % 3 + 1, False), ("busiest", True)):
        doc["cluster"]["traced-master"] = traced
        res = simulate(Scenario.model_validate(doc), trace=True)
        assert res.trace is not None
        assert (len(res.trace.events) > 1_000) is busy
        # (busiest: every key is on the owner of "user", so that one)
        assert res.extra["traced_master"] == (owner + 1 if busy else traced)
        # the view's key counts are that master's too: at the end of a run shorter than a
        # sampling interval, and sampled along a run
        view = ViewInput.from_result(res)
        final = res.extra["cluster"][res.extra["traced_master"] - 1]["keys"]
        assert view.dbsize is not None and view.dbsize[-1][1] == final
        assert (final > 1_000) is busy
        sampled = Scenario.model_validate({**doc, "metrics": {"interval": 0.01}})
        view = ViewInput.from_result(simulate(sampled, trace=True))
        assert view.dbsize is not None and len(view.dbsize) >= 5
        assert (view.dbsize[-1][1] > 1_000) is busy and view.dbsize[-1][1] <= final
    with pytest.raises(ScenarioError, match="traced-master must be one of the 3 masters"):
        validate({**doc, "cluster": {"masters": 3, "traced-master": 4}}, "x.yaml")


def test_atomic_counter_in_a_cluster():
    """The lesson's atomicity holds in a cluster: INCR on one key is run whole by the master
    that owns it; GET then SET still loses updates; the script's GETs reach the owners."""
    sc, data = load_scenario("atomic-counter", ["cluster.masters=3"])
    sc = variant_scenario(data, sc.variants[0], "atomic-counter")
    sim = Simulation(sc)
    res = sim.run()
    by_name = {w.name: w for w in res.workloads}
    assert by_name["GET+SET"].extra["lost"] > 9_000
    check = {r["command"]: r["reply"] for r in by_name["check"].records}
    assert check["GET page:views:incr"] == "10000"
    assert int(check["GET page:views:getset"]) == 10_000 - by_name["GET+SET"].extra["lost"]
    ranges = allocate_slots(3)
    for key in (b"page:views:incr", b"page:views:getset", b"lock:job123"):
        owner = _owner(ranges, key)
        assert [key in n.keyspace.dbs[0].data for n in sim.nodes] == \
            [i == owner for i in range(3)]
    assert by_name["lock"].extra["replies"] == {"1": 1, "0": 49}


def test_traced_master_takes_a_number_or_busiest():
    wl = [{"requests": 10}]
    ok = validate({"name": "x", "cluster": {"masters": 2, "traced-master": "2"},
                   "workloads": wl}, "x.yaml")
    assert ok.cluster is not None and ok.cluster.traced_master == 2
    with pytest.raises(ScenarioError) as e:
        validate({"name": "x", "cluster": {"masters": 2, "traced-master": "top"},
                  "workloads": wl}, "x.yaml")
    assert str(e.value) == ("x.yaml: cluster.traced-master: a master's number (1, 2, ...) "
                            "or busiest (got 'top')")


def test_cluster_mode_memory_against_real_servers(tmp_path):
    """A real redis-server in cluster mode (owning every slot) against a standalone one:
    the startup memory the model adds (the cluster state), and MEMORY USAGE of a DEBUG
    POPULATE key in both, as the model's cluster master and standalone server answer."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    real = {}
    for cluster in (False, True):
        workdir = tmp_path / str(cluster)
        if cluster:
            server = cluster_node(binary, workdir).start()
        else:
            workdir.mkdir()
            server = RedisServer(binary, workdir).start()
        try:
            if cluster:
                own_all_slots(server)
            c = server.client()
            startup = int(c.command("INFO", "memory").decode().split(
                "used_memory_startup:")[1].split()[0])
            c.command("DEBUG", "POPULATE", "1000", "key", "10")
            real[cluster] = (startup, c.command("MEMORY", "USAGE", "key:5"),
                             _db0(c.command("MEMORY", "STATS")))
            c.close()
        finally:
            server.stop()
    # (a few hundred bytes of startup memory vary between runs of one build)
    assert real[True][0] - real[False][0] == pytest.approx(mem.CLUSTER_STARTUP_EXTRA_DEBIAN_7_0_15,
                                                           abs=1024)

    def model(cluster: bool) -> tuple[int, dict[str, int]]:
        doc = {"name": "m", "model": {"jemalloc-lg-quantum": 4},
               "preload": {"keys": 1000, "prefix": "key", "value-size": 10},
               "workloads": [{"type": "script", "steps": [{"at": 0, "cmd": "MEMORY USAGE key:5"},
                                                          {"at": 0, "cmd": "MEMORY STATS"}]}]}
        if cluster:
            doc["cluster"] = {"masters": 1}
        records = simulate(Scenario.model_validate(doc)).workloads[0].records
        return records[0]["reply"], _db0(records[1]["reply"])
    (usage, db0), (usage_c, db0_c) = model(False), model(True)
    assert (usage, usage_c) == (real[False][1], real[True][1]) == (64, 80)
    # MEMORY STATS's tables: cluster mode adds each key's 16 B of slot-to-keys metadata
    assert (db0, db0_c) == (real[False][2], real[True][2])
    assert db0_c["overhead.hashtable.slot-to-keys"] == 16_000


def _db0(stats: list) -> dict[str, int]:
    """MEMORY STATS's db.0 map (a real server's bytes, or a script's recorded text)."""
    def text(x: object) -> str:
        return x.decode() if isinstance(x, bytes) else str(x)

    flat = stats[stats.index(next(x for x in stats if text(x) == "db.0")) + 1]
    return {text(k): int(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


def test_client_routing_is_redis_benchmark_cluster():
    """routing client: client i talks to master i % masters only, and every key it sends
    carries the tag of that master's first slot, as a real redis-benchmark --cluster run
    leaves them (tests/test_cluster_slots.py: key:{06S}:N, key:{8M}}:N, key:{63n}:N on a
    3-master cluster). A client's pipeline then reaches its master whole."""
    sc = Scenario.model_validate({
        "name": "rb", "cluster": {"masters": 3, "routing": "client"},
        "workloads": [{"clients": 6, "pipeline": 8, "requests": 6_000,
                       "commands": [{"cmd": "SET"}], "keys": {"space": 1_000, "prefix": "key:"}}]})
    sim = Simulation(sc)
    res = sim.run()
    ranges = allocate_slots(3)
    for i, node in enumerate(sim.nodes):
        keys = list(node.keyspace.dbs[0].data)
        tag = {0: b"{06S}", 1: b"{8M}}", 2: b"{63n}"}[i]
        assert keys and all(k.startswith(b"key:" + tag + b":") for k in keys)
        assert {key_hash_slot(k) for k in keys} == {ranges[i][0]}
        assert node.loop.connected == 0 and len(node.loop.conns) == 2  # clients i, i + 3
    for m in res.extra["cluster"]:
        assert m["requests"] == 2_000
        assert m["total_commands_processed"] / m["total_reads_processed"] > 7.5
    # cache-aside without a database: the SET after a missed GET keeps the key's one tag
    sc2 = Scenario.model_validate({
        "name": "fill", "cluster": {"masters": 2, "routing": "client"},
        "workloads": [{"clients": 2, "requests": 200, "fill-on-miss": True,
                       "commands": [{"cmd": "GET"}], "keys": {"space": 50, "prefix": "k:"}}]})
    sim2 = Simulation(sc2)
    sim2.run()
    for node in sim2.nodes:
        assert node.keyspace.dbs[0].data
        assert all(k.count(b"{") == 1 for k in node.keyspace.dbs[0].data)
    with pytest.raises(ScenarioError, match="routing client"):
        validate({"name": "x", "cluster": {"masters": 2, "routing": "client"},
                  "workloads": [{"type": "read-modify-write", "requests": 10}]}, "x.yaml")


@pytest.mark.parametrize("name", ["quickstart", "pipelining", "setex-expiry", "expiry-reclaim",
                                  "mass-expiry", "eviction", "memory-sizing", "atomic-counter",
                                  "memtier-defaults", "lru-test", "keys-vs-scan"])
def test_builtin_scenarios_run_on_three_masters(tmp_path, name):
    """Every built-in scenario a cluster can model runs on three masters (shrunk as the CLI
    tests shrink them): each command sent is answered, and the masters' counts add up."""
    path = tiny(tmp_path, name)
    sc, data = load_scenario(str(path), ["cluster.masters=3"])
    runs = [variant_scenario(data, v, name) for v in sc.variants] or [sc]
    for run in runs:
        res = simulate(run)
        masters = res.extra["cluster"]
        sent = sum(m["requests"] for m in masters)
        assert sent == sum(m["total_commands_processed"] for m in masters) > 0
        answered = sum(c.calls for w in res.workloads for c in w.commands)
        assert answered == sent
