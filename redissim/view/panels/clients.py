"""Clients, the network between them and the server, and the server's socket queue.

Models nothing itself; it draws the request path of ``networking.c``: a client writes a
request batch (``send``), it crosses the network (``arrive``: the socket becomes readable in
``epoll_wait``), it waits in the socket receive queue until the event loop's
``readQueryFromClient`` reads it (``read``), and the reply crosses back after
``writeToClient`` in ``beforeSleep`` (``write`` -> ``recv``). One orange token per batch in
flight to the server, one green token per reply in flight back.
"""

from __future__ import annotations

from collections import Counter

import pygame

from redissim.view.panels.common import (
    CLIENT_COLORS,
    DIM,
    FAINT,
    PANEL,
    REPLY,
    REQUEST,
    TEXT,
    Ctx,
    fmt_time,
    lerp,
)

MAX_ROWS = 8


def _group_of(label: str) -> str:
    """The workload a connection belongs to, from its label: "GET+SET 12" -> "GET+SET"."""
    head, _, tail = label.rpartition(" ")
    return head if head and tail.isdigit() else label


def client_rows(ctx: Ctx) -> tuple[list[str], dict[int, int]]:
    """Row labels and client id -> row."""
    names, rows, _shared = _rows(ctx)
    return names, rows


def _rows(ctx: Ctx) -> tuple[list[str], dict[int, int], set[int]]:
    """client_rows, and the rows that several clients share (computed once per replay).

    Up to MAX_ROWS clients get a row each. Beyond that the rows are shared out between the
    workloads (told apart by their labels, "SET 1" .. "SET 50"), so that a workload that
    starts after another is not hidden behind the first one's clients: one row each, then
    one more at a time to the workload with the most clients still without a row of their
    own; a workload's last row groups the clients left over. More workloads than rows: the
    first MAX_ROWS - 1 clients, and a last row for the rest.
    """
    rp = ctx.replay
    cached = getattr(rp, "_client_rows", None)
    if cached is not None:
        return cached
    clients = rp.clients
    labels = rp.vi.client_labels

    def label(c: int) -> str:
        return labels.get(c, f"client {c}")

    names: list[str] = []
    rows: dict[int, int] = {}
    groups: dict[str, list[int]] = {}
    for c in clients:
        groups.setdefault(_group_of(label(c)), []).append(c)
    if len(clients) <= MAX_ROWS:
        names = [label(c) for c in clients]
        rows = {c: i for i, c in enumerate(clients)}
    elif len(groups) == 1 or len(groups) > MAX_ROWS:
        names = [label(c) for c in clients[: MAX_ROWS - 1]]
        names.append(f"{len(clients) - len(names)} more clients")
        rows = {c: min(i, MAX_ROWS - 1) for i, c in enumerate(clients)}
    else:
        alloc = dict.fromkeys(groups, 1)
        for _ in range(MAX_ROWS - len(groups)):
            g = max(groups, key=lambda g: len(groups[g]) - alloc[g])  # (ties: the first)
            if len(groups[g]) <= alloc[g]:
                break
            alloc[g] += 1
        for g, members in groups.items():
            own = members if len(members) <= alloc[g] else members[: alloc[g] - 1]
            for c in own:
                rows[c] = len(names)
                names.append(label(c))
            rest = members[len(own):]
            if rest:
                for c in rest:
                    rows[c] = len(names)
                names.append(f"{len(rest)} more {g}" if own else f"{g}: {len(rest)} clients")
    counts = Counter(rows.values())
    result = (names, rows, {r for r, n in counts.items() if n > 1})
    rp._client_rows = result  # type: ignore[attr-defined]
    return result


def row_centers(ctx: Ctx, n: int) -> list[int]:
    body = ctx.layout.body("clients")
    n = max(1, n)
    h = body.h / n
    return [round(body.y + h * (i + 0.5)) for i in range(n)]


def _jitter(ctx: Ctx, client: int) -> int:
    """Small vertical offset so the tokens of a grouped row read as a crowd, not a bar."""
    _names, rows, shared = _rows(ctx)
    if rows.get(client, 0) not in shared:
        return 0  # a client with a row of its own
    return ((client % 3) - 1) * ctx.layout.px(3)


def token_size(ctx: Ctx) -> tuple[int, int]:
    return ctx.layout.px(16), ctx.layout.px(9)


def draw_static(ctx: Ctx, surf: pygame.Surface) -> None:
    """Lane lines of the network (they do not change during a replay)."""
    names, _ = client_rows(ctx)
    net = ctx.layout.body("network")
    off = ctx.layout.px(8)
    for y in row_centers(ctx, len(names)) if names else []:
        pygame.draw.line(surf, FAINT, (net.x, y - off), (net.right, y - off), 1)
        pygame.draw.line(surf, FAINT, (net.x, y + off), (net.right, y + off), 1)
    # Label colours are tints, never the exact token colours (tests count token pixels).
    ctx.blit_text(surf, "request →", (net.x + 2, net.bottom - 2), 10, lerp(REQUEST, TEXT, 0.3),
                  anchor="bottomleft")
    ctx.blit_text(surf, "← reply", (net.right - 2, net.bottom - 2), 10, lerp(REPLY, TEXT, 0.3),
                  anchor="bottomright")


def draw(ctx: Ctx, surf: pygame.Surface) -> None:
    lay, rp, t = ctx.layout, ctx.replay, ctx.t
    names, rows = client_rows(ctx)
    ys = row_centers(ctx, len(names))
    body = lay.body("clients")
    row_h = body.h / max(1, len(names))
    box_h = min(round(row_h) - lay.px(8), lay.px(46))

    # Which rows have a request outstanding (sent, reply not yet received).
    waiting: dict[int, int] = {}
    for _s, _e, r in rp.waiting.active(t):
        row = rows.get(r.client, 0)  # type: ignore[attr-defined]
        waiting[row] = waiting.get(row, 0) + 1
    # ... and which have replies in their socket that their own busy loop has not read yet
    unread: dict[int, int] = {}
    for _s, _e, r in rp.unread.active(t):
        row = rows.get(r.client, 0)  # type: ignore[attr-defined]
        unread[row] = unread.get(row, 0) + 1
    if not names:
        ctx.blit_text(surf, "no clients in this trace", body.topleft, 11, DIM)
    for i, (name, y) in enumerate(zip(names, ys, strict=False)):
        box = pygame.Rect(body.x + 2, y - box_h // 2, body.w - 4, box_h)
        pygame.draw.rect(surf, PANEL, box, border_radius=lay.px(5))
        col = CLIENT_COLORS[i % len(CLIENT_COLORS)]
        pygame.draw.rect(surf, col, (box.x, box.y, lay.px(5), box.h))
        busy = waiting.get(i, 0)
        pygame.draw.rect(surf, REQUEST if busy else FAINT, box, 1 + (1 if busy else 0),
                         border_radius=lay.px(5))
        ctx.blit_text(surf, name, (box.x + lay.px(10), box.y + lay.px(4)), 12, TEXT, "bold",
                      max_w=box.w - lay.px(14))
        status = f"waiting for {busy} repl{'y' if busy == 1 else 'ies'}" if busy else "working"
        if unread.get(i):
            status += f", {unread[i]} unread (its loop is busy)"
        ctx.blit_text(surf, status, (box.x + lay.px(10), box.bottom - lay.px(4)), 10,
                      REQUEST if busy else DIM, anchor="bottomleft")

    # Network: requests move right, replies move left, each on its client's row.
    net = lay.body("network")
    tw, th = token_size(ctx)
    off = lay.px(8)
    n_req = 0
    drawn: set[tuple[int, int]] = set()  # tokens on the same pixel are drawn once
    for s, e, r in rp.net_out.active(t):
        # No arrival in the trace (e.g. it was cut off): park the token at the server's end.
        f = (t - s) / (e - s) if e > s and e != float("inf") else 1.0
        x = net.x + round(f * (net.w - tw))
        y = ys[rows.get(r.client, 0)] - off + _jitter(ctx, r.client)  # type: ignore[attr-defined]
        n_req += 1
        if (x, y) not in drawn:
            drawn.add((x, y))
            pygame.draw.rect(surf, REQUEST, (x, y - th // 2, tw, th), border_radius=2)
    n_rep = 0
    for s, e, r in rp.net_back.active(t):
        f = (t - s) / (e - s) if e > s and e != float("inf") else 1.0
        x = net.right - tw - round(f * (net.w - tw))
        y = ys[rows.get(r.client, 0)] + off + _jitter(ctx, r.client)  # type: ignore[attr-defined]
        n_rep += 1
        if (x, y) not in drawn:
            drawn.add((x, y))
            pygame.draw.rect(surf, REPLY, (x, y - th // 2, tw, th), border_radius=2)
    ctx.stats["net_requests"] = n_req
    ctx.stats["net_replies"] = n_rep

    # Socket queue: arrived batches not yet read, oldest at the top.
    q = lay.body("queue")
    queued = sorted(rp.sock_queue.active(t), key=lambda a: a[0])
    pitch = lay.px(15)
    slot_h = lay.px(10)
    cap = max(0, (q.h - lay.px(44)) // pitch)
    stripe = lay.px(4)
    for k, (_s, _e, r) in enumerate(queued[:cap]):
        y = q.y + lay.px(4) + k * pitch
        ci = rows.get(r.client, 0)  # type: ignore[attr-defined]
        pygame.draw.rect(surf, CLIENT_COLORS[ci % len(CLIENT_COLORS)],
                         (q.x + 2, y, stripe, slot_h))
        pygame.draw.rect(surf, REQUEST, (q.x + 2 + stripe + 2, y, q.w - stripe - 8, slot_h),
                         border_radius=2)
    ctx.stats["queue_requests"] = min(len(queued), cap)
    ctx.stats["queue_total"] = len(queued)
    if len(queued) > cap:
        ctx.blit_text(surf, f"+{len(queued) - cap} more", (q.centerx, q.bottom - lay.px(28)),
                      10, TEXT, anchor="midbottom")
    label = f"{len(queued)} waiting" if queued else "empty"
    ctx.blit_text(surf, label, (q.centerx, q.bottom - 2), 10, TEXT if queued else DIM,
                  anchor="midbottom")
    if queued:
        oldest = t - queued[0][0]
        ctx.blit_text(surf, f"oldest {fmt_time(oldest)}", (q.centerx, q.bottom - lay.px(14)), 9, DIM,
                      anchor="midbottom")
