"""HUD: simulated time, ops/s, p50/p99, hit ratio, INFO counters and a live latency histogram.

The numbers are the ones Redis and redis-benchmark report, computed from the trace up to the
playback time: ``instantaneous_ops_per_sec`` (server.c:trackInstantaneousMetric, here over a
sliding window of simulated time), ``keyspace_hits``/``keyspace_misses``, ``evicted_keys``,
``expired_keys``, and the client-side latency percentiles of redis-benchmark's summary.
The histogram has four log bins per decade (HDR-style); grey bars are every reply so far,
orange bars are the replies of the last window.
"""

from __future__ import annotations

import math

import pygame

from redissim.view.panels.common import (
    DIM,
    FAINT,
    REQUEST,
    TEXT,
    Ctx,
    fmt_bytes,
    fmt_rate,
    fmt_time,
)
from redissim.view.replay import HIST_BINS, HIST_LO_EXP, HIST_PER_DECADE


def metric_window(ctx: Ctx) -> float:
    """Sliding window for rates: a tenth of the replay, between 1 ms and 1 s."""
    return min(1.0, max(1e-3, (ctx.replay.end_t - ctx.replay.vi.start_s) / 10.0))


def draw(ctx: Ctx, surf: pygame.Surface) -> None:
    lay, rp, t = ctx.layout, ctx.replay, ctx.t
    body = lay.body("hud")
    st = rp.vi.settings
    win = metric_window(ctx)
    ops = rp.ops_per_sec(t, win)
    p50, p99 = rp.latency_percentiles(t)
    hits, misses = rp.hit_ratio(t)
    if not rp.hits_known:
        ratio = "not in this trace"
    elif hits + misses:
        ratio = f"{100.0 * hits / (hits + misses):.1f} % of {hits + misses} reads"
    else:
        ratio = "-"
    evicted = rp.evicted_count(t)
    expired = int(rp.expire_count.at(t))
    col_w = round(body.w * 0.47)
    lines = [
        ("simulated time", fmt_time(t), TEXT),
        ("ops/s", fmt_rate(ops), REQUEST),
        ("latency p50 / p99", f"{fmt_time(p50)} / {fmt_time(p99)}", TEXT),
        ("hit ratio", ratio, TEXT),
        ("evicted / expired keys", f"{evicted} / {expired}", TEXT),
    ]
    lh = lay.px(16)
    for k, (name, val, col) in enumerate(lines):
        y = body.y + k * lh
        ctx.blit_text(surf, name, (body.x, y), 11, DIM)
        ctx.blit_text(surf, val, (body.x + lay.px(128), y), 12, col, "mono",
                      max_w=col_w - lay.px(128))
    mm = fmt_bytes(st.maxmemory) if st.maxmemory else "0 (no limit)"
    aof = st.appendonly or bool(ctx.replay.aof_times)  # (or turned on by CONFIG SET)
    conf = (f"hz {st.hz} · maxmemory {mm} · {st.maxmemory_policy} · "
            f"appendfsync {st.appendfsync if aof else 'off'}")
    ctx.blit_text(surf, conf, (body.x, body.bottom + lay.px(2)), 10, DIM, anchor="bottomleft",
                  max_w=body.w)

    # Histogram on the right.
    h = pygame.Rect(body.x + col_w + lay.px(12), body.y + lay.px(14),
                    body.w - col_w - lay.px(12), body.h - lay.px(44))
    ctx.blit_text(surf, f"reply latency: all so far (grey), last {fmt_time(win)} (orange)",
                  (h.x, body.y - lay.px(2)), 9, DIM, max_w=h.w)
    total = rp.latency_hist(-math.inf, t)
    recent = rp.latency_hist(t - win, t)
    bw = h.w / HIST_BINS
    tmax = max(1, int(total.max()) if len(total) else 1)
    rmax = max(1, int(recent.max()) if len(recent) else 1)
    for b in range(HIST_BINS):
        x = round(h.x + b * bw)
        w = max(1, round(bw) - 1)
        th = round(h.h * total[b] / tmax)
        rh = round(h.h * recent[b] / rmax)
        if th:
            pygame.draw.rect(surf, FAINT, (x, h.bottom - th, w, th))
        if rh:
            pygame.draw.rect(surf, REQUEST, (x + w // 4, h.bottom - rh, max(1, w // 2), rh))
    pygame.draw.line(surf, DIM, (h.x, h.bottom), (h.right, h.bottom), 1)
    for d in range(0, HIST_BINS // HIST_PER_DECADE + 1):
        x = round(h.x + d * HIST_PER_DECADE * bw)
        pygame.draw.line(surf, DIM, (x, h.bottom), (x, h.bottom + 3), 1)
        ctx.blit_text(surf, fmt_time(10.0 ** (HIST_LO_EXP + d)).replace(".00", ""),
                      (x, h.bottom + 3), 9, DIM,
                      anchor="midtop" if 0 < d < HIST_BINS // HIST_PER_DECADE else
                      ("topleft" if d == 0 else "topright"))
    ctx.stats["hist_total"] = int(total.sum())
