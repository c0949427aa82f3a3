"""The pygame view: replays a run's event trace (``sim/trace.py``) as an animated scene.

It draws lesson 12.1's picture of Redis — clients, the network, the socket queue, the
single-threaded event loop (``ae.c:aeProcessEvents`` with ``serverCron`` and
``beforeSleep``), the keyspace with eviction and expiry, AOF/RDB persistence and a
PostgreSQL pipeline on the same clock — from the trace alone. It never drives the
simulation, so headless exports are frame-for-frame reproducible.

Public API (import from the submodules to keep ``import redissim`` free of pygame)::

    from redissim.view.model import ViewInput, Caption, ServerSettings
    from redissim.view.animate import run_window, export, text_progress

    vi = ViewInput.from_result(result)            # result = simulate(scenario, trace=True)
    run_window(vi, speed=1e-3, size=(1280, 720))  # interactive
    n = export(vi, "out.mp4", fps=30, size=(1280, 720), speed=1e-3, duration=30,
               progress=text_progress())          # or out.gif, or a directory/
"""
