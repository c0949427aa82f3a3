"""The persistence lane: AOF (aof_buf -> write -> fsync) and the RDB child with copy-on-write.

Draws the model of ``aof.c:feedAppendOnlyFile`` (commands appended to ``aof_buf``),
``aof.c:flushAppendOnlyFile`` (one ``write(2)`` per loop iteration in ``beforeSleep``, into
the OS page cache) and the fsync to the device (``appendfsync``: always in the main thread,
everysec in a BIO thread, no = left to the kernel), and of ``rdb.c:rdbSaveBackground``:
``fork()`` stalls the main thread, then a child writes the snapshot while every page the
parent writes is duplicated (copy-on-write); the child of an AOF rewrite
(``aof.c:rewriteAppendOnlyFileBackground``) is drawn the same way, writing the AOF's base.
"Not yet on disk" is what a power loss at this instant would lose (redis-internals.md §4.2
table).
"""

from __future__ import annotations

import math
from bisect import bisect_right

import pygame

from redissim.view.panels.common import (
    AOF,
    COW,
    DIM,
    DISK,
    FAINT,
    FSYNC,
    PANEL,
    TEXT,
    Ctx,
    fmt_bytes,
    fmt_time,
)
from redissim.view.replay import KEYS_PER_PAGE


def _boxes(ctx: Ctx) -> tuple[list[pygame.Rect], pygame.Rect]:
    lay = ctx.layout
    body = lay.body("persistence")
    left_w = round(body.w * 0.56)
    bw, bh = lay.px(96), lay.px(34)
    gap = (left_w - 3 * bw) // 2
    y = body.y + lay.px(4)
    boxes = [pygame.Rect(body.x + k * (bw + gap), y, bw, bh) for k in range(3)]
    rdb = pygame.Rect(body.x + left_w + lay.px(12), body.y, body.w - left_w - lay.px(12),
                      body.h)
    return boxes, rdb


def draw_static(ctx: Ctx, surf: pygame.Surface) -> None:
    boxes, rdb = _boxes(ctx)
    for a, b in zip(boxes, boxes[1:], strict=False):
        pygame.draw.line(surf, FAINT, (a.right, a.centery), (b.x, b.centery), 2)
        pygame.draw.polygon(surf, FAINT, [(b.x, b.centery), (b.x - 7, b.centery - 4),
                                          (b.x - 7, b.centery + 4)])
    pygame.draw.line(surf, FAINT, (rdb.x - ctx.layout.px(6), rdb.y),
                     (rdb.x - ctx.layout.px(6), rdb.bottom), 1)


def draw(ctx: Ctx, surf: pygame.Surface) -> None:
    lay, rp, t = ctx.layout, ctx.replay, ctx.t
    st = rp.vi.settings
    boxes, rdb = _boxes(ctx)
    last = rp.last_aof_write(t)
    fs = rp.fsync_active(t)
    writing = last is not None and t - last[0] < ctx.fx
    labels = [("aof_buf", "in memory"), ("write(2)", "OS page cache"), ("fsync", "device")]
    lit = [writing, writing, fs is not None]
    box_cols = [AOF, AOF, FSYNC]
    for r, (title, sub), on, col in zip(boxes, labels, lit, box_cols, strict=True):
        pygame.draw.rect(surf, PANEL, r, border_radius=lay.px(4))
        pygame.draw.rect(surf, col if on else FAINT, r, 2, border_radius=lay.px(4))
        ctx.blit_text(surf, title, (r.centerx, r.y + lay.px(3)), 11, col if on else TEXT,
                      "bold", anchor="midtop")
        ctx.blit_text(surf, sub, (r.centerx, r.bottom - lay.px(3)), 9, DIM, anchor="midbottom")
    # Packets moving along the lane.
    pk = (lay.px(12), lay.px(8))
    if writing and last is not None:
        f = (t - last[0]) / ctx.fx
        a, b = boxes[0], boxes[1]
        x = a.right + round(f * (b.x - a.right - pk[0]))
        pygame.draw.rect(surf, AOF, (x, a.centery - pk[1] // 2, *pk))
    if fs is not None:
        s, e = fs
        f = (t - s) / (e - s) if math.isfinite(e) and e > s else 0.5
        a, b = boxes[1], boxes[2]
        x = a.right + round(f * (b.x - a.right - pk[0]))
        pygame.draw.rect(surf, FSYNC, (x, a.centery - pk[1] // 2, *pk))
        ctx.blit_text(surf, f"fsync {f * 100:.0f}% of {fmt_time(e - s)}",
                      (b.centerx, b.bottom + lay.px(2)), 9, FSYNC, anchor="midtop")
    ctx.stats["fsync_active"] = int(fs is not None)
    ctx.stats["aof_pulse"] = int(writing)

    y = boxes[0].bottom + lay.px(16)
    aof_on = st.appendonly or rp.aof_times
    if aof_on:
        line1 = (f"appendfsync {st.appendfsync} · written {fmt_bytes(rp.aof_bytes(t))}"
                 f" · fsyncs done {rp.fsync_count(t)}")
        unsynced = rp.unsynced_bytes(t)
        line2 = f"not yet on disk (lost on power failure): {fmt_bytes(unsynced)}"
        ctx.blit_text(surf, line1, (boxes[0].x, y), 10, TEXT, max_w=boxes[2].right - boxes[0].x)
        ctx.blit_text(surf, line2, (boxes[0].x, y + lay.px(14)), 10,
                      AOF if unsynced else DIM, max_w=boxes[2].right - boxes[0].x)
    else:
        ctx.blit_text(surf, "appendonly no: a restart loses everything since the last RDB",
                      (boxes[0].x, y), 10, DIM, max_w=boxes[2].right - boxes[0].x)

    # The child: an RDB snapshot's, or an AOF rewrite's (which writes the AOF's base, an RDB
    # preamble, the same way), titled after the latest fork.
    child = rp.child_at(t)
    latest = bisect_right(rp.fork_times, t) - 1
    rewrite = latest >= 0 and rp.is_rewrite(latest)
    title = "AOF rewrite (fork + child)" if rewrite else "RDB snapshot (BGSAVE: fork + child)"
    ctx.blit_text(surf, title, rdb.topleft, 11, TEXT, "bold", max_w=rdb.w)
    stall = next((s for ft, s in rp.forks if ft <= t < ft + s), None)
    bar = pygame.Rect(rdb.x, rdb.y + lay.px(18), rdb.w, lay.px(10))
    pygame.draw.rect(surf, (36, 43, 58), bar)
    if child is None:
        done = [ft for ft, _ in rp.forks if ft <= t]
        msg = "no child running" + (f" · last fork at {fmt_time(done[-1])}" if done else
                                    " · no snapshot yet in this run")
        ctx.blit_text(surf, msg, (rdb.x, bar.bottom + lay.px(3)), 10, DIM, max_w=rdb.w)
        ctx.stats["cow_pages"] = 0
        return
    fi, _ft, frac = child
    pygame.draw.rect(surf, DISK, (bar.x, bar.y, round(bar.w * min(1.0, frac)), bar.h))
    pygame.draw.rect(surf, FAINT, bar, 1)
    if stall is not None:
        msg = f"fork(): main thread blocked for {fmt_time(stall)}"
        ctx.blit_text(surf, msg, (rdb.x, bar.bottom + lay.px(3)), 10, COW, "bold", max_w=rdb.w)
    else:
        file = "the AOF's base" if rewrite else "dump.rdb"
        ctx.blit_text(surf, f"child writing {file}: {frac * 100:.0f}%",
                      (rdb.x, bar.bottom + lay.px(3)), 10, TEXT, max_w=rdb.w)
    # Copy-on-write pages: every page the parent dirties while the child runs is copied.
    n_pages = max(1, math.ceil(len(rp.key_order) / KEYS_PER_PAGE))
    copied = set(rp.cow_pages(fi, t))
    gy = bar.bottom + lay.px(18)
    cell = lay.px(6)
    cols = max(1, rdb.w // (cell + 1))
    rows_fit = max(1, (rdb.bottom - gy - lay.px(12)) // (cell + 1))
    shown = min(n_pages, cols * rows_fit)
    for p in range(shown):
        x = rdb.x + (p % cols) * (cell + 1)
        yy = gy + (p // cols) * (cell + 1)
        pygame.draw.rect(surf, COW if p in copied else (50, 60, 78), (x, yy, cell, cell))
    ctx.stats["cow_pages"] = len(copied)
    ctx.blit_text(surf, f"copy-on-write: {len(copied)} of {n_pages} pages copied",
                  (rdb.x, rdb.bottom), 10, COW if copied else DIM, anchor="bottomleft",
                  max_w=rdb.w)
