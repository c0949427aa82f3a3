"""Glob-style pattern matching used by KEYS and SCAN MATCH.

Models ``src/util.c:stringmatchlen`` (Redis 7.0), byte-wise and case-sensitive (KEYS and
SCAN never use the case-insensitive variant):

* ``*`` any run of bytes (consecutive stars collapse), ``?`` exactly one byte;
* ``[abc]`` a set, ``[^abc]`` its complement (``^`` only right after ``[``), ``[a-z]`` a
  range (reversed ranges such as ``[z-a]`` work), ``\\x`` escapes ``x`` inside and outside
  brackets; a backslash that ends the pattern is a literal backslash;
* an unterminated ``[`` takes the rest of the pattern as its set and ends the pattern;
* the empty string matches only the empty pattern (the matcher loop never runs); the
  commands themselves special-case the pattern ``*``, which matches every key, even ``""``.

7.0.15 has no limit on nested stars (the recursion guard came in later releases); the
regex translation has none either, and the interpreter recurses once per star group.

Two implementations with the same semantics: :func:`stringmatch` interprets the pattern
like the C code does (the reference), and :func:`compile_pattern` translates it once into an
equivalent Python regular expression, which is what KEYS over a million keys needs. The
tests check one against the other on random patterns and against a real redis-server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["stringmatch", "compile_pattern", "pattern_to_regex"]

def stringmatch(pattern: bytes, string: bytes) -> bool:
    """True if ``string`` matches the glob ``pattern`` (reference interpreter)."""
    skip = [False]
    return _match(pattern, 0, string, 0, skip)


def _match(p: bytes, pi: int, s: bytes, si: int, skip_longer: list[bool]) -> bool:
    plen = len(p)
    slen = len(s)
    while pi < plen and si < slen:
        c = p[pi]
        if c == 42:  # '*'
            while pi + 1 < plen and p[pi + 1] == 42:
                pi += 1
            if pi + 1 == plen:
                return True
            while si < slen:
                if _match(p, pi + 1, s, si, skip_longer):
                    return True
                # A nested star already ran out of string: starting later cannot help.
                if skip_longer[0]:
                    return False
                si += 1
            skip_longer[0] = True
            return False
        elif c == 63:  # '?'
            si += 1
        elif c == 91:  # '['
            pi += 1
            negate = pi < plen and p[pi] == 94  # '^'
            if negate:
                pi += 1
            matched = False
            ch = s[si]
            while True:
                if pi < plen and p[pi] == 92 and plen - pi >= 2:  # escaped member
                    pi += 1
                    if p[pi] == ch:
                        matched = True
                elif pi < plen and p[pi] == 93:  # ']' closes the set
                    break
                elif pi >= plen:
                    # Unterminated: the set ends with the pattern (C steps back one byte
                    # so that the common "advance" below lands exactly on the end).
                    pi -= 1
                    break
                elif plen - pi >= 3 and p[pi + 1] == 45:  # range a-z
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    pi += 2
                    if lo <= ch <= hi:
                        matched = True
                elif p[pi] == ch:
                    matched = True
                pi += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        else:
            if c == 92 and plen - pi >= 2:  # '\' escapes the next byte
                pi += 1
                c = p[pi]
            if c != s[si]:
                return False
            si += 1
        pi += 1
        if si == slen:
            while pi < plen and p[pi] == 42:
                pi += 1
            break
    return pi >= plen and si == slen


def _class_byte(b: int) -> str:
    return f"\\x{b:02x}"


def _tokens(pattern: bytes) -> list[str]:
    """Split a glob into tokens: ``"*"`` for a star group, else a one-byte regex fragment.

    Parses exactly like the interpreter above; every token except ``*`` matches one byte.
    """
    p = pattern
    plen = len(p)
    out: list[str] = []
    pi = 0
    while pi < plen:
        c = p[pi]
        if c == 42:
            while pi + 1 < plen and p[pi + 1] == 42:
                pi += 1
            out.append("*")
        elif c == 63:
            out.append(".")
        elif c == 91:
            pi += 1
            negate = pi < plen and p[pi] == 94
            if negate:
                pi += 1
            members: list[str] = []
            while True:
                if pi < plen and p[pi] == 92 and plen - pi >= 2:
                    pi += 1
                    members.append(_class_byte(p[pi]))
                elif pi < plen and p[pi] == 93:
                    break
                elif pi >= plen:
                    pi -= 1
                    break
                elif plen - pi >= 3 and p[pi + 1] == 45:
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    members.append(_class_byte(lo) + "-" + _class_byte(hi))
                    pi += 2
                else:
                    members.append(_class_byte(p[pi]))
                pi += 1
            if members:
                out.append(("[^" if negate else "[") + "".join(members) + "]")
            else:
                out.append("." if negate else "(?!)")
        else:
            if c == 92 and plen - pi >= 2:
                pi += 1
                c = p[pi]
            out.append(_class_byte(c))
        pi += 1
    return out


def pattern_to_regex(pattern: bytes) -> str:
    """Translate a glob into an equivalent regex source (for ``re.fullmatch`` with DOTALL)."""
    return "".join(".*" if t == "*" else t for t in _tokens(pattern))


def _compile(src: str) -> re.Pattern[bytes]:
    return re.compile(src.encode("latin-1"), re.DOTALL)


@lru_cache(maxsize=256)
def compile_pattern(pattern: bytes) -> Callable[[bytes], bool]:
    """A fast predicate equivalent to ``lambda s: stringmatch(pattern, s)``.

    With at most one star group the whole glob is one regex. With more, a regex with
    several ``.*`` can backtrack exponentially (Redis avoids that with its
    skip-longer-matches shortcut), so the glob is matched as fixed-width segments between
    stars instead: the first anchored at the start, the last at the end, each middle one at
    its leftmost occurrence -- which is optimal because every non-star token is one byte.
    """
    tokens = _tokens(pattern)
    if tokens.count("*") <= 1:
        fullmatch = _compile("".join(".*" if t == "*" else t for t in tokens)).fullmatch

        def match(s: bytes) -> bool:
            # The C loop never runs on an empty string: only the empty pattern matches it.
            if not s:
                return not pattern
            return fullmatch(s) is not None

        return match

    segments: list[list[str]] = [[]]
    for t in tokens:
        if t == "*":
            segments.append([])
        else:
            segments[-1].append(t)
    head_len = len(segments[0])
    tail_len = len(segments[-1])
    head = _compile("".join(segments[0])).match
    tail = _compile("".join(segments[-1])).match
    middles = [(_compile("".join(seg)).search, len(seg)) for seg in segments[1:-1] if seg]

    def match_segments(s: bytes) -> bool:
        if not s:
            return False  # a pattern with stars is never empty
        n = len(s)
        if head_len + tail_len > n or head(s) is None:
            return False
        pos = head_len
        limit = n - tail_len
        for search, width in middles:
            m = search(s, pos, limit)
            if m is None:
                return False
            pos = m.start() + width
        return tail(s, limit) is not None

    return match_segments
