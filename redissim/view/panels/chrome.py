"""Frames, title bar (simulated time, speed, play state, controls) and the narration bar.

Presentation only. The title bar says how simulated time maps to wall time ("1 s on screen
= 1 ms simulated"), which is the one thing a viewer must know to read the scene.
"""

from __future__ import annotations

import pygame

from redissim.view.layout import FRAMED, TITLES
from redissim.view.panels.common import (
    BORDER,
    CAPTION_BG,
    DIM,
    PANEL,
    REQUEST,
    SAMPLED,
    TEXT,
    Ctx,
    fmt_time,
)

CONTROLS = "space pause · ←/→ step · +/− speed · n next notable · r restart · s shot · q quit"


def draw_frames(ctx: Ctx, surf: pygame.Surface) -> None:
    lay = ctx.layout
    for name in FRAMED:
        r = lay[name]
        pygame.draw.rect(surf, PANEL, r)
        pygame.draw.rect(surf, BORDER, r, 1)
        ctx.blit_text(surf, TITLES[name], (r.x + lay.px(6), r.y + lay.px(3)), 11, DIM, "bold",
                      max_w=r.w - lay.px(10))


def draw_title(ctx: Ctx, surf: pygame.Surface) -> None:
    lay, rp, t = ctx.layout, ctx.replay, ctx.t
    r = lay["title"]
    pygame.draw.rect(surf, (12, 15, 21), r)
    ctx.blit_text(surf, f"redissim · {rp.vi.title}", (r.x + lay.px(8), r.centery), 13, TEXT,
                  "bold", anchor="midleft", max_w=lay.px(300))
    cut = " (trace cut)" if rp.vi.trace.truncated else ""
    ctx.blit_text(surf, f"t = {fmt_time(t)} / {fmt_time(rp.end_t)}{cut}",
                  (lay.px(330), r.centery), 13, REQUEST, "mono", anchor="midleft",
                  max_w=lay.px(225))
    state = "PAUSED" if ctx.paused else "PLAYING"
    ctx.blit_text(surf, f"{state} · speed {ctx.speed:.0e}× (1 s on screen = {fmt_time(ctx.speed)})",
                  (lay.px(560), r.centery), 12, SAMPLED if ctx.paused else TEXT,
                  anchor="midleft")
    ctx.blit_text(surf, CONTROLS, (r.right - lay.px(8), r.centery), 10, DIM, anchor="midright",
                  max_w=lay.px(380))
    if rp.end_t > 0:
        w = round(r.w * min(1.0, t / rp.end_t))
        pygame.draw.rect(surf, REQUEST, (r.x, r.bottom - 2, w, 2))


def draw_caption(ctx: Ctx, surf: pygame.Surface) -> None:
    lay = ctx.layout
    r = lay["caption"]
    text = ctx.replay.caption_at(ctx.t)
    if text:
        pygame.draw.rect(surf, CAPTION_BG, r)
        pygame.draw.rect(surf, REQUEST, (r.x, r.y, lay.px(4), r.h))
        ctx.blit_text(surf, text, (r.x + lay.px(14), r.centery), 14, TEXT, anchor="midleft",
                      max_w=r.w - lay.px(24))
    else:
        ctx.blit_text(surf, "n jumps to the next eviction, fsync, fork or KEYS",
                      (r.x + lay.px(14), r.centery), 11, DIM, anchor="midleft")
