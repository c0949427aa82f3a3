"""The workload's key picker: a key space small enough keeps every key it formats and hands
out the same objects again; the keys must be exactly those formatted afresh."""

from __future__ import annotations

import numpy as np
import pytest

from redissim.scenario import KeysConfig
from redissim.sim.workload import CHUNK, KeyPicker


@pytest.mark.parametrize("cfg", [
    {"distribution": "uniform", "space": 50},
    {"distribution": "zipf", "space": 40, "alpha": 1.2},
    {"distribution": "powerlaw", "space": 5, "alpha": 0.5},  # reaches index == space
    {"distribution": "sequential", "space": 30, "offset": 1000},
    {"distribution": "hotspot", "space": 60, "prefix": "h:"},
])
def test_kept_keys_are_the_keys_formatted_afresh(cfg: dict) -> None:
    kc = KeysConfig.model_validate(cfg)
    kept = KeyPicker(kc, np.random.default_rng(3))
    fresh = KeyPicker(kc, np.random.default_rng(3))
    assert kept._table is not None
    fresh._table = None
    a = [kept.next_key() for _ in range(2 * CHUNK + 5)]
    b = [fresh.next_key() for _ in range(2 * CHUNK + 5)]
    assert a == b
    # the same key is the same object (formatted once)
    first: dict[bytes, bytes] = {}
    for k in a:
        assert first.setdefault(k, k) is k
    prefix = kc.prefix.encode()
    assert all(k.startswith(prefix) and k[len(prefix):].isdigit() for k in a)


def test_fixed_key_and_large_spaces_keep_nothing() -> None:
    fixed = KeyPicker(KeysConfig.model_validate({"fixed": "counter"}), np.random.default_rng(0))
    assert fixed._table is None and fixed.next_key() == b"counter"
    big = KeyPicker(KeysConfig.model_validate({"space": 10_000_000}), np.random.default_rng(0))
    assert big._table is None and big.next_key().startswith(b"key:")


def test_workloads_of_one_prefix_share_their_keys() -> None:
    """Two pickers of the same prefix and offset hand out the same key objects (a key one
    workload wrote is the object another looks up); another prefix has its own table."""
    tables: dict = {}
    a = KeyPicker(KeysConfig.model_validate({"space": 20}), np.random.default_rng(1), tables)
    b = KeyPicker(KeysConfig.model_validate({"space": 40}), np.random.default_rng(2), tables)
    c = KeyPicker(KeysConfig.model_validate({"space": 20, "prefix": "x:"}),
                  np.random.default_rng(1), tables)
    assert a._table is b._table and len(a._table) == 41 and c._table is not a._table
    ka = [a.next_key() for _ in range(200)]
    kb = [b.next_key() for _ in range(400)]
    same = {k: k for k in ka}
    assert any(k in same for k in kb)
    assert all(same[k] is k for k in kb if k in same)
