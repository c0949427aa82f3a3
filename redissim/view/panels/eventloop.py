"""The single-threaded event loop: its phases, one command at a time, and recent history.

Draws the model of ``ae.c:aeProcessEvents`` (see redis-internals.md §1.1-1.3 and §1.10):
``epoll_wait`` -> read each ready client (``networking.c:readQueryFromClient``) -> execute
its commands one after another (``server.c:call``) -> timers (``serverCron``) ->
``beforeSleep`` (AOF flush, then replies written). A ``fork()`` for BGSAVE blocks the
whole loop (``rdb.c:rdbSaveBackground``). The ring shows the current phase; the list shows
this iteration's commands with the running one highlighted; the strip at the bottom shows
the phases over the last two seconds of playback.
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
import pygame

from redissim.view.panels.clients import client_rows
from redissim.view.panels.common import (
    CLIENT_COLORS,
    DIM,
    FAINT,
    PANEL,
    PHASE_COLORS,
    PHASE_LABELS,
    REQUEST,
    TEXT,
    Ctx,
    fmt_time,
    lerp,
)
from redissim.view.replay import PHASES, PHASES_ALL

#: Wall seconds of history in the phase strip.
STRIP_WALL_S = 2.0
LIST_ROWS = 9


class _Geometry(TypedDict):
    body: pygame.Rect
    center: tuple[int, int]
    nodes: dict[str, pygame.Rect]
    strip: pygame.Rect
    list: pygame.Rect


def _geometry(ctx: Ctx) -> _Geometry:
    lay = ctx.layout
    body = lay.body("loop")
    ring_h = lay.px(176)
    cx, cy = body.centerx, body.y + ring_h // 2 + lay.px(2)
    rx, ry = body.w * 0.37, ring_h * 0.40
    nw, nh = lay.px(104), lay.px(22)
    # Clockwise from the top, in the order one ae iteration runs them.
    angles = [-90 + 72 * k for k in range(len(PHASES))]
    nodes: dict[str, pygame.Rect] = {}
    for ph, a in zip(PHASES, angles, strict=True):
        x = cx + rx * math.cos(math.radians(a))
        y = cy + ry * math.sin(math.radians(a))
        nodes[ph] = pygame.Rect(round(x - nw / 2), round(y - nh / 2), nw, nh)
    strip = pygame.Rect(body.x, body.bottom - lay.px(30), body.w, lay.px(14))
    # The list ends above the two lines of loop statistics drawn over the strip.
    lst = pygame.Rect(body.x, body.y + ring_h + lay.px(6), body.w,
                      strip.y - lay.px(36) - (body.y + ring_h + lay.px(6)))
    return {"body": body, "center": (cx, cy), "nodes": nodes, "strip": strip, "list": lst}


def draw_static(ctx: Ctx, surf: pygame.Surface) -> None:
    g = _geometry(ctx)
    nodes = g["nodes"]
    order = list(PHASES) + [PHASES[0]]
    for a, b in zip(order, order[1:], strict=False):
        pa, pb = nodes[a].center, nodes[b].center
        pygame.draw.line(surf, FAINT, pa, pb, 2)
        # Arrowhead two thirds of the way, pointing along the loop.
        mx, my = pa[0] + (pb[0] - pa[0]) * 0.62, pa[1] + (pb[1] - pa[1]) * 0.62
        ang = math.atan2(pb[1] - pa[1], pb[0] - pa[0])
        s = ctx.layout.px(7)
        pts = [(mx + s * math.cos(ang), my + s * math.sin(ang)),
               (mx + s * math.cos(ang + 2.5), my + s * math.sin(ang + 2.5)),
               (mx + s * math.cos(ang - 2.5), my + s * math.sin(ang - 2.5))]
        pygame.draw.polygon(surf, FAINT, pts)


def draw(ctx: Ctx, surf: pygame.Surface) -> None:
    lay, rp, t = ctx.layout, ctx.replay, ctx.t
    g = _geometry(ctx)
    nodes = g["nodes"]
    cx, cy = g["center"]
    phase, pclient = rp.phase_at(t)
    for ph, r in nodes.items():
        col = PHASE_COLORS[ph]
        on = ph == phase
        pygame.draw.rect(surf, col if on else PANEL, r, border_radius=lay.px(6))
        pygame.draw.rect(surf, col if on else lerp(col, PANEL, 0.45), r, 2,
                         border_radius=lay.px(6))
        ctx.blit_text(surf, PHASE_LABELS[ph].split(" ")[0], r.center, 11,
                      (20, 20, 20) if on else lerp(col, (255, 255, 255), 0.2),
                      "bold" if on else "sans", anchor="center")
    ctx.stats["loop_phase"] = PHASES_ALL.index(phase)
    ctx.stats["loop_waking"] = 0  # (set below while a request waits for the loop to wake)

    # Centre of the ring: what the single thread is doing right now.
    names, rows = client_rows(ctx)
    ci = rp.current_exec(t)
    if phase == "down":
        d = rp.down_at(t)
        why = d[2] if d is not None else "crash"
        head = "machine off: power loss" if why == "power-loss" else f"process down: {why}"
        if d is not None and d[1] != float("inf"):
            then = f"back at {fmt_time(d[1])}, loaded from {d[3].upper()}" if d[3] != "none" \
                else f"back at {fmt_time(d[1])}, empty"
        else:
            then = "not back before the end of the trace"
        ctx.blit_text(surf, head, (cx, cy + lay.px(4)), 12, (239, 83, 80), "bold",
                      anchor="center", max_w=lay.px(160))
        ctx.blit_text(surf, then, (cx, cy + lay.px(20)), 10, TEXT, anchor="center",
                      max_w=lay.px(160))
    elif phase == "fork":
        stall = next((s for ft, s in rp.forks if ft <= t < ft + s), 0.0)
        ctx.blit_text(surf, "fork(): loop blocked", (cx, cy + lay.px(4)), 12,
                      PHASE_COLORS["fork"], "bold", anchor="center", max_w=lay.px(140))
        ctx.blit_text(surf, f"page table copy {fmt_time(stall)}", (cx, cy + lay.px(20)), 10,
                      TEXT, anchor="center", max_w=lay.px(140))
    elif phase == "execute" and ci >= 0:
        x = rp.execs[ci]
        cmd = f"{x.name} {x.key}".strip()
        ctx.blit_text(surf, cmd, (cx, cy + lay.px(4)), 13, REQUEST, "mono", anchor="center",
                      max_w=lay.px(140))
        who = names[rows.get(x.client, 0)] if x.client in rows else ""
        ctx.blit_text(surf, f"{fmt_time(x.cpu)} · {who}", (cx, cy + lay.px(20)), 10, DIM,
                      anchor="center", max_w=lay.px(140))
    else:
        label = {"epoll_wait": "idle: waiting in epoll",
                 "read": "reading a socket",
                 "serverCron": "timer: serverCron",
                 "beforeSleep": "writing replies"}.get(phase, phase)
        # A request is in while the thread still sleeps: it is being woken up (network.wakeup:
        # a thread blocked in epoll_wait runs some microseconds after its socket fills).
        arrived = rp.sock_queue.active(t) if phase == "epoll_wait" else []
        if arrived:
            label = "waking up"
            ctx.stats["loop_waking"] = 1
        ctx.blit_text(surf, label, (cx, cy + lay.px(4)), 12, PHASE_COLORS.get(phase, TEXT),
                      anchor="center", max_w=lay.px(140))
        if arrived:
            since = t - min(s for s, _e, _r in arrived)
            ctx.blit_text(surf, f"a request in for {fmt_time(since)}", (cx, cy + lay.px(20)), 10,
                          DIM, anchor="center", max_w=lay.px(140))
        if phase in ("read", "beforeSleep") and pclient in rows:
            ctx.blit_text(surf, names[rows[pclient]], (cx, cy + lay.px(20)), 10, DIM,
                          anchor="center", max_w=lay.px(140))
    ctx.blit_text(surf, "one thread, one command at a time", (cx, cy + lay.px(36)), 9, DIM,
                  anchor="center")

    # This iteration's commands, in the order the loop runs them.
    lst = g["list"]
    lo, hi = rp.iteration_execs(t)
    if phase == "down":
        lo = hi = 0  # no process, no iteration: the requests wait for a restarted one
    n = hi - lo
    line = lay.px(15)
    head = ("no event loop: requests wait for the restart" if phase == "down" else
            f"this iteration: {n} command{'s' if n != 1 else ''}")
    ctx.blit_text(surf, head, lst.topleft, 11, TEXT, "bold", max_w=lst.w)
    rows_fit = max(1, min(LIST_ROWS, lst.h // line - 2))
    if n:
        first = lo if ci < lo else max(lo, min(ci - 2, hi - rows_fit))
        for k, j in enumerate(range(first, min(hi, first + rows_fit))):
            x = rp.execs[j]
            y = lst.y + line * (k + 1) + lay.px(2)
            running = j == ci and phase == "execute"
            done = j < ci or (j == ci and not running)
            col = REQUEST if running else (DIM if done else TEXT)
            row = rows.get(x.client, 0)
            pygame.draw.rect(surf, CLIENT_COLORS[row % len(CLIENT_COLORS)],
                             (lst.x, y + lay.px(2), lay.px(4), line - lay.px(5)))
            mark = "▶" if running else ("✓" if done else "·")
            ctx.blit_text(surf, mark, (lst.x + lay.px(8), y), 11, col, "mono")
            ctx.blit_text(surf, f"{x.name} {x.key}".strip(), (lst.x + lay.px(22), y), 11, col,
                          "mono", max_w=lay.px(190))
            ctx.blit_text(surf, fmt_time(x.cpu), (lst.right - lay.px(4), y), 10, col,
                          "mono", anchor="topright")
        if hi - first > rows_fit:
            ctx.blit_text(surf, f"… {hi - first - rows_fit} more in this iteration",
                          (lst.x + lay.px(22), lst.y + line * (rows_fit + 1) + lay.px(2)), 10,
                          DIM)
        if first > lo:
            ctx.blit_text(surf, f"{first - lo} done above", (lst.right, lst.y), 10, DIM,
                          anchor="topright")

    # Loop statistics of the last window: batching per iteration and the slowest command.
    strip = g["strip"]
    win = min(1.0, max(1e-3, (rp.end_t - rp.vi.start_s) / 10.0))
    win = min(win, t - rp.vi.start_s)  # (no earlier than where the trace begins)
    iters = rp.iterations_between(t - win, t) if win > 0 else 0
    cmds = rp.ops_per_sec(t, win) * win if win > 0 else 0.0
    y = strip.y - lay.px(34)
    if iters:
        ctx.blit_text(surf, f"last {fmt_time(win)}: {iters} iterations, "
                      f"{cmds / iters:.1f} commands per iteration", (lst.x, y), 10, DIM,
                      max_w=lst.w)
    slow = rp.slowest_exec(t)
    if slow is not None:
        hot = slow.cpu >= 1e-3
        ctx.blit_text(surf, f"slowest command so far: {slow.name} {slow.key} "
                      f"{fmt_time(slow.cpu)}", (lst.x, y + lay.px(14)), 10,
                      PHASE_COLORS["fork"] if hot else DIM, "bold" if hot else "sans",
                      max_w=lst.w)
    # Phase history strip: one column per pixel, each the phase at that instant.
    window = STRIP_WALL_S * ctx.speed
    ts = t - window + (np.arange(strip.w) + 0.5) * (window / strip.w)
    codes = rp.phase_codes(ts)
    codes[ts < rp.vi.start_s] = -1  # (before the trace begins: nothing recorded)
    x0 = strip.x
    run_start = 0
    for k in range(1, strip.w + 1):
        if k == strip.w or codes[k] != codes[run_start]:
            c = int(codes[run_start])
            if c >= 0:
                col = PHASE_COLORS[PHASES_ALL[c]]
                pygame.draw.rect(surf, col, (x0 + run_start, strip.y, k - run_start, strip.h))
            run_start = k
    pygame.draw.rect(surf, FAINT, strip, 1)
    ctx.blit_text(surf, f"← {fmt_time(window)} ago", (strip.x, strip.bottom + 1), 9, DIM)
    ctx.blit_text(surf, "phases: red = fork, dark = down", (strip.centerx, strip.bottom + 1),
                  9, DIM, anchor="midtop")
    ctx.blit_text(surf, "now", (strip.right, strip.bottom + 1), 9, DIM, anchor="topright")
