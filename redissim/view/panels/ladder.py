"""The latency ladder: memory hierarchy tiers on a log scale, with this run's latencies on it.

Static tiers from lesson 12.1 and tools-and-sizing.md ("latency numbers every programmer
should know"): CPU cache ~1 ns, RAM ~100 ns, SSD ~100 µs, HDD ~10 ms. Live markers put the
run's Redis round-trip p50 and PostgreSQL query p50 on the same axis, and a white tick marks
how much simulated time one second of playback shows.
"""

from __future__ import annotations

import math

import pygame

from redissim.view.panels.common import (
    DIM,
    PG,
    REQUEST,
    TEXT,
    Ctx,
    fmt_time,
    lerp,
)

LO_EXP, HI_EXP = -9, 0  # 1 ns .. 1 s
TIERS: tuple[tuple[str, float, str, tuple[int, int, int]], ...] = (
    ("CPU cache (L1/L2)", 1e-9, "", (129, 199, 132)),
    ("RAM", 100e-9, "← Redis lives here", (255, 167, 38)),
    ("SSD", 100e-6, "← PostgreSQL (with cache)", (100, 181, 246)),
    ("HDD", 10e-3, "", (176, 190, 197)),
)


LABEL_ROWS_H = 26  # design px at the top for live marker labels


def _axis(ctx: Ctx) -> tuple[pygame.Rect, int]:
    """Rect spanning the tier rows and the axis (below the label rows), and label width."""
    lay = ctx.layout
    body = lay.body("ladder")
    label_w = lay.px(112)
    top = body.y + lay.px(LABEL_ROWS_H)
    return pygame.Rect(body.x + label_w, top, body.w - label_w - lay.px(6),
                       body.bottom - top), label_w


def x_of(ax: pygame.Rect, seconds: float) -> int:
    f = (math.log10(max(seconds, 10.0**LO_EXP)) - LO_EXP) / (HI_EXP - LO_EXP)
    return round(ax.x + ax.w * min(1.0, max(0.0, f)))


def draw_static(ctx: Ctx, surf: pygame.Surface) -> None:
    lay = ctx.layout
    ax, label_w = _axis(ctx)
    base = ax.bottom - lay.px(13)
    rows = len(TIERS)
    rh = (base - ax.y) / rows
    for k, (name, v, note, col) in enumerate(TIERS):
        y = round(ax.y + k * rh) + 1
        h = max(3, round(rh) - lay.px(4))
        ctx.blit_text(surf, name, (ax.x - label_w, y + h // 2), 11, TEXT, anchor="midleft")
        x1 = x_of(ax, v)
        pygame.draw.rect(surf, lerp(col, (27, 33, 45), 0.35), (ax.x, y, max(2, x1 - ax.x), h))
        pygame.draw.rect(surf, col, (ax.x, y, max(2, x1 - ax.x), h), 1)
        r = ctx.blit_text(surf, f"~{fmt_time(v)}".replace(".00", "").replace(".0 ", " "),
                          (x1 + lay.px(4), y + h // 2), 10, col, anchor="midleft")
        if note:
            ctx.blit_text(surf, note, (r.right + lay.px(6), y + h // 2), 10, DIM,
                          anchor="midleft")
    pygame.draw.line(surf, DIM, (ax.x, base), (ax.right, base), 1)
    for e in range(LO_EXP, HI_EXP + 1):
        x = x_of(ax, 10.0**e)
        pygame.draw.line(surf, DIM, (x, base), (x, base + 3), 1)
        if (e - LO_EXP) % 3 == 0:
            ctx.blit_text(surf, fmt_time(10.0**e).replace(".00", ""), (x, base + 3), 9, DIM,
                          anchor="midtop" if e != HI_EXP else "topright")


def draw(ctx: Ctx, surf: pygame.Surface) -> None:
    lay, rp, t = ctx.layout, ctx.replay, ctx.t
    ax, _ = _axis(ctx)
    base = ax.bottom - lay.px(13)
    body = lay.body("ladder")
    marks: list[tuple[float, tuple[int, int, int], str, int]] = []
    p50 = rp.latency_percentiles(t)[0]
    if math.isfinite(p50):
        marks.append((p50, REQUEST, f"Redis round trip p50 {fmt_time(p50)}", 0))
    pg = rp.pg_p50(t)
    if math.isfinite(pg):
        marks.append((pg, PG, f"PostgreSQL query p50 {fmt_time(pg)}", 0))
    marks.append((ctx.speed, (255, 255, 255), f"1 s of playback = {fmt_time(ctx.speed)}", 1))
    right_edge = [body.x, body.x]
    for v, col, label, row in sorted(marks, key=lambda m: m[0]):
        x = x_of(ax, v)
        y_label = body.y + row * lay.px(13)
        pygame.draw.line(surf, col, (x, y_label + lay.px(11)), (x, base), 1)
        s = lay.px(4)
        pygame.draw.polygon(surf, col, [(x, base), (x - s, base - s - 2), (x + s, base - s - 2)])
        img_w = ctx.fonts.font("sans", 10).size(label)[0]
        lx = max(x - img_w // 2, right_edge[row] + lay.px(8))
        lx = min(lx, body.right - img_w)
        r = ctx.blit_text(surf, label, (lx, y_label), 10, col)
        right_edge[row] = r.right
