"""antirez's LRU comparison picture, from a simulated run (redis.io "Key eviction";
antirez.com/news/109).

Fill the cache to maxmemory with the "old" keys, read every old key from first to last (so
the first ones are the best LRU victims), then write 50% more "new" keys. A perfect LRU
evicts exactly the first half of the old keys; Redis's sampled approximation evicts mostly
from it. The score is the share of the evicted old keys that came from the older half; the
picture draws one box per key in key order: light grey evicted old key, grey kept old key,
green new key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from redissim.scenario import LruGrid

EVICTED = (225, 225, 225)
KEPT = (120, 120, 120)
NEW = (60, 170, 75)
NEW_EVICTED = (190, 230, 195)


@dataclass
class GridResult:
    old_keys: int
    new_keys: int
    evicted_old: int
    evicted_older_half: int
    evicted_new: int
    kept: list[bool]  # old keys then new keys: still present at the end?

    @property
    def score(self) -> float:
        """Share of the evicted old keys that were in the older half (1.0 = perfect LRU)."""
        return self.evicted_older_half / self.evicted_old if self.evicted_old else float("nan")


def lru_grid(keyspace, cfg: LruGrid) -> GridResult:  # type: ignore[no-untyped-def]
    data = keyspace.dbs[0].data
    prefix = cfg.prefix.encode()
    kept = [b"%s%d" % (prefix, i) in data for i in range(cfg.old_keys + cfg.new_keys)]
    old = kept[: cfg.old_keys]
    half = cfg.old_keys // 2
    return GridResult(cfg.old_keys, cfg.new_keys, old.count(False), old[:half].count(False),
                      kept[cfg.old_keys:].count(False), kept)


def grid_text(g: GridResult) -> str:
    return (f"LRU grid: {g.old_keys} old keys, {g.new_keys} new; evicted old keys "
            f"{g.evicted_old} ({g.evicted_older_half} from the older half), new keys evicted "
            f"{g.evicted_new}; score {g.score:.3f} (true LRU 1.000)")


def draw_grid(g: GridResult, path: str | Path, title: str = "", box: int = 4) -> None:
    """One ``box``-pixel square per key, row by row, in key order."""
    from PIL import Image, ImageDraw

    n = len(g.kept)
    cols = max(1, int(math.sqrt(n * 2)))
    rows = math.ceil(n / cols)
    top = 18 if title else 0
    img = Image.new("RGB", (cols * box, rows * box + top), (255, 255, 255))
    d = ImageDraw.Draw(img)
    if title:
        d.text((2, 2), title, fill=(0, 0, 0))
    for i, present in enumerate(g.kept):
        if i < g.old_keys:
            color = KEPT if present else EVICTED
        else:
            color = NEW if present else NEW_EVICTED
        x, y = (i % cols) * box, top + (i // cols) * box
        d.rectangle([x, y, x + box - 2, y + box - 2], fill=color)
    img.save(path)
