"""What the view is given: a trace plus the few facts about the run the HUD prints.

The view replays ``redissim.sim.trace.Trace`` (the model's bounded event log, written by the
event loop in ``server/eventloop.py``, which mirrors ``ae.c:aeProcessEvents`` and
``server.c:beforeSleep``). It never runs or steers the simulation, so everything it needs
travels in one plain dataclass, :class:`ViewInput`, which the engine (or the synthetic
``demo_trace`` generator) fills in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redissim.sim import trace as _tr
from redissim.sim.trace import Trace

#: Kinds only the event loop emits, in time order (see ViewInput.end_time).
_LOOP_KINDS = frozenset({_tr.K_ITER, _tr.K_READ, _tr.K_EXEC, _tr.K_CRON, _tr.K_BEFORE_SLEEP,
                         _tr.K_WRITE, _tr.K_IDLE})


def _title(scenario: Any, traced: int | None = None) -> str:
    """The scenario's name; for a cluster, which master the picture follows (its trace,
    its keys and its memory)."""
    name = str(getattr(scenario, "name", "redissim"))
    cluster = getattr(scenario, "cluster", None)
    if cluster is not None and cluster.masters > 1 and traced is not None:
        name += f" · master {traced} of {cluster.masters}"
    return name


@dataclass(frozen=True)
class Caption:
    """Narration shown under the scene.

    Exactly one trigger: ``at`` (simulated seconds) or ``on`` (a trace kind such as
    ``"evict"``, or ``"exec:KEYS"`` for the first execution of a named command). The caption
    stays up until the next caption's trigger time, or for ``hold_s`` simulated seconds if
    given.
    """

    text: str
    at: float | None = None
    on: str | None = None
    hold_s: float | None = None

    def __post_init__(self) -> None:
        if (self.at is None) == (self.on is None):
            raise ValueError("a Caption needs exactly one of `at` or `on`")


@dataclass(frozen=True)
class ServerSettings:
    """redis.conf values the HUD prints (names as in redis.conf)."""

    hz: int = 10
    maxmemory: int = 0  # bytes; 0 = no limit
    maxmemory_policy: str = "noeviction"
    maxmemory_samples: int = 5
    appendonly: bool = False
    appendfsync: str = "everysec"


@dataclass
class ViewInput:
    """Everything the view replays.

    * ``trace`` -- the event trace (``sim/trace.py`` format).
    * ``client_labels`` -- client id -> label ("FastAPI server 1"); ids not named are drawn
      as "client <id>".
    * ``captions`` -- narration (:class:`Caption`).
    * ``settings`` -- what the HUD prints about the server.
    * ``keys`` -- optional keyspace layout for the grid, in the order to draw them; when
      ``None`` the grid shows keys in the order the trace first mentions them.
    * ``key_bytes`` -- optional mean memory per key (``MEMORY USAGE`` plus dict overhead);
      with ``settings.maxmemory`` it turns the live-key count into the memory bar. If
      ``memory`` samples are given they win.
    * ``memory`` -- optional ``(t, used_memory bytes)`` samples from the metrics time series.
    * ``dbsize`` -- optional ``(t, keys)`` samples: what DBSIZE said (the metrics time series,
      or the end of a run too short for one). The grid shows only the keys the trace
      touched; this is how many there were.
    * ``duration_s`` -- simulated length of the run (defaults to the last event time).
    * ``start_s`` -- where the replay begins: the trace's ``start`` (events before it were
      not recorded), 0 for a trace of the whole run.
    * ``title`` -- scenario name for the title bar.
    """

    trace: Trace
    client_labels: dict[int, str] = field(default_factory=dict)
    captions: list[Caption] = field(default_factory=list)
    settings: ServerSettings = field(default_factory=ServerSettings)
    keys: list[str] | None = None
    key_bytes: int | None = None
    memory: list[tuple[float, int]] | None = None
    dbsize: list[tuple[float, int]] | None = None
    duration_s: float | None = None
    start_s: float = 0.0
    title: str = "redissim"

    @classmethod
    def from_result(cls, result: Any, title: str | None = None,
                    captions: list[Caption] | None = None) -> ViewInput:
        """Build the view's input from an engine Result (``sim/engine.py``).

        Reads ``result.trace`` and ``result.client_labels``; settings come from the
        ``INFO`` sections in ``result.info`` when present; captions from the scenario's
        ``captions`` (``text``, ``at`` or ``event``) unless given.
        """
        if result.trace is None:
            raise ValueError("the Result has no trace: run simulate(..., trace=True)")
        info = getattr(result, "info", None) or {}
        flat: dict[str, Any] = {}
        for section in info.values() if isinstance(info, dict) else ():
            if isinstance(section, dict):
                flat.update(section)
        scenario = getattr(result, "scenario", None)
        if captions is None:
            captions = []
            for c in getattr(scenario, "captions", None) or []:
                ev = getattr(c, "event", None)
                at = getattr(c, "at", None)
                if ev is not None or at is not None:
                    captions.append(Caption(str(c.text), at=None if ev is not None else at,
                                            on=ev))
        aof = flat.get("aof_enabled", 0)
        settings = ServerSettings(
            hz=int(flat.get("hz", getattr(getattr(scenario, "server", None), "hz", 10))),
            maxmemory=int(flat.get("maxmemory", 0) or 0),
            maxmemory_policy=str(flat.get("maxmemory_policy", "noeviction")),
            appendonly=bool(int(aof)) if str(aof).isdigit() else bool(aof),
            appendfsync=str(flat.get("appendfsync", "everysec")),
        )
        memory = None
        series = getattr(result, "series", None)
        dbsize: list[tuple[float, int]] = []
        traced = (getattr(result, "extra", None) or {}).get("traced_series")
        if traced is not None:
            # a cluster: the keys and memory of the master the picture follows
            memory = [(t, int(u)) for t, _k, u in traced if u == u]
            dbsize = [(t, k) for t, k, _u in traced]
        if series is not None and "used_memory" in series.columns and traced is None:
            cols = series.to_dict()
            memory = [(t, int(u)) for t, u in zip(cols["t"], cols["used_memory"], strict=True)
                      if u == u]  # NaN when the run did not track memory
        if series is not None and "dbsize" in series.columns and traced is None:
            cols = series.to_dict()
            dbsize = [(t, int(n)) for t, n in zip(cols["t"], cols["dbsize"], strict=True)]
        extra = getattr(result, "extra", None) or {}
        if not dbsize and extra.get("cluster") and extra.get("traced_master"):
            # a run shorter than one sampling interval: the count at its end (a cluster's:
            # the followed master's)
            dbsize = [(float(getattr(result, "sim_time", 0.0)),
                       int(extra["cluster"][extra["traced_master"] - 1]["keys"]))]
        elif not dbsize and isinstance(info, dict) and isinstance(info.get("keyspace"), dict):
            # a run shorter than one sampling interval: the count at its end
            from redissim.sim.engine import info_keys
            dbsize = [(float(getattr(result, "sim_time", 0.0)), info_keys(info))]
        return cls(
            trace=result.trace,
            client_labels=dict(getattr(result, "client_labels", {}) or {}),
            captions=captions,
            settings=settings,
            memory=memory or None,
            dbsize=dbsize or None,
            duration_s=None,
            start_s=float(getattr(result.trace, "start", 0.0)),
            title=title or _title(scenario, getattr(result, "extra", {}).get("traced_master")),
        )

    def end_time(self) -> float:
        """Simulated end of the replay: ``duration_s``, else the last event's time.

        A truncated trace (``Trace.truncated``) stopped recording when it filled up, but
        some emitters record ahead of time (a client's next send is emitted when it is
        scheduled), so after the event loop's last recorded event the picture is
        incomplete: the replay then ends at the loop's last event.
        """
        if self.duration_s is not None:
            return float(self.duration_s)
        if not self.trace.events:
            return 0.0
        if self.trace.truncated:
            loop = [e[0] for e in self.trace.events if e[1] in _LOOP_KINDS]
            if loop:
                return max(loop)
        return max(e[0] for e in self.trace.events)
