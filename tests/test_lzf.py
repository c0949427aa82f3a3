"""LZF as rdb.c uses it (server/lzf.py).

The format and the round trip hold for every input (hypothesis); the compressor's exact
choices are checked against the system's liblzf (the one Debian's redis-server links),
output byte for byte. Where they show in Redis, the size of a real dump.rdb, is
test_rdb_file.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.server.keyspace import Keyspace
from redissim.server.lzf import MAX_OFF, compress, decompress, rdb_compress_work
from redissim.server.persistence import rdb_estimate, rdb_file_size
from redissim.sim.clock import EPOCH_MS

# Inputs with repeats at every distance, which random bytes alone would not give.
_pieces = st.lists(st.one_of(st.binary(max_size=40),
                             st.tuples(st.binary(min_size=1, max_size=6),
                                       st.integers(2, 120)).map(lambda t: t[0] * t[1])),
                   max_size=12).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=600), _pieces))
def test_round_trip_and_output_limit(data: bytes) -> None:
    out = compress(data, len(data) + 64)
    if not data:
        assert out is None
        return
    assert out is not None and decompress(out) == data
    # With a tighter buffer it either fits in it or gives up, never overruns it.
    for limit in (len(out), len(out) - 1, max(1, len(data) - 4)):
        small = compress(data, limit)
        assert small is None or (len(small) <= limit and decompress(small) == data)


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=400), _pieces))
def test_work_counts_cover_the_input_when_it_compresses(data: bytes) -> None:
    size, literal, matched = rdb_compress_work(data)
    if len(data) < 21:
        assert (size, literal, matched) == (0, 0, 0)
        return
    assert literal + matched <= len(data)
    if size:
        assert literal + matched == len(data)
        assert size <= len(data) - 4


def test_format_of_a_run_of_one_byte() -> None:
    # Two literals (a match may not start at the input's first byte), then back-references
    # one byte back: 264 bytes at most each (``111ooooo LLLLLLLL oooooooo``, L = 255).
    out = compress(b"x" * 600, 1000)
    assert out is not None
    assert out[:3] == b"\x01xx"
    assert out[3:6] == bytes([0xE0, 255, 0])
    assert decompress(out) == b"x" * 600


def test_matches_reach_back_at_most_8_kib() -> None:
    rng = random.Random(3)
    block = rng.randbytes(64)
    far = block + rng.randbytes(MAX_OFF + 10) + block
    near = block + rng.randbytes(MAX_OFF - 200) + block
    out_near, out_far = compress(near, 2 * len(near)), compress(far, 2 * len(far))
    assert out_near is not None and out_far is not None
    assert decompress(out_near) == near and decompress(out_far) == far
    # Random bytes cost 1 + 1/32 bytes each as literals; the second copy of the block is
    # a back-reference (3 bytes) when near, literals again when 8 KiB or more back.
    overhead_near = len(out_near) - len(near)
    overhead_far = len(out_far) - len(far)
    assert overhead_far > len(far) // 33
    assert overhead_near < overhead_far - 50


def test_rdb_size_of_incompressible_and_compressible_values() -> None:
    ks = Keyspace()
    rng = random.Random(1)
    for i in range(100):
        ks.execute([b"SET", b"r%d" % i, rng.randbytes(100)], EPOCH_MS)
    raw = rdb_file_size(ks)
    ks2 = Keyspace()
    for i in range(100):
        ks2.execute([b"SET", b"r%d" % i, b"x" * 100], EPOCH_MS)
    est = rdb_estimate(ks2)
    assert est.nbytes < raw / 5 and est.keys == 100
    assert est.lzf_matched > 90 * 100 and est.lzf_literal < 10 * 100


# ------------------------------------------------------------------------ against liblzf


def _liblzf() -> ctypes.CDLL | None:
    for name in ("liblzf.so.1", ctypes.util.find_library("lzf")):
        if name:
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                continue
            lib.lzf_compress.restype = ctypes.c_uint
            lib.lzf_compress.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_char_p,
                                         ctypes.c_uint]
            return lib
    return None


_LIB = _liblzf()


@pytest.mark.skipif(_LIB is None, reason="liblzf is not installed (Debian: liblzf1, which "
                    "redis-server depends on)")
@settings(max_examples=400, deadline=None)
@given(data=st.one_of(st.binary(min_size=1, max_size=400), _pieces.filter(bool)),
       slack=st.integers(-8, 64))
def test_output_equals_liblzf(data: bytes, slack: int) -> None:
    assert _LIB is not None
    limit = max(1, len(data) + slack)
    buf = ctypes.create_string_buffer(limit + 8)
    n = _LIB.lzf_compress(data, len(data), buf, limit)
    assert compress(data, limit) == (buf.raw[:n] if n else None)


def test_upstream_bundled_copy_refuses_matches_in_the_last_four_bytes() -> None:
    data = b"-xyz0123456789abcdefghijklmnopxyz"  # the repeat starts 3 bytes from the end
    full, bundled = compress(data, 100), compress(data, 100, tail_matches=False)
    assert full is not None and bundled is not None
    assert decompress(full) == decompress(bundled) == data
    assert len(bundled) > len(full)
