"""A run reported as memtier_benchmark reports one: the ``ALL STATS`` table, the request
latency distribution, and the ``--json-out-file`` document.

Engineers who size Redis deployments keep scripts that read memtier_benchmark's output
(RedisLabs/memtier_benchmark, ``run_stats.cpp``: ``run_stats::print``, ``print_json``,
``result_print_to_json``, ``print_histogram``). Printing the simulated run in the same
layout lets them put it beside a measured one, or feed it to the same scripts:

* the table has one row per command type -- ``Sets``, ``Gets``, ``Waits`` and ``Totals``
  when only SET and GET were sent (memtier's default mode, with the ``Hits/sec`` and
  ``Misses/sec`` of GETs), otherwise one row per command (``Incrs``, ...) as memtier's
  ``--command`` mode prints them; rates are per second of the whole test, latencies in
  milliseconds from the HdrHistogram arithmetic memtier uses (:mod:`redissim.sim.hdr`:
  integer microseconds, 2 significant figures), percentiles memtier's default
  ``--print-percentiles 50,99,99.9``;
* the JSON has the same sections and keys (``run information``, ``ALL STATS`` with
  ``Runtime``, one object per type with its ``Time-Serie`` per second and ``Percentile
  Latencies``, and the distribution lists).

The counts come from :class:`redissim.sim.client_stats.ClientStats`, which sees every
workload's requests: the simulated clients together play memtier's part.
What memtier prints and this does not: the ``configuration`` section (there is no
command line to echo), ``MOVED/sec`` and ``ASK/sec`` (no cluster model), and
``Connection Errors`` other than 0 (requests a simulated crash drops are not counted as
such).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from redissim.sim.client_stats import ClientStats, TypeStats
from redissim.sim.clock import unix_ms
from redissim.sim.engine import Result
from redissim.sim.hdr import HdrHistogram

#: memtier's default --print-percentiles
PERCENTILES = (50.0, 99.0, 99.9)
DEFAULT_TYPES = ("SET", "GET")


def client_stats(res: Result) -> ClientStats:
    """The run's client-side counts (the run must have been made with client_stats=True)."""
    cs = res.extra.get("client_stats")
    if cs is None:
        raise ValueError("this run kept no client statistics (simulate with client_stats=True)")
    return cs


def _row_name(cmd: str) -> str:
    """memtier's row title of a command: ``INCR`` -> ``Incrs``."""
    return cmd.lower().capitalize() + "s"


def _percentile_label(q: float) -> str:
    """The column title of a percentile: as few decimals as it needs, at most 3."""
    digits = 0
    frac = abs(q) - int(abs(q))
    while abs(frac) > 0.001 and digits < 3:
        frac = frac * 10
        digits += 1
        frac -= int(frac)
    return f"p{q:.{digits}f} Latency"


class _Report:
    """The numbers of one run, shaped as memtier's tables and JSON take them."""

    def __init__(self, res: Result, percentiles: tuple[float, ...] = PERCENTILES):
        cs = client_stats(res)
        self.res = res
        self.cs = cs
        self.percentiles = percentiles
        self.default_mode = all(name in DEFAULT_TYPES for name in cs.totals)
        #: memtier's --cluster-mode adds MOVED/sec and ASK/sec; memtier knows the slot map
        #: and it never changes here, so both are 0 (``routing: redirect`` is redis-cli
        #: -c's way, not memtier's: reported as memtier, its MOVED replies count as ops)
        self.cluster_mode = res.scenario.cluster is not None
        self.types = list(DEFAULT_TYPES) if self.default_mode else list(cs.totals)
        self.duration = cs.duration
        self.hist = {name: HdrHistogram(cs.latencies(name)) for name in cs.totals}
        self.total_hist = HdrHistogram(cs.latencies())
        self.total = TypeStats()
        for st in cs.totals.values():
            for f in ("ops", "bytes_tx", "bytes_rx", "hits", "misses", "errors"):
                setattr(self.total, f, getattr(self.total, f) + getattr(st, f))

    def _hist(self, name: str) -> HdrHistogram:
        """A type's histogram (an empty one for a type never sent: memtier's WAIT)."""
        h = self.hist.get(name)
        return h if h is not None else HdrHistogram(np.zeros(0, dtype=np.int64))

    def rate(self, n: float) -> float:
        return n / self.duration if self.duration > 0 else 0.0

    def kb_rate(self, st: TypeStats) -> float:
        return self.rate((st.bytes_rx + st.bytes_tx) / 1024.0)

    def stats(self, name: str) -> TypeStats:
        return self.cs.totals.get(name) or TypeStats()

    # -- the table -----------------------------------------------------------------------
    def table(self, header: str = "ALL STATS") -> str:
        # memtier sizes the type column by its --command names (none in the default mode)
        longest = 0 if self.default_mode else max((len(t) for t in self.types), default=0)
        width = max(6, longest) + 1
        cols: list[list[str]] = []
        rows = [_row_name(t) for t in self.types]
        if self.default_mode:
            rows.append("Waits")
        rows.append("Totals")
        cols.append([f"{'Type':<{width}} ", "-" * (width + 1)] + [f"{r:<{width}} " for r in rows])
        ops = [self.rate(self.stats(t).ops) for t in self.types]
        if self.default_mode:
            ops.append(0.0)  # no WAIT commands
        ops.append(self.rate(self.total.ops))
        cols.append([_s(12, "Ops/sec"), "-" * 13] + [_f(12, x, 2) for x in ops])
        if self.default_mode:
            for title, n in (("Hits/sec", self.total.hits), ("Misses/sec", self.total.misses)):
                cols.append([_s(12, title), "-" * 13, _s(12, "---"), _f(12, self.rate(n), 2),
                             _s(12, "---"), _f(12, self.rate(n), 2)])
        if self.cluster_mode:
            for title in ("MOVED/sec", "ASK/sec"):
                zeros = [_f(12, 0.0, 2) for _ in self.types]
                if self.default_mode:
                    zeros.append(_s(12, "---"))  # Waits
                cols.append([_s(12, title), "-" * 13, *zeros, _f(12, 0.0, 2)])
        cols.append(self._latency_column("Avg. Latency", lambda h: h.mean()))
        for q in self.percentiles:
            cols.append(self._latency_column(_percentile_label(q),
                                             lambda h, q=q: float(h.value_at_percentile(q))))
        kb = [_f(12, self.kb_rate(self.stats(t)), 2) for t in self.types]
        if self.default_mode:
            kb.append(_s(12, "---"))
        kb.append(_f(12, self.kb_rate(self.total), 2))
        cols.append([_s(12, "KB/sec"), "-" * 13] + kb)
        sizes = [width, *(len(c[1]) - 1 for c in cols[1:])]
        out = ["", "", header, "".join("=" * (s + 1) for s in sizes)]
        for i in range(len(cols[0])):
            out.append("".join(c[i] for c in cols))
        return "\n".join(out) + "\n"

    def _latency_column(self, title: str, value: Any) -> list[str]:
        col = [_s(15, title), "-" * 16]
        for t in self.types:
            h = self.hist.get(t)
            if h is None or not h.total:
                col.append(_s(15, "---"))
            else:
                col.append(_f(15, value(h) / 1000.0, 5))
        if self.default_mode:
            col.append(_s(15, "---"))  # Waits
        col.append(_f(15, value(self.total_hist) / 1000.0, 5))
        return col

    # -- the distribution ----------------------------------------------------------------
    def distribution(self) -> str:
        out = ["", "", "Request Latency Distribution",
               f"{'Type':<6} {'<= msec   ':>12} {'Percent':>12}", "-" * 72]
        names = self.types + (["WAIT"] if self.default_mode else [])
        for i, name in enumerate(names):
            for v, p, _ in self._hist(name).percentiles():
                out.append(f"{name:<6} {v / 1000.0:8.3f} {p:12.3f}")
            if i < len(names) - 1 or not self.default_mode:
                out.append("---")
        return "\n".join(out) + "\n"

    # -- JSON ----------------------------------------------------------------------------
    def document(self, header: str = "ALL STATS") -> dict[str, Any]:
        cs = self.cs
        start = unix_ms(cs.t_start) if cs.t_start is not None else 0
        end = unix_ms(cs.t_end)
        section: dict[str, Any] = {"Runtime": {
            "Start time": start, "Finish time": end, "Total duration": end - start,
            "Time unit": "MILLISECONDS", "Interrupted": "false"}}
        for t in self.types:
            section[_row_name(t)] = self._type_json(t, self.stats(t), self.hist.get(t))
        if self.default_mode:
            section["Waits"] = self._type_json("WAIT", TypeStats(), None)
        section["Totals"] = self._type_json(None, self.total, self.total_hist)
        for name in self.types + (["WAIT"] if self.default_mode else []):
            section[name] = [{"<=msec": _num(v / 1000.0, 3), "percent": _num(p, 3)}
                             for v, p, _ in self._hist(name).percentiles()]
        return {"run information": self.run_information(), header: section}

    def _type_json(self, name: str | None, st: TypeStats, h: HdrHistogram | None
                   ) -> dict[str, Any]:
        has = h is not None and h.total > 0
        lat_sum_us = int(self.cs.latencies(name).sum())
        avg = lat_sum_us / st.ops / 1000.0 if st.ops else 0.0
        hits = st.hits if name in (None, "GET") else 0
        misses = st.misses if name in (None, "GET") else 0
        kb_rx = self.rate(st.bytes_rx / 1024.0)
        kb_tx = self.rate(st.bytes_tx / 1024.0)
        d: dict[str, Any] = {
            "Count": st.ops,
            "Ops/sec": _num(self.rate(st.ops), 2),
            "Hits/sec": _num(self.rate(hits), 2),
            "Misses/sec": _num(self.rate(misses), 2),
            **({"MOVED/sec": 0.0, "ASK/sec": 0.0} if self.cluster_mode else {}),
            "Connection Errors/sec": 0.0,
            "Connection Errors": 0,
            "Latency": _num(avg, 3),
            "Average Latency": _num(avg, 3),
            "Accumulated Latency": lat_sum_us // 1000,
            "Min Latency": _num(h.min() / 1000.0, 3) if has and h is not None else 0.0,
            "Max Latency": _num(h.max() / 1000.0, 3) if has and h is not None else 0.0,
            "KB/sec": _num(kb_rx + kb_tx, 2),
            "KB/sec RX/TX": _num(kb_rx + kb_tx, 2),
            "KB/sec RX": _num(kb_rx, 2),
            "KB/sec TX": _num(kb_tx, 2),
            "Time-Serie": self._time_serie(name),
            "Percentile Latencies": {
                **{_json_percentile(q): _num((h.value_at_percentile(q) if has and h is not None
                                              else 0) / 1000.0, 3) for q in self.percentiles},
                "Histogram log format": {
                    "Compressed Histogram": (h if h is not None else self._hist("WAIT")).encode()},
            },
        }
        return d

    def _time_serie(self, name: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for sec in sorted(self.cs.seconds):
            per = self.cs.seconds[sec]
            sts = list(per.values()) if name is None else [per[name]] if name in per else []
            ops = sum(s.ops for s in sts)
            row: dict[str, Any] = {"Bytes RX": sum(s.bytes_rx for s in sts),
                                   "Bytes TX": sum(s.bytes_tx for s in sts), "Count": ops}
            if ops:
                lat = np.concatenate([np.frombuffer(s.latency_us, dtype=np.int64) for s in sts])
                h = HdrHistogram(lat)
                row.update({
                    "Average Latency": _num(float(lat.sum()) / ops / 1000.0, 3),
                    "Accumulated Latency": int(lat.sum()) // 1000,
                    "Min Latency": _num(int(lat.min()) / 1000.0, 3),
                    "Max Latency": _num(int(lat.max()) / 1000.0, 3),
                })
                for q in self.percentiles:
                    row[f"p{q:.2f}"] = _num(h.value_at_percentile(q) / 1000.0, 3)
            out[str(sec)] = row
        return out

    def run_information(self) -> dict[str, Any]:
        threads, per_thread, per_client = _threads(self.res)
        info: dict[str, Any] = {"Threads": threads, "Connections per thread": per_thread}
        if per_client is not None:
            info["Requests per client"] = per_client
        else:
            info["Seconds"] = int(round(self.duration))
        info["Format version"] = 2
        return info

    def header_lines(self) -> str:
        threads, per_thread, per_client = _threads(self.res)
        last = f"{per_client:<9} Requests per client" if per_client is not None \
            else f"{int(round(self.duration)):<9} Seconds"
        return f"{threads:<9} Threads\n{per_thread:<9} Connections per thread\n{last}\n"


def _threads(res: Result) -> tuple[int, int, int | None]:
    """memtier's run information: threads, connections per thread, and requests per
    connection when every workload is benchmark-like (no script or SCAN walker) with a request
    count that divides evenly (else None: memtier's --test-time form, "Seconds").

    Threads are the workloads' ``client-threads`` when they all have the same number and it
    divides the connections (memtier-defaults: 4 x 50), else 1 thread with every connection.
    """
    clients = requests = 0
    every_counted = True
    threads = set()
    for wl in res.scenario.workloads:
        if wl.type in ("script", "scan"):
            clients += 1  # (one connection, its own commands: not memtier-like requests)
            every_counted = False
            continue
        clients += wl.clients
        threads.add(wl.client_threads)
        if wl.requests:
            requests += wl.requests
        else:
            every_counted = False
    t = threads.pop() if len(threads) == 1 else 1
    if not clients or clients % t:
        t = 1
    per_client = requests // clients if clients and every_counted and requests % clients == 0 \
        else None
    return t, clients // t, per_client


def _s(width: int, text: str) -> str:
    """A right-aligned table cell and its trailing space (memtier's ``%<width>s ``)."""
    return f"{text:>{width}} "


def _f(width: int, x: float, digits: int) -> str:
    """A number cell (memtier's ``%<width>.<digits>f ``)."""
    return f"{x:{width}.{digits}f} "


def _json_percentile(q: float) -> str:
    """The key of a percentile in ``Percentile Latencies``: memtier formats ``p%.3f`` into an
    8-byte buffer limited to 7, so what a real run writes (and scripts read) is the first
    6 characters: ``p50.00``, ``p99.90``."""
    return f"p{q:.3f}"[:6]


def _num(x: float, digits: int) -> float:
    """A float rounded as memtier's ``%.<digits>f`` prints it (0.0 for NaN)."""
    return 0.0 if math.isnan(x) else round(float(x), digits)


def memtier_text(res: Result, *, histogram: bool = True) -> str:
    """memtier_benchmark's stdout after a run: threads and connections, ``ALL STATS`` and
    (unless ``histogram`` is False, memtier's --hide-histogram) the latency distribution."""
    rep = _Report(res)
    text = rep.header_lines() + rep.table()
    if histogram:
        text += rep.distribution()
    return text


def memtier_json(res: Result) -> dict[str, Any]:
    """The document memtier_benchmark writes with --json-out-file (one run)."""
    return _Report(res).document()
