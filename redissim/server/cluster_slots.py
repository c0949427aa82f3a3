"""Redis Cluster's key-to-slot map, and how ``redis-cli --cluster create`` spreads the slots.

Models three pieces of Redis 7.0 that decide where a key lives in a cluster:

* ``cluster.c:keyHashSlot`` (``cluster.h`` in later versions) with ``crc16.c``: a key's
  hash slot is the CRC16 (the XMODEM variant) of the key, or of its hash tag, modulo the
  16384 slots. The tag is what lies between the first ``{`` and the first ``}`` after it,
  when that is not empty; otherwise the whole key is hashed.
* ``redis-cli.c:clusterManagerCommandCreate``: the contiguous slot range each master gets
  when ``redis-cli --cluster create`` builds a cluster. The arithmetic is single-precision
  ``float`` and the rounding ``lround``, both reproduced exactly, because from 78 masters
  on the float ranges differ from the exact-fraction ones by a slot here and there.
* ``redis-benchmark.c`` with ``crc16_slottable.h``: the short alphanumeric hash tag
  ``redis-benchmark --cluster`` writes into ``{tag}`` to aim a request at a slot. The
  header is a list of 16384 strings; it is regenerated here from the rule it follows (see
  :func:`slot_tag`), not copied.

What ``redis-benchmark --cluster`` does with the tags (``setClusterKeyHashTag``): a client
bound to a master always uses that master's *first* slot (``current_slot_index`` starts at
0 and never moves unless the slot map changes), so all the keys a benchmark run writes to a
master share one slot, the first of its range. A tag shorter than three characters is
padded with ``}`` to fill the five bytes of ``{tag}``: slot 1's tag ``Qi`` gives keys like
``key:{Qi}}:000000000042``, which hash the same because the tag ends at the first ``}``.
:func:`benchmark_key_tag` gives those five bytes.

Not modelled: replicas (``--cluster-replicas``), and the interleaving of nodes by IP
address that redis-cli does before taking the first ones as masters. With every node on
one host, as in a local test, or with one node per host, the masters are the nodes in the
order given on the command line, and :func:`allocate_slots`'s ranges are theirs in that
order.
"""

from __future__ import annotations

import itertools
import math
import struct
from binascii import crc_hqx
from functools import cache
from typing import Final

__all__ = [
    "CLUSTER_SLOTS",
    "crc16",
    "key_hash_slot",
    "allocate_slots",
    "node_of_slot",
    "slot_tag",
    "benchmark_key_tag",
]

#: ``CLUSTER_SLOTS`` (cluster.h): the number of hash slots, a power of two.
CLUSTER_SLOTS: Final = 16384
_SLOT_MASK: Final = CLUSTER_SLOTS - 1  # keyHashSlot's ``& 0x3FFF``

#: The order in which tag characters are tried when the slot table is generated: digits,
#: then lower case, then upper case. Not ASCII order: with ASCII order 703 of the 16384
#: tags would differ from redis-benchmark's (those with no candidate starting with a digit).
_TAG_ALPHABET: Final = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

_FLOAT32: Final = struct.Struct("<f")


def crc16(data: bytes) -> int:
    """CRC16 as crc16.c computes it: CCITT polynomial 0x1021, initial value 0, no bit
    reflection, no final xor (the "XMODEM" parameters; ``crc16(b"123456789") == 0x31C3``).

    ``binascii.crc_hqx`` with a start value of 0 is exactly this CRC (the tests check it
    against a bit-by-bit implementation), and it runs in C, which matters because every
    request of a simulated cluster hashes its key.
    """
    return crc_hqx(data, 0)


def key_hash_slot(key: bytes) -> int:
    """The hash slot of ``key`` (``keyHashSlot``): CRC16 of its hash tag, if it has a
    non-empty one, else of the whole key, keeping the low 14 bits.

    Only the first ``{`` counts, and the tag ends at the first ``}`` after it: ``a{b}c{d}``
    hashes ``b``, ``{{a}}`` hashes ``{a``, and ``{}x``, ``}{`` and ``x{y`` hash the whole
    key. Hash tags let an application keep related keys in one slot (and so on one node),
    which multi-key commands in a cluster require.
    """
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:  # a "}" after the "{" (e == -1 if none), and something between
            return crc_hqx(key[s + 1:e], 0) & _SLOT_MASK
    return crc_hqx(key, 0) & _SLOT_MASK


def _f32(x: float) -> float:
    """``x`` rounded to the nearest single-precision float, as a C ``float`` holds it.

    Rounding the exact double result of one ``+`` or ``/`` of two floats to float gives
    the same value as the float operation itself (a double carries more than twice a
    float's 24 significant bits, so the double rounding cannot go wrong).
    """
    return float(_FLOAT32.unpack(_FLOAT32.pack(x))[0])


def _lround(x: float) -> int:
    """C's ``lround``: to the nearest integer, halves away from zero. Python's ``round``
    rounds halves to even, and halves do occur: with 130 masters the float cursor puts
    one end at exactly 14240.5, which redis-cli rounds to 14241."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def allocate_slots(masters: int) -> list[tuple[int, int]]:
    """The inclusive ``(first, last)`` slot range of each master, in master order, as
    ``redis-cli --cluster create`` assigns them.

    clusterManagerCommandCreate keeps ``slots_per_node = 16384 / (float) masters`` and a
    float cursor advanced by it; master ``i`` ends at ``lround(cursor + slots_per_node - 1)``
    and the next starts one slot later; the last master takes whatever is left up to slot
    16383. For 3 masters: (0, 5460), (5461, 10922), (10923, 16383).

    redis-cli itself refuses to create a cluster of fewer than 3 masters; the simulator
    allows 1 and 2 as well, with the same arithmetic (one master owns every slot; two
    split them at 8191/8192).

    Raises ValueError unless ``1 <= masters <= 16384``, and also for the 2989 counts (the
    smallest is 7542) where the float cursor's accumulated rounding error would make
    redis-cli hand the last master slot 16384, which does not exist, so that creating the
    cluster would fail (CLUSTER ADDSLOTS refuses an out-of-range slot).
    """
    if not 1 <= masters <= CLUSTER_SLOTS:
        raise ValueError(f"masters must be in 1..{CLUSTER_SLOTS}, not {masters}")
    per_node = _f32(CLUSTER_SLOTS / masters)
    cursor = 0.0
    first = 0
    ranges: list[tuple[int, int]] = []
    for i in range(masters):
        # float + float, then - 1 (an int promoted to float): each step rounded to float
        last = _lround(_f32(_f32(cursor + per_node) - 1))
        # (redis-cli compares with 16384, not 16383: an off-by-one kept as it is)
        if last > CLUSTER_SLOTS or i == masters - 1:
            last = CLUSTER_SLOTS - 1
        if last < first:
            last = first
        ranges.append((first, last))
        first = last + 1
        cursor = _f32(cursor + per_node)
    if ranges[-1][0] > CLUSTER_SLOTS - 1 or any(last >= CLUSTER_SLOTS for _, last in ranges):
        raise ValueError(
            f"redis-cli --cluster create cannot spread the slots over {masters} masters: "
            f"its float arithmetic runs past slot {CLUSTER_SLOTS - 1}"
        )
    return ranges


def node_of_slot(ranges: list[tuple[int, int]]) -> list[int]:
    """For each of the 16384 slots, the index in ``ranges`` of the master that owns it.

    ``ranges`` are inclusive ``(first, last)`` slot ranges such as :func:`allocate_slots`
    returns; they must cover every slot exactly once (ValueError otherwise), since a
    cluster with an unowned slot refuses requests (``cluster-require-full-coverage``). A
    plain list, because the routing of every simulated request indexes it.
    """
    owners = [-1] * CLUSTER_SLOTS
    for node, (first, last) in enumerate(ranges):
        if not 0 <= first <= last < CLUSTER_SLOTS:
            raise ValueError(f"bad slot range {first}-{last} for node {node}")
        span = owners[first:last + 1]
        if span.count(-1) != len(span):
            raise ValueError(f"slot range {first}-{last} of node {node} overlaps another")
        owners[first:last + 1] = [node] * (last - first + 1)
    if -1 in owners:
        raise ValueError(f"slot {owners.index(-1)} is not covered by any range")
    return owners


@cache
def _slot_tag_table() -> tuple[bytes, ...]:
    """redis-benchmark's crc16_slot_table, regenerated: for each slot, the first string in
    order of length and then alphabetical order over ``_TAG_ALPHABET`` whose CRC16 lands on
    it. Strings of up to 3 characters reach every slot: the last slot is filled by the
    73,033rd candidate (``hYW``), after which the search stops. A string's CRC is
    continued from its prefix's; the whole table takes about 10 ms, once."""
    table: list[bytes | None] = [None] * CLUSTER_SLOTS
    missing = CLUSTER_SLOTS
    chars = [bytes([c]) for c in _TAG_ALPHABET]
    for length in itertools.count(1):
        for prefix_chars in itertools.product(chars, repeat=length - 1):
            prefix = b"".join(prefix_chars)
            prefix_crc = crc_hqx(prefix, 0)
            for c in chars:
                slot = crc_hqx(c, prefix_crc) & _SLOT_MASK
                if table[slot] is None:
                    table[slot] = prefix + c
                    missing -= 1
                    if missing == 0:
                        return tuple(t for t in table if t is not None)
    raise AssertionError("unreachable")  # itertools.count never ends


def slot_tag(slot: int) -> bytes:
    """The hash tag redis-benchmark uses to send a key to ``slot`` (its
    ``crc16_slot_table[slot]``): ``key_hash_slot(b"{" + slot_tag(s) + b"}") == s``.

    The header describes its strings as the shortest alphanumeric ones that map to each
    slot; among strings of that length it holds the first in the order digits, lower
    case, upper case (``0-9a-zA-Z``), compared character by character from the left.
    Generating by that rule reproduces all 16384 entries of Redis 7.0's header: slot 0 is
    ``06S``, slot 1 ``Qi``, slot 16383 ``6ZJ``. The table is built on first use and cached.
    """
    if not 0 <= slot < CLUSTER_SLOTS:
        raise ValueError(f"slot must be in 0..{CLUSTER_SLOTS - 1}, not {slot}")
    return _slot_tag_table()[slot]


def benchmark_key_tag(slot: int) -> bytes:
    """The five bytes redis-benchmark --cluster writes over ``{tag}`` in a key to aim it
    at ``slot``: ``{`` + the tag padded with ``}`` to three characters + ``}`` (so slot
    0 gives ``{06S}``, slot 1 ``{Qi}}``). It overwrites the three characters between the
    braces in place, which is why a short tag leaves extra ``}``; they are after the tag's
    closing brace, so the slot is the same."""
    return b"{" + slot_tag(slot).ljust(3, b"}") + b"}"
