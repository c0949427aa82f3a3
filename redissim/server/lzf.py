"""LZF, the compressor Redis runs on every string it writes to an RDB file.

Models ``lzf_compress`` (liblzf 3.6, with the configuration Redis uses in ``src/lzfP.h``:
``HLOG 16``, ``VERY_FAST``, no ``ULTRA_FAST``) and its one caller that matters here,
``rdb.c:rdbSaveLzfStringObject``: a string longer than 20 bytes that is not stored as an
integer is compressed into a buffer of ``len - 4`` bytes; if the output does not fit,
``lzf_compress`` gives up (returns 0) and the string is stored as it is. The size of an RDB
file, and so how long a BGSAVE writes and a restart reads, therefore depends on what the
values contain: ``x`` * 100 shrinks to a few bytes, random bytes do not shrink at all.

The output format (what the decompressor reads):

* ``000LLLLL`` then ``L + 1`` literal bytes (runs of 1 to 32 bytes);
* ``LLLooooo oooooooo``: copy ``L + 2`` bytes (``L`` 1..6) from ``o + 1`` bytes back;
* ``111ooooo LLLLLLLL oooooooo``: the same with a length of ``L + 9`` (up to 264).

The compressor finds matches through a table of 65,536 slots indexed by a hash of the next
three bytes; each slot remembers the last position whose three bytes hashed there. A match
must start at most 8,192 bytes back, not at the very first byte of the input, and at least
three bytes must agree (the table can hold a colliding position). After a match only the
last two positions it covered are entered in the table (``VERY_FAST``), which is why the
output depends on these details and a different LZ77 coder would not give Redis's sizes.

Which copy of LZF: Debian's redis-server links the system liblzf 3.6, which this follows
(the tests compare it with that library and with the dump.rdb that server writes).
Upstream's source tree bundles an older ``lzf_c.c`` that also refuses a match starting in
the last four bytes of the input (``ip + 4 < in_end``): ``tail_matches=False`` gives that
variant, at most a few bytes longer per string.

Both leave the table uninitialised (``INIT_HTAB 0``): a slot never written in this call
holds whatever an earlier call left. Such a position is used only if its three bytes match
at the current one, so it rarely changes the output; here an unwritten slot is empty,
which makes the sizes deterministic.
"""

from __future__ import annotations

from typing import Final

HLOG: Final = 16
HSIZE: Final = 1 << HLOG
MAX_LIT: Final = 1 << 5  # literal run length
MAX_OFF: Final = 1 << 13  # how far back a match may start
MAX_REF: Final = (1 << 8) + (1 << 3)  # longest match (264 bytes)

#: ``rdbSaveRawString``: below this length not even a run of one byte compresses.
RDB_COMPRESS_MIN_LEN: Final = 21


def _idx(b0: int, b1: int, b2: int) -> int:
    """``IDX`` of VERY_FAST: only the three bytes' 24 bits reach the 16-bit index."""
    h = (b0 << 16) | (b1 << 8) | b2
    return ((h >> (24 - HLOG)) - h * 5) & (HSIZE - 1)


def _mismatch(data: bytes, a: int, b: int, lo: int, hi: int) -> int:
    """The first k in [lo, hi) with ``data[a + k] != data[b + k]``, else hi (the byte-by-byte
    loop of the C code, done with slice comparisons)."""
    if data[a + lo:a + hi] == data[b + lo:b + hi]:
        return hi
    while hi - lo > 8:
        mid = (lo + hi) // 2
        if data[a + lo:a + mid] == data[b + lo:b + mid]:
            lo = mid
        else:
            hi = mid
    while data[a + lo] == data[b + lo]:
        lo += 1
    return lo


def compress(data: bytes, out_len: int, tail_matches: bool = True) -> bytes | None:
    """``lzf_compress(data, len(data), out, out_len)``: the compressed bytes, or None where
    the C function returns 0 (empty input, or the output would not fit in ``out_len``).
    ``tail_matches=False``: upstream Redis's bundled copy (see the module's docstring)."""
    return _compress(data, out_len, tail_matches)[0]


def _compress(data: bytes, out_len: int,
              tail_matches: bool = True) -> tuple[bytes | None, int, int]:
    """:func:`compress`, and the work it did until it finished or gave up: the bytes it
    copied as literals and the bytes its matches covered (what its time depends on)."""
    n = len(data)
    if n == 0 or out_len <= 0:
        return None, 0, 0
    literals = matched = 0
    # the last position a match may start at, plus one
    match_end = n - 2 if tail_matches else n - 4
    out = bytearray()
    htab: dict[int, int] = {}
    ip = 0
    lit = 0
    out.append(0)  # the control byte of the first literal run, filled in when it closes
    while ip < n - 2:
        slot = _idx(data[ip], data[ip + 1], data[ip + 2])
        ref = htab.get(slot, -1)
        htab[slot] = ip
        off = ip - ref - 1
        if (ref > 0 and off < MAX_OFF and ip < match_end
                and data[ref] == data[ip] and data[ref + 1] == data[ip + 1]
                and data[ref + 2] == data[ip + 2]):
            # Close the literal run (or take back its control byte if it is empty).
            if lit:
                out[-lit - 1] = lit - 1
            else:
                del out[-1]
            if len(out) + 3 + 1 >= out_len:
                return None, literals, matched
            maxlen = min(n - ip - 2, MAX_REF)
            # The C code compares the next 16 bytes without looking at maxlen when maxlen
            # > 16, then goes on byte by byte while below it: there a match can end past
            # maxlen (at 19 bytes).
            if maxlen > 16:
                ln = _mismatch(data, ref, ip, 3, 19)
                if ln == 19:
                    ln = _mismatch(data, ref, ip, 19, max(19, maxlen))
            else:
                ln = _mismatch(data, ref, ip, 3, max(3, maxlen))
            matched += ln
            field = ln - 2  # copied: field + 2 bytes
            if field < 7:
                out.append((off >> 8) + (field << 5))
            else:
                out.append((off >> 8) + (7 << 5))
                out.append(field - 7)
            out.append(off & 0xFF)
            lit = 0
            out.append(0)  # start a new run
            ip += ln
            if ip >= n - 2:
                break
            # VERY_FAST: enter the match's last two positions in the table.
            p = ip - 2
            htab[_idx(data[p], data[p + 1], data[p + 2])] = p
            p += 1
            htab[_idx(data[p], data[p + 1], data[p + 2])] = p
        else:
            if len(out) >= out_len:
                return None, literals, matched
            out.append(data[ip])
            literals += 1
            lit += 1
            ip += 1
            if lit == MAX_LIT:
                out[-lit - 1] = lit - 1
                lit = 0
                out.append(0)
    if len(out) + 3 > out_len:
        return None, literals, matched
    literals += n - ip
    while ip < n:
        out.append(data[ip])
        lit += 1
        ip += 1
        if lit == MAX_LIT:
            out[-lit - 1] = lit - 1
            lit = 0
            out.append(0)
    if lit:
        out[-lit - 1] = lit - 1
    else:
        del out[-1]
    return bytes(out), literals, matched


def decompress(data: bytes) -> bytes:
    """``lzf_decompress``: the inverse of :func:`compress` (for tests and checks)."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:  # a literal run
            run = ctrl + 1
            if i + run > n:
                raise ValueError("LZF literal run past the end of the input")
            out += data[i:i + run]
            i += run
            continue
        ln = ctrl >> 5
        if ln == 7:
            ln += data[i]
            i += 1
        back = ((ctrl & 0x1F) << 8) + data[i] + 1
        i += 1
        start = len(out) - back
        if start < 0:
            raise ValueError("LZF back-reference before the start of the output")
        for k in range(ln + 2):  # byte by byte: a copy may overlap what it writes
            out.append(out[start + k])
    return bytes(out)


def rdb_compressed_len(data: bytes) -> int:
    """Bytes of ``data``'s LZF payload in an RDB file, or 0 if Redis stores it verbatim
    (``rdbSaveLzfStringObject``: the output must fit in ``len - 4`` bytes)."""
    return rdb_compress_work(data)[0]


def rdb_compress_work(data: bytes) -> tuple[int, int, int]:
    """(:func:`rdb_compressed_len`, literal bytes, matched bytes) of the compression
    attempt ``rdbSaveLzfStringObject`` makes on ``data`` (all 0 below 21 bytes: no attempt)."""
    n = len(data)
    if n < RDB_COMPRESS_MIN_LEN:
        return 0, 0, 0
    c, literals, matched = _compress(data, n - 4)
    return (len(c) if c is not None else 0), literals, matched
