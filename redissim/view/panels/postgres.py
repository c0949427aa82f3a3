"""The PostgreSQL lane: parse, plan, buffer cache, disk, index, result, on Redis's clock.

Draws the simulated PostgreSQL pipeline (redis-internals.md §8; upstream
``tcop/postgres.c:exec_simple_query`` -> ``pg_parse_query``, ``pg_plan_queries``,
``PortalRun``; buffer lookups in ``storage/buffer/bufmgr.c:ReadBuffer``). Each backend's
query is a blue token sitting in the stage it is in, with a bar showing how far through the
stage it is. Shown next to Redis on the same playback clock, the token crawls while the
event loop above runs thousands of commands: lesson 12.1's "5-50 ms vs 0.1-1 ms".
"""

from __future__ import annotations

import math

import pygame

from redissim.view.panels.common import (
    DIM,
    FAINT,
    PANEL,
    PG,
    PG_DARK,
    REQUEST,
    TEXT,
    Ctx,
    fmt_time,
)


def stage_boxes(ctx: Ctx) -> dict[str, pygame.Rect]:
    lay = ctx.layout
    body = lay.body("postgres")
    stages = ctx.replay.pg_stages
    n = len(stages)
    gap = lay.px(12)
    bw = (body.w - gap * (n - 1)) // n
    bh = lay.px(48)
    return {s: pygame.Rect(body.x + k * (bw + gap), body.y + lay.px(2), bw, bh)
            for k, s in enumerate(stages)}


def draw_static(ctx: Ctx, surf: pygame.Surface) -> None:
    boxes = list(stage_boxes(ctx).values())
    for a, b in zip(boxes, boxes[1:], strict=False):
        pygame.draw.line(surf, FAINT, (a.right, a.centery), (b.x, b.centery), 2)
        pygame.draw.polygon(surf, FAINT, [(b.x, b.centery), (b.x - 6, b.centery - 4),
                                          (b.x - 6, b.centery + 4)])


def draw(ctx: Ctx, surf: pygame.Surface) -> None:
    lay, rp, t = ctx.layout, ctx.replay, ctx.t
    boxes = stage_boxes(ctx)
    active = rp.pg_active(t)
    by_stage: dict[str, list[tuple[float, float, int]]] = {}
    for s, e, c, st in active:
        by_stage.setdefault(st, []).append((s, e, c))
    for st, r in boxes.items():
        here = sorted(by_stage.get(st, []))
        pygame.draw.rect(surf, PG_DARK if here else PANEL, r, border_radius=lay.px(5))
        pygame.draw.rect(surf, PG if here else FAINT, r, 2, border_radius=lay.px(5))
        ctx.blit_text(surf, st, (r.centerx, r.y + lay.px(3)), 11, TEXT if here else DIM,
                      "bold", anchor="midtop", max_w=r.w - 4)
        rad = lay.px(5)
        for k in range(min(6, len(here))):
            cx = r.x + lay.px(10) + k * (2 * rad + lay.px(3))
            pygame.draw.circle(surf, PG, (cx, r.centery + lay.px(3)), rad)
        if here:
            s, e, _c = here[0]
            f = (t - s) / (e - s) if math.isfinite(e) and e > s else 0.0
            bar = pygame.Rect(r.x + lay.px(4), r.bottom - lay.px(8), r.w - lay.px(8), lay.px(4))
            pygame.draw.rect(surf, FAINT, bar)
            pygame.draw.rect(surf, PG, (bar.x, bar.y, round(bar.w * f), bar.h))
            if math.isfinite(e):
                ctx.blit_text(surf, fmt_time(e - s), (r.right - lay.px(4), r.centery + lay.px(3)),
                              9, TEXT, anchor="midright")
    ctx.stats["pg_tokens"] = sum(min(6, len(v)) for v in by_stage.values())

    body = lay.body("postgres")
    y = next(iter(boxes.values())).bottom + lay.px(8) if boxes else body.y
    done = rp.pg_done(t)
    p50 = rp.pg_p50(t)
    redis_p50 = rp.latency_percentiles(t)[0]
    if rp.pg_done_times or rp.pg_idx:
        msg = f"queries done {done} · p50 {fmt_time(p50)}"
        ctx.blit_text(surf, msg, (body.x, y), 11, PG)
        if done and math.isfinite(redis_p50) and redis_p50 > 0:
            ratio = p50 / redis_p50
            ctx.blit_text(surf, f"one query ≈ {ratio:,.0f} Redis round trips (p50 {fmt_time(redis_p50)})",
                          (body.x, y + lay.px(15)), 11, REQUEST)
        else:
            ctx.blit_text(surf, "parse → plan → read pages → check index → result",
                          (body.x, y + lay.px(15)), 10, DIM)
    else:
        ctx.blit_text(surf, "no PostgreSQL queries in this run", (body.x, y), 11, DIM)
