"""Glob matching (util.c:stringmatchlen semantics): cases, and regex == interpreter."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redissim.server.glob import compile_pattern, pattern_to_regex, stringmatch

CASES = [
    (b"*", b"anything", True),
    (b"*", b"", False),  # the matcher never runs on "" (KEYS * special-cases the pattern)
    (b"", b"", True),
    (b"h?llo", b"hello", True),
    (b"h?llo", b"hllo", False),
    (b"h*llo", b"hllo", True),
    (b"h*llo", b"heeeello", True),
    (b"h**llo", b"hxllo", True),
    (b"h[ae]llo", b"hallo", True),
    (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False),
    (b"h[a-b]llo", b"hbllo", True),
    (b"h[a-b]llo", b"hcllo", False),
    (b"h[z-a]llo", b"hqllo", True),  # reversed range
    (b"h\\*llo", b"h*llo", True),
    (b"h\\*llo", b"hallo", False),
    (b"h[\\]]", b"h]", True),  # escape inside a set
    (b"h[a", b"ha", True),  # unterminated set: {a}, then the pattern ends
    (b"h[a", b"hab", False),
    (b"h[", b"h", False),
    (b"h[^", b"hx", True),  # unterminated empty negated set: any byte
    (b"[]", b"a", False),
    (b"[^]", b"a", True),
    (b"a\\", b"a\\", True),  # a trailing backslash is literal
    (b"[a-]", b"_", True),  # "a-]" is the range ]..a, then the set is unterminated
    (b"[a-]", b"b", False),
    (b"*a", b"bbba", True),
    (b"a*", b"a", True),
    (b"a*?", b"a", False),
    (b"k:\xff*", b"k:\xff\x00", True),  # byte-wise
]


@pytest.mark.parametrize(("pattern", "string", "expected"), CASES)
def test_glob_cases(pattern: bytes, string: bytes, expected: bool) -> None:
    assert stringmatch(pattern, string) is expected
    assert compile_pattern(pattern)(string) is expected


def test_many_stars() -> None:
    # 7.0.15 has no nesting guard on stars (added in later releases): no limit here either.
    pattern = b"x*" * 300 + b"y"
    assert pattern_to_regex(pattern).count(".*") == 300
    assert compile_pattern(pattern)(b"x" * 300 + b"y") is True
    assert stringmatch(b"a*" * 10 + b"b", b"a" * 10 + b"xb") is True


alphabet = st.sampled_from([b"a", b"b", b"*", b"?", b"[", b"]", b"^", b"-", b"\\"])


@settings(max_examples=1500, derandomize=True)
@given(
    pattern=st.lists(alphabet, max_size=8).map(b"".join),
    string=st.lists(st.sampled_from([b"a", b"b", b"]", b"-", b"\\", b"*"]), max_size=6).map(b"".join),
)
def test_regex_translation_equals_interpreter(pattern: bytes, string: bytes) -> None:
    assert compile_pattern(pattern)(string) == stringmatch(pattern, string)
