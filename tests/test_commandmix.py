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
