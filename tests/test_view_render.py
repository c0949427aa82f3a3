"""Headless rendering of the scene: hundreds of frames, panel placement, token counts."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

import pygame  # noqa: E402
import pytest  # noqa: E402

from redissim.sim import trace as tr  # noqa: E402
from redissim.view.demo_trace import demo_view_input  # noqa: E402
from redissim.view.layout import FRAMED, Layout  # noqa: E402
from redissim.view.model import ViewInput  # noqa: E402
from redissim.view.panels import common, keyspace  # noqa: E402
from redissim.view.replay import PHASES_ALL  # noqa: E402
from redissim.view.scene import Scene  # noqa: E402


@pytest.fixture(scope="module")
def demo():
    vi = demo_view_input(seed=0, duration_s=0.04)
    return vi, Scene(vi)


@pytest.mark.parametrize(
    "kw",
    [
        {"seed": 1},
        {"seed": 2, "n_clients": 12},  # more clients than rows: the last row groups them
        {"seed": 4, "with_fork": False, "with_postgres": False, "with_keys_command": False},
    ],
)
def test_render_a_hundred_frames_of_each_synthetic_trace(kw):
    vi = demo_view_input(duration_s=0.03, **kw)
    scene = Scene(vi)
    surf = pygame.Surface(scene.size)
    end = vi.end_time()
    drew_tokens = 0
    for i in range(100):
        stats = scene.render(surf, end * i / 99, speed=1e-3)
        drew_tokens += stats["net_requests"] + stats["queue_total"]
    assert drew_tokens > 0


def test_empty_trace_and_odd_sizes_render():
    vi = ViewInput(trace=tr.Trace())
    for size in ((1280, 720), (800, 450), (1600, 900), (333, 211)):
        scene = Scene(vi, size)
        surf = scene.frame(0.0, 1e-3)
        assert surf.get_size() == Layout(size).size


def _rgb(surf, x, y):
    return tuple(surf.get_at((x, y)))[:3]


@pytest.mark.parametrize("size", [(1280, 720), (960, 540)])
def test_each_panel_is_drawn_where_the_layout_puts_it(size):
    vi = demo_view_input(seed=0, duration_s=0.04)
    scene = Scene(vi, size)
    t = 0.0205  # inside the fork stall: the loop shows the fork phase
    surf = scene.frame(t, 1e-3)
    lay = Layout(size)
    for name in FRAMED:
        r = lay[name]
        # The 1-px frame is on the rectangle's edges; just outside is background.
        assert _rgb(surf, r.x, r.centery) == common.BORDER, name
        assert _rgb(surf, r.right - 1, r.centery) == common.BORDER, name
        assert _rgb(surf, r.centerx, r.bottom - 1) == common.BORDER, name
        if r.x >= 2:
            assert _rgb(surf, r.x - 2, r.centery) == common.BG, name
    # Panel-specific colours appear inside their panel and not in an unrelated one.
    phase = scene.replay.phase_at(t)[0]
    assert phase == "fork"

    def count(name, color):
        r = lay[name]
        sub = surf.subsurface(r)
        mask = pygame.mask.from_threshold(sub, color, (1, 1, 1, 255))
        return mask.count()

    assert count("loop", common.PHASE_COLORS["fork"]) > 0
    assert count("keyspace", keyspace.EMPTY) > 0  # absent-key cells
    assert count("loop", keyspace.EMPTY) == 0
    # Memory is near maxmemory at this point: the bar is orange or red.
    assert count("keyspace", common.REQUEST) + count("keyspace", common.EVICT) > 500
    assert count("persistence", common.COW) > 0  # fork stall message in the RDB lane
    assert count("postgres", common.PG) > 0
    assert count("hud", common.REQUEST) > 0
    assert count("clients", common.PG) == 0
    # The caption bar shows the fork narration.
    assert _rgb(surf, lay["caption"].x + 1, lay["caption"].centery) == common.REQUEST


def _components(surf, rect, color):
    sub = surf.subsurface(rect)
    mask = pygame.mask.from_threshold(sub, color, (1, 1, 1, 255))
    return len(mask.connected_components(minimum=6))


def _expected_tokens(events, t):
    """From the raw trace: batches on the network and batches queued at the socket at t."""
    on_net = queued = 0
    clients = {e[2] for e in events if e[1] == tr.K_SEND}
    for c in clients:
        sends = [e[0] for e in events if e[2] == c and e[1] == tr.K_SEND]
        arrives = [e[0] for e in events if e[2] == c and e[1] == tr.K_ARRIVE]
        reads = [e[0] for e in events if e[2] == c and e[1] == tr.K_READ]
        for k, s in enumerate(sends):
            a = arrives[k] if k < len(arrives) else float("inf")
            if s <= t < a:
                on_net += 1
            elif a <= t and not any(a <= r <= t for r in reads):
                queued += 1
    return on_net, queued


def test_request_tokens_drawn_match_the_trace(demo):
    vi, scene = demo
    events = vi.trace.sorted_events()
    lay = scene.layout
    # Probe times: just after sends (tokens in flight) and during the KEYS stall (queued).
    sends = [e[0] for e in events if e[1] == tr.K_SEND]
    keys_t = next(e[0] for e in events if e[1] == tr.K_EXEC and e[3][0] == "KEYS")
    probes = [sends[k] + 2e-5 for k in range(0, len(sends), max(1, len(sends) // 25))]
    probes += [keys_t + 1e-3, keys_t + 3e-3]
    saw_net = saw_queue = 0
    surf = pygame.Surface(scene.size)
    for t in probes:
        stats = scene.render(surf, t, 1e-3)
        want_net, want_q = _expected_tokens(events, t)
        got_net = _components(surf, lay.body("network"), common.REQUEST)
        got_q = _components(surf, lay.body("queue"), common.REQUEST)
        assert (got_net, got_q) == (want_net, want_q), t
        assert stats["net_requests"] == want_net and stats["queue_total"] == want_q
        saw_net += want_net
        saw_queue += want_q
    assert saw_net > 10 and saw_queue >= 2  # the probes did exercise both places


def test_loop_phase_is_highlighted(demo):
    vi, scene = demo
    events = vi.trace.sorted_events()
    t_exec = next(e[0] for e in events if e[1] == tr.K_EXEC and e[3][0] == "KEYS") + 1e-4
    stats = scene.render(pygame.Surface(scene.size), t_exec, 1e-3)
    assert PHASES_ALL[stats["loop_phase"]] == "execute"


def test_frames_do_not_depend_on_anything_but_inputs(demo):
    vi, _ = demo
    a = Scene(vi).frame(0.012, 2e-3)
    b = Scene(vi).frame(0.012, 2e-3)
    c = Scene(vi).frame(0.013, 2e-3)
    ba, bb, bc = (pygame.image.tobytes(s, "RGB") for s in (a, b, c))
    assert ba == bb and ba != bc


def _rows_of(labels: list[str]) -> tuple[list[str], dict[int, int]]:
    from types import SimpleNamespace

    from redissim.view.panels.clients import client_rows
    rp = SimpleNamespace(clients=list(range(len(labels))),
                         vi=SimpleNamespace(client_labels=dict(enumerate(labels))))
    return client_rows(SimpleNamespace(replay=rp))  # type: ignore[arg-type]


def test_client_rows_are_shared_out_between_workloads():
    """Two workloads of 50 connections and a script: each workload keeps rows of its own
    (a second workload is not hidden behind the first one's clients), within 8 rows."""
    labels = [f"INCR {i + 1}" for i in range(50)] + [f"GET+SET {i + 1}" for i in range(50)] \
        + ["redis-cli"]
    names, rows = _rows_of(labels)
    assert names == ["INCR 1", "INCR 2", "INCR 3", "47 more INCR",
                     "GET+SET 1", "GET+SET 2", "48 more GET+SET", "redis-cli"]
    assert rows[0] == 0 and rows[3] == rows[49] == 3
    assert rows[50] == 4 and rows[52] == rows[99] == 6 and rows[100] == 7
    # one workload: the first seven clients and the rest; few clients: a row each
    names, rows = _rows_of([f"SET {i + 1}" for i in range(12)])
    assert names[-1] == "5 more clients" and rows[11] == 7
    names, rows = _rows_of(["a", "b 1", "b 2"])
    assert names == ["a", "b 1", "b 2"] and rows == {0: 0, 1: 1, 2: 2}
    # more workloads than rows: a shared last row
    names, rows = _rows_of([f"w{i} 1" for i in range(10)])
    assert len(names) == 8 and names[-1] == "3 more clients"
