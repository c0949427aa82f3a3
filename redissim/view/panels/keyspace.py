"""The keyspace as a grid of keys, coloured by idle time, with memory against maxmemory.

Draws the model of the main dict (``db.c``), key access times (the 24-bit LRU clock,
``evict.c:estimateObjectIdleTime``), approximated eviction (``evict.c:performEvictions``
with ``evictionPoolPopulate``: a handful of sampled candidates, the idlest evicted) and
expiry (``db.c:expireIfNeeded`` and ``expire.c:activeExpireCycle``). A cell lights up when
its key is touched and cools down the longer it stays idle; an evicted key flashes red with
the sampled candidates outlined in yellow; an expiring key fades out.
"""

from __future__ import annotations

import math

import numpy as np
import pygame

from redissim.view.panels.common import (
    DIM,
    EVICT,
    EXPIRED,
    FAINT,
    IDLE_RAMP,
    REQUEST,
    SAMPLED,
    TEXT,
    Ctx,
    fmt_bytes,
    fmt_time,
    lerp,
    ramp,
)
from redissim.view.replay import KEY_EVICTED, KEY_EXPIRED, KEY_PRESENT

EMPTY = (36, 43, 58)
IDLE_LO = 1e-5


def grid_geometry(ctx: Ctx) -> tuple[pygame.Rect, int, int, int]:
    """(grid rect, columns, rows, pitch) sized so all keys fit when possible."""
    lay = ctx.layout
    body = lay.body("keyspace")
    area = pygame.Rect(body.x, body.y, body.w, body.h - lay.px(86))
    n = max(1, len(ctx.replay.key_order))
    pitch = int(math.sqrt(area.w * area.h / n))
    pitch = max(lay.px(7), min(lay.px(26), pitch))
    cols = max(1, area.w // pitch)
    rows = max(1, area.h // pitch)
    while cols * rows < n and pitch > lay.px(7):
        pitch -= 1
        cols, rows = max(1, area.w // pitch), max(1, area.h // pitch)
    return area, cols, rows, pitch


def idle_hi(ctx: Ctx) -> float:
    return max(ctx.replay.end_t, 1e-3)


LUT_N = 256
_LUT: list[tuple[int, int, int]] = [ramp(IDLE_RAMP, k / (LUT_N - 1)) for k in range(LUT_N)]


def idle_color(ctx: Ctx, idle: float) -> tuple[int, int, int]:
    """Colour of a key idle for ``idle`` seconds: log scale from 10 µs to the run's length."""
    lo, hi = math.log10(IDLE_LO), math.log10(idle_hi(ctx))
    f = (math.log10(max(idle, IDLE_LO)) - lo) / (hi - lo)
    return _LUT[min(LUT_N - 1, max(0, int(f * (LUT_N - 1) + 0.5)))]


def draw_static(ctx: Ctx, surf: pygame.Surface) -> None:
    area, _cols, _rows, _pitch = grid_geometry(ctx)
    _legend(ctx, surf, area.x, area.bottom + ctx.layout.px(58), area.w)


def draw(ctx: Ctx, surf: pygame.Surface) -> None:
    lay, rp, t = ctx.layout, ctx.replay, ctx.t
    area, cols, rows, pitch = grid_geometry(ctx)
    cell = max(2, pitch - max(1, pitch // 6))
    keys = rp.key_order[: cols * rows]
    fx = ctx.fx
    states, lasts = rp.key_states(len(keys), t)
    age = t - lasts
    lo, hi = math.log10(IDLE_LO), math.log10(idle_hi(ctx))
    lut_i = np.clip(((np.log10(np.maximum(age, IDLE_LO)) - lo) / (hi - lo) * (LUT_N - 1) + 0.5)
                    .astype(np.int64), 0, LUT_N - 1)
    rects: dict[str, pygame.Rect] = {}
    present = 0
    draw_rect = pygame.draw.rect
    for i, key in enumerate(keys):
        r = pygame.Rect(area.x + (i % cols) * pitch, area.y + (i // cols) * pitch, cell, cell)
        rects[key] = r
        state = states[i]
        if state == KEY_PRESENT:
            present += 1
            draw_rect(surf, _LUT[lut_i[i]], r)
            if age[i] < fx * 0.5:  # just touched: a white rim
                draw_rect(surf, (255, 255, 255), r, 1)
        elif state == KEY_EVICTED and age[i] < 2 * fx:
            draw_rect(surf, EVICT, r)
        elif state == KEY_EXPIRED and age[i] < 3 * fx:
            draw_rect(surf, lerp(EXPIRED, EMPTY, age[i] / (3 * fx)), r)
        else:
            draw_rect(surf, EMPTY, r)
    ctx.stats["keys_present_drawn"] = present

    # Evictions of the last moments: the victim and the candidates the sampler looked at.
    recent = rp.evictions_between(t - 2 * fx, t)
    thick = max(2, lay.px(2))
    for _te, key, sampled in recent:
        for s in sampled:
            if s in rects and s != key:
                pygame.draw.rect(surf, SAMPLED, rects[s].inflate(thick * 2, thick * 2), thick)
        if key in rects:
            pygame.draw.rect(surf, EVICT, rects[key].inflate(thick * 2, thick * 2), thick)
    ctx.stats["evictions_shown"] = len(recent)

    # Footer: what just happened, the memory bar and the legend.
    y = area.bottom + lay.px(4)
    hidden = len(rp.key_order) - len(keys)
    if recent:
        te, key, sampled = recent[-1]
        msg = (f"EVICTED {key}: idlest of {len(sampled)} sampled keys"
               if sampled else f"EVICTED {key}")
        ctx.blit_text(surf, msg, (area.x, y), 11, EVICT, "bold", max_w=area.w)
    else:
        dbsize = rp.dbsize(t)
        ctx.stats["dbsize_shown"] = -1 if dbsize is None else dbsize
        if dbsize is not None and dbsize != present:
            # a dataset the trace only partly touches (preloaded keys): the grid is a sample
            msg = (f"{dbsize:,} key{'' if dbsize == 1 else 's'} in memory; grid: "
                   f"{len(keys):,} touched in the trace")
        else:
            msg = f"{present} key{'' if present == 1 else 's'} in memory" + (
                f" (grid shows {len(keys)} of {len(rp.key_order)})" if hidden else "")
        ctx.blit_text(surf, msg, (area.x, y), 11, TEXT, max_w=area.w)
    y += lay.px(18)
    _memory_bar(ctx, surf, pygame.Rect(area.x, y, area.w, lay.px(16)), present)


def _memory_bar(ctx: Ctx, surf: pygame.Surface, r: pygame.Rect, present: int) -> None:
    rp, t = ctx.replay, ctx.t
    st = rp.vi.settings
    used = rp.used_memory(t)
    pygame.draw.rect(surf, EMPTY, r)
    if used is not None and st.maxmemory:
        f = used / st.maxmemory
        label = f"used_memory {fmt_bytes(used)} / maxmemory {fmt_bytes(st.maxmemory)}"
    elif used is not None:
        peak = max(1, int(max(rp.live.values, default=1)) * (rp.vi.key_bytes or 1))
        f = used / peak
        label = f"used_memory {fmt_bytes(used)} (no maxmemory)"
    elif rp.dbsize(t) is not None and rp.vi.dbsize:
        # DBSIZE against its largest value: a drain (expiry) empties the bar
        dbsize = rp.dbsize(t) or 0
        peak = max(1, max(n for _, n in rp.vi.dbsize))
        f = dbsize / peak
        label = f"DBSIZE {dbsize:,} of at most {peak:,} (no memory figures)"
    else:
        f = present / max(1, len(rp.key_order))
        label = f"{present} live keys of {len(rp.key_order)} seen (no memory figures)"
    if used is None or not st.maxmemory:
        col = (90, 125, 170)  # no limit to run into: a neutral fill
    else:
        col = EVICT if f >= 0.999 else REQUEST if f > 0.9 else (102, 187, 106)
    pygame.draw.rect(surf, col, (r.x, r.y, round(r.w * min(1.0, f)), r.h))
    pygame.draw.rect(surf, FAINT, r, 1)
    if st.maxmemory:
        pygame.draw.line(surf, EVICT, (r.right - 1, r.y - 3), (r.right - 1, r.bottom + 2), 2)
    ctx.blit_text(surf, label, (r.x + 4, r.bottom + 1), 10, DIM, max_w=r.w)


def _legend(ctx: Ctx, surf: pygame.Surface, x: int, y: int, w: int) -> None:
    lay = ctx.layout
    gw = lay.px(110)
    h = lay.px(10)
    for k in range(gw):
        pygame.draw.line(surf, ramp(IDLE_RAMP, k / (gw - 1)), (x + k, y), (x + k, y + h))
    ctx.blit_text(surf, "idle 10 µs", (x, y + h + 1), 9, DIM)
    ctx.blit_text(surf, fmt_time(idle_hi(ctx)), (x + gw, y + h + 1), 9, DIM, anchor="topright")
    lx = x + gw + lay.px(14)
    for col, label, outline in ((EVICT, "evicted", False), (SAMPLED, "sampled", True),
                                (EXPIRED, "expired", False), (EMPTY, "absent", False)):
        box = pygame.Rect(lx, y, h, h)
        if outline:
            pygame.draw.rect(surf, col, box, 2)
        else:
            pygame.draw.rect(surf, col, box)
        r = ctx.blit_text(surf, label, (lx + h + lay.px(3), y - 1), 10, TEXT)
        lx = r.right + lay.px(10)
