"""The workload's command builders: the request records the closed- and open-loop clients
take straight from the mix must be the lines (arguments, request bytes, label) the plain
builders make, in the same order and with the same random draws."""

from __future__ import annotations

import numpy as np
import pytest

from redissim.scenario import Workload
from redissim.server.eventloop import Batch, Conn
from redissim.server.keyspace import shared_word
from redissim.server.resp import request_size
from redissim.sim.workload import CommandMix


@pytest.mark.parametrize("wl", [
    {"commands": [{"cmd": "SET"}], "value-size": 7, "ttl": "2s"},
    {"commands": [{"cmd": "GET"}], "keys": {"space": 10_000_000}},  # no key table
    {"commands": [{"cmd": "GET", "weight": 3}, {"cmd": "SET"}, {"cmd": "PING"}]},
    {"commands": [{"cmd": "GET"}, {"cmd": "INCR"}], "mix": "batches"},
    {"commands": [{"cmd": "MSET", "args": ["MSET", "{key}", "{value}", "{key}", "x"]}]},
    {"commands": [{"cmd": "DBSIZE"}]},
    {"commands": [{"cmd": "HSET"}, {"cmd": "HGET"}, {"cmd": "HINCRBY"}],
     "fields": {"space": 50, "distribution": "zipf"}, "value-size": 5},
    {"commands": [{"cmd": "H", "args": ["HMSET", "{key}", "{field}", "{value}", "{field}", "v"]}],
     "fields": {"space": 7, "prefix": "f"}},
])
def test_records_are_the_lines_the_builders_make(wl: dict) -> None:
    w = Workload.model_validate({"clients": 1, "requests": 100, **wl})
    lines = CommandMix(w, np.random.default_rng(5))
    records = CommandMix(w, np.random.default_rng(5))
    batch = Batch(Conn(0, None, "c"), 0.0, 0)
    for n in (1, 16, 3, 40, 1, 7):
        want = lines.next_batch(n)
        got, nbytes = records.next_records(n, batch)
        assert [(a, s, lab) for a, s, lab, _b in got] == want
        assert all(b is batch for *_x, b in got)
        assert nbytes == sum(s for _a, s, _l in want)
        assert all(s == request_size(a) for a, s, _l in want)
    # one at a time (the open loop): the same lines again
    assert [lines.next()] == [records.next_record(batch)[:3]]


def test_command_names_are_the_keyspaces_objects() -> None:
    """Built lines carry the keyspace's own name objects (its fast-path lookups then match
    them by identity)."""
    mix = CommandMix(Workload.model_validate({"clients": 1, "requests": 1, "commands": [{"cmd": "SET"}],
                                              "ttl": "1s"}), np.random.default_rng(0))
    args = mix.next()[0]
    assert args[0] is shared_word(b"SET") and args[3] is shared_word(b"PX")


def test_fields_are_drawn_from_a_stream_of_their_own() -> None:
    """{field} slots take ``fields:`` names from their own picker: the keys are the same
    draws as without fields, the fields follow their distribution, and the request bytes
    count them."""
    wl = {"clients": 1, "requests": 10, "commands": [{"cmd": "HSET"}], "keys": {"space": 100}}
    plain = Workload.model_validate(wl)
    drawn = Workload.model_validate({**wl, "fields": {"space": 40}})
    a = CommandMix(plain, np.random.default_rng(9)).next_batch(2000)
    b = CommandMix(drawn, np.random.default_rng(9)).next_batch(2000)
    assert [x[0][1] for x in a] == [x[0][1] for x in b]  # the same keys
    assert {x[0][2] for x in a} == {b"field"}
    fields = [x[0][2] for x in b]
    assert set(fields) == {b"field:%d" % i for i in range(40)}  # uniform over 40: all met
    assert all(s == request_size(args) for args, s, _l in b)
    assert {x[2] for x in b} == {"HSET"}


def test_a_field_slot_needs_fields() -> None:
    with pytest.raises(ValueError, match="give the workload fields"):
        Workload.model_validate({"clients": 1, "requests": 1, "commands": [
            {"cmd": "H", "args": ["HGET", "{key}", "{field}"]}]})


def test_hset_with_fields_fills_hashes_in_a_run() -> None:
    """A closed workload of HSETs over 5 keys and 100 fields: every hash ends with all 100
    (HLEN), a listpack under the default limits, a hash table under 64."""
    from redissim.scenario import Scenario
    from redissim.sim.engine import simulate

    def run(limit: int) -> list[object]:
        sc = Scenario.model_validate({
            "name": "fields", "server": {"hash-max-listpack-entries": limit}, "workloads": [
                {"clients": 10, "requests": 5000, "commands": [{"cmd": "HSET"}],
                 "keys": {"space": 5}, "fields": {"space": 100}},
                {"type": "script", "start": "after-previous", "steps": [
                    {"at": 0, "cmd": "HLEN key:0"}, {"at": 0, "cmd": "HLEN key:4"},
                    {"at": 0, "cmd": "HGET key:2 field:99"},
                    {"at": 0, "cmd": "OBJECT ENCODING key:3"}]}]})
        return [r["reply"] for r in simulate(sc).workloads[1].records]

    assert run(512) == [100, 100, "xxx", "listpack"]
    assert run(64) == [100, 100, "xxx", "hashtable"]
