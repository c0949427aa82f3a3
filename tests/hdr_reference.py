"""The reference HdrHistogram (the ``hdrhistogram`` package, HdrHistogram's Python port) that
sim/hdr.py is checked against; the tests using it skip, saying why, where it is missing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest


def reference(values: Iterable[int], highest: int, sigfigs: int) -> Any:
    """A reference histogram of 10 us .. ``highest`` us, ``sigfigs`` significant figures,
    holding ``values`` (each at least 10, as memtier's capped recording has it)."""
    hdrh = pytest.importorskip("hdrh.histogram", reason="hdrhistogram (the reference HDR "
                               "library) is not installed: pip install -e '.[test]'")
    ref = hdrh.HdrHistogram(10, highest, sigfigs)
    for v in values:
        ref.record_value(max(v, 10))
    return ref
