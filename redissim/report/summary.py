"""Results as redis-benchmark prints them, and as JSON/CSV for scripts.

The text block copies the layout of ``redis-benchmark`` (``src/redis-benchmark.c``, default
output, ``showLatencyReport``): a ``====== NAME ======`` header, requests, clients, payload,
the host configuration lines, the latency distributions by percentile and cumulative, then
``throughput summary`` and ``latency summary (msec)`` with avg, min, p50, p95, p99, max, so an
engineer can put a simulated run beside a measured one. Its latencies are read as
redis-benchmark reads its own: whole microseconds in an HdrHistogram of 3 significant
figures (sim/hdr.py), so they print the digits it would print; the JSON keeps the
simulator's own histogram's estimates (within 0.25 % of the exact quantile; HDR's highest
equivalent value is up to a bucket above: 8 us below 16 ms, under 0.1 % beyond). The CSV
header is redis-benchmark's ``--csv`` header.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from redissim.sim.engine import Result, info_keys
from redissim.sim.hdr import HdrHistogram
from redissim.sim.metrics import LatencyHistogram

INFO_SHOWN = {
    "stats": ("total_commands_processed", "instantaneous_ops_per_sec", "total_reads_processed",
              "total_writes_processed", "total_net_input_bytes", "total_net_output_bytes",
              "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys",
              "eventloop_cycles", "eventloop_duration_sum", "eventloop_duration_cmd_sum",
              "total_error_replies"),
    "server": ("hz",),
    "memory": ("used_memory", "used_memory_dataset"),
    # the kernel's part of the main thread's CPU and the process's own
    "cpu": ("used_cpu_sys_main_thread", "used_cpu_user_main_thread"),
}
CSV_HEADER = ["test", "rps", "avg_latency_ms", "min_latency_ms", "p50_latency_ms",
              "p95_latency_ms", "p99_latency_ms", "max_latency_ms"]


def _r(x: float, nd: int = 6) -> float:
    return float(round(x, nd))


def result_dict(res: Result) -> dict[str, Any]:
    """The JSON document of one run: stable keys, rounded floats (byte-identical per seed)."""
    workloads = []
    for wl in res.workloads:
        cmds = {}
        for c in wl.commands:
            lat = c.latency.summary_ms()
            cmds[c.label] = {
                "calls": c.calls,
                "throughput_rps": _r(c.throughput_rps, 2),
                "latency_ms": {k: _r(v) for k, v in lat.items()},
            }
        w: dict[str, Any] = {"name": wl.name, "type": wl.type, "clients": wl.clients,
                             "pipeline": wl.pipeline, "started_s": _r(wl.started, 9),
                             "finished_s": _r(wl.finished, 9), "commands": cmds}
        if wl.records:
            w["records"] = wl.records
        if wl.extra:
            w["extra"] = wl.extra
        workloads.append(w)
    # The flat per-command view the issue asks for: commands of every workload by label.
    per_command: dict[str, Any] = {}
    for w in workloads:
        for label, c in w["commands"].items():
            key = label if label not in per_command else f"{w['name']}:{label}"
            per_command[key] = c
    info = {k: v for sec in res.info.values() for k, v in sec.items()}
    doc_extra: dict[str, Any] = {}
    pg = res.extra.get("postgres")
    if pg is not None:
        doc_extra["postgres"] = {
            "stats": {k: (_r(v, 9) if isinstance(v, float) else v)
                      for k, v in pg.stats().items() if isinstance(v, int | float)},
            "breakdown": {k: _r(v, 9) for k, v in pg.breakdown().items()}}
    if res.extra.get("faults"):
        doc_extra["faults"] = res.extra["faults"]
    if res.extra.get("cluster"):
        # (``info`` is master 1's: the masters' own counters are here)
        doc_extra["cluster"] = [{k: _r(v, 6) if isinstance(v, float) else v
                                 for k, v in m.items()} for m in res.extra["cluster"]]
    if res.extra.get("cache_aside"):
        doc_extra["cache_aside"] = {n: {k: _r(v, 9) if isinstance(v, float) else v
                                        for k, v in c.items()}
                                    for n, c in res.extra["cache_aside"].items()}
    grid = res.extra.get("lru_grid")
    if grid is not None:
        doc_extra["lru_grid"] = {"old_keys": grid.old_keys, "new_keys": grid.new_keys,
                                 "evicted_old": grid.evicted_old,
                                 "evicted_older_half": grid.evicted_older_half,
                                 "evicted_new": grid.evicted_new, "score": _r(grid.score, 6)}
    return {**doc_extra,
        "scenario": res.scenario.name,
        "variant": res.variant,
        "seed": res.seed,
        "sim_time_s": _r(res.sim_time, 9),
        "commands": per_command,
        "workloads": workloads,
        "info": info,
        "series": {k: [None if x != x else _r(x, 6) for x in v]
                   for k, v in res.series.to_dict().items()},
    }


def to_json(results: list[Result]) -> str:
    docs = [result_dict(r) for r in results]
    doc: Any = docs[0] if len(docs) == 1 else {"scenario": results[0].scenario.name,
                                               "seed": results[0].seed, "variants": docs}
    return json.dumps(doc, indent=2, sort_keys=True, default=_default) + "\n"


def _default(o: Any) -> Any:
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    return str(o)


def to_csv(results: list[Result]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for res in results:
        for wl in res.workloads:
            for c in wl.commands:
                lat = benchmark_summary_ms(c.latency)
                name = c.label if res.variant is None else f"{res.variant} {c.label}"
                w.writerow([name, f"{c.throughput_rps:.2f}"] +
                           [f"{lat[k]:.3f}" for k in ("avg", "min", "p50", "p95", "p99", "max")])
    return buf.getvalue()


def comparison_text(results: list[Result]) -> str:
    """Variants side by side: throughput and latency of each, a log-scale bar of the p50,
    and for PostgreSQL runs the mean time per stage (the lesson's two-lane diagram)."""
    import math

    rows = []
    for res in results:
        for wl in res.workloads:
            for c in wl.commands:
                lat = c.latency.summary_ms()
                # (the workload's name too where several workloads could send the same one)
                op = c.label if len(res.workloads) == 1 or wl.name.upper() == c.label \
                    else f"{wl.name}: {c.label}"
                rows.append((res.variant or res.scenario.name, wl.name, op,
                             c.throughput_rps, lat))
    if not rows:
        return ""
    out = ["", "====== side by side ======",
           f"{'variant':<22} {'op':<14} {'ops/s':>13} {'p50':>9} {'p95':>9} {'p99':>9}"
           "  p50 on a log scale: 1 ns .. 1 s"]
    for variant, _wl, label, rps, lat in rows:
        p50 = lat["p50"] * 1e-3
        bar = "#" * max(1, round((math.log10(max(p50, 1e-9)) + 9) * 4)) if p50 > 0 else ""
        out.append(f"{variant[:22]:<22} {label[:14]:<14} {rps:>13,.0f} "
                   f"{_dur(lat['p50']):>9} {_dur(lat['p95']):>9} {_dur(lat['p99']):>9}  {bar}")
    for res in results:
        errors = error_counts(res)
        if errors:
            out.append(f"[{res.variant or res.scenario.name}] error replies: "
                       + ", ".join(f"{code} {n:,}" for code, n in errors.items()))
        pg = res.extra.get("postgres")
        if pg is not None and pg.queries:
            b = pg.breakdown()
            st = pg.stats()
            counts = ("buffer_hits", "os_cache_hits", "disk_reads")
            stages = ", ".join(f"{k} {v * 1e6:.1f}" for k, v in b.items()
                               if k not in counts and not k.endswith("_time_s")
                               and k != "response_s" and v > 0)
            tiers = ", ".join(f"{k} {b[k]:.2f}" for k in counts if k in b)
            elapsed = max(res.sim_time, 1e-9)
            cores = ", ".join(f"{busy / elapsed:.0%}" for busy in pg.core_busy_s)
            out.append(f"[{res.variant}] PostgreSQL per query (us): {stages}; "
                       f"response {b['response_s'] * 1e6:.1f}")
            out.append(f"[{res.variant}] pages per query: {tiers}")
            out.append(f"[{res.variant}] shared_buffers hit ratio {st['buffer_hit_ratio']:.3f}, "
                       f"disk reads {pg.disk_reads / elapsed:,.0f}/s, CPU per core {cores}")
        if res.extra.get("faults"):
            out.append(faults_text(res.extra["faults"], f"[{res.variant}] "))
        sizing = sizing_text(res, f"[{res.variant}] ") if _preloaded(res) else None
        if sizing is not None:
            out.append(sizing)
        ca = res.extra.get("cache_aside")
        if ca:
            for name, c in ca.items():
                looks = c["redis_hits"] + c["redis_misses"]
                ratio = c["redis_hits"] / looks if looks else float("nan")
                window = c["stale_window_s"] / c["writes"] * 1e3 if c["writes"] else 0.0
                out.append(f"[{res.variant}] {name}: Redis hit ratio {ratio:.3f}, PostgreSQL "
                           f"queries {c['pg_queries'] / max(res.sim_time, 1e-9):,.0f}/s, "
                           f"stale-read window after a write {window:.3f} ms on average")
    return "\n".join(out) + "\n"


def increments_text(name: str, x: dict[str, Any]) -> str:
    """A read-modify-write workload's outcome: increments done, what the counters gained."""
    n = x["increments"]
    counters = x["counters"]
    if len(counters) == 1:
        (key, (first, final)), = counters.items()
        where = f"{key} went from {first} to {final if final is not None else '(not a number)'}"
    else:
        where = f"{len(counters)} counters"
    lost = x["lost"]
    share = f" ({lost / n:.1%})" if n else ""
    failed = f", {x['failed']} abandoned" if x["failed"] else ""
    return (f"  {name}: {n} increments done by GET, then SET of the value + 1{failed}; "
            f"{where}: {lost} increments lost{share}")


def sizing_text(res: Result, prefix: str = "") -> str | None:
    """What the dataset costs: used_memory, bytes per key above the empty server's
    (used_memory_startup), and the dump.rdb a SAVE would write now. None with no keys."""
    mem = res.info.get("memory", {})
    keys = info_keys(res.info)
    if not keys or "used_memory" not in mem:
        return None
    used, startup = int(mem["used_memory"]), int(mem.get("used_memory_startup", 0))
    masters = res.extra.get("cluster")
    if masters:  # (INFO, and the persistence model here, are master 1's)
        prefix += f"master 1 of {len(masters)}: "
    line = (f"{prefix}memory: used_memory {used:,} B ({_size(used)}) for {keys:,} "
            f"key{'s' * (keys != 1)}, {(used - startup) / keys:,.0f} B per key above "
            f"used_memory_startup")
    persistence = res.extra.get("persistence")
    if persistence is not None:
        line += f"; a SAVE now writes a {_size(persistence.rdb_size())} dump.rdb"
    return line


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _preloaded(res: Result) -> bool:
    """The scenario created a dataset before the run (sizing lines are shown for it)."""
    pre = res.scenario.preload
    return pre is not None and pre.keys > 0


def faults_text(f: dict[str, Any], prefix: str = "") -> str:
    """What the injected faults cost: acknowledged writes, those lost, the loss window."""
    kinds = ", ".join(f"{x.get('kind')} at {x.get('at', x.get('t', 0)):g}s" for x in f["faults"])
    return (f"{prefix}faults ({kinds}): acknowledged writes {f['acked_writes']}, lost "
            f"{f['acked_writes_lost']}, loss window {f['loss_window_s']:.3f} s")


def _dur(ms: float) -> str:
    """A duration given in ms, in the unit that reads best (ns, us, ms, s)."""
    s = ms / 1e3
    if s < 1e-6:
        return f"{s * 1e9:.1f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def lru_test_text(res: Result) -> str:
    """redis-cli --lru-test's line per second (redis-cli.c:LRUTestMode), from the time series
    of keyspace hits and misses (sample the series every 1 s: metrics.interval)."""
    s = res.series.to_dict()
    lines = []
    if res.variant:
        lines.append(f"#### variant: {res.variant}")
    for h, m in zip(s["hits"], s["misses"], strict=True):
        n = h + m
        if n == 0:
            continue
        lines.append(f"{int(n)} Gets/sec | Hits: {int(h)} ({h / n * 100:.2f}%) | "
                     f"Misses: {int(m)} ({m / n * 100:.2f}%)")
    return "\n".join(lines) + "\n"


def benchmark_summary_ms(latency: LatencyHistogram) -> dict[str, float]:
    """redis-benchmark's latency summary (ms): avg, min, p50, p95, p99 and max as it computes
    them from its HdrHistogram (hdr_mean, hdr_min, hdr_value_at_percentile, hdr_max), or
    the simulator's own estimates for a histogram that kept no HDR counts."""
    h = latency.hdr_snapshot()
    if h is None or not h.total:
        return latency.summary_ms()
    return {"avg": h.mean() / 1e3, "min": h.min() / 1e3, "p50": h.value_at_percentile(50) / 1e3,
            "p95": h.value_at_percentile(95) / 1e3, "p99": h.value_at_percentile(99) / 1e3,
            "max": h.max() / 1e3}


def latency_distribution_lines(h: HdrHistogram) -> list[str]:
    """redis-benchmark's two distributions of one test's latencies (``showLatencyReport``):
    the percentile iterator with one tick per half distance (0, 50, 75, 87.5 % ...) and the
    count up to every 0.1 ms, every 1 ms past 2 ms; a line only where the count grew (and
    the last), then a blank line each."""
    out = ["Latency by percentile distribution:"]
    previous = -1
    for value, pct, cum in h.percentiles(ticks=1):
        if cum != previous or cum == h.total:
            out.append(f"{pct:3.3f}% <= {value / 1e3:.3f} milliseconds (cumulative count {cum})")
        previous = cum
    out += ["", "Cumulative distribution of latencies:"]
    previous = -1
    for value, cum in h.linear(100, coarser=(2000, 1000)):
        if cum != previous or cum == h.total:
            out.append(f"{100.0 * cum / h.total:3.3f}% <= {value / 1e3:.3f} milliseconds "
                       f"(cumulative count {cum})")
        previous = cum
    out.append("")
    return out


def error_counts(res: Result) -> dict[str, int]:
    """The run's error replies by code (INFO errorstats; a cluster's masters together)."""
    if res.extra.get("cluster"):
        total: dict[str, int] = {}
        for m in res.extra["cluster"]:
            for code, n in m["errorstats"].items():
                total[code] = total.get(code, 0) + n
        return dict(sorted(total.items()))
    return {k.removeprefix("errorstat_"): int(str(v).removeprefix("count="))
            for k, v in res.info.get("errorstats", {}).items()}


def cluster_text(masters: list[dict[str, Any]]) -> str:
    """One line per master of a cluster: its slots and its share of the work."""
    total = sum(m["total_commands_processed"] for m in masters) or 1
    lines = [f"# Cluster: {len(masters)} masters (slots as redis-cli --cluster create "
             "spreads them)"]
    for m in masters:
        first, last = m["slots"]
        cmds = m["total_commands_processed"]
        reads = m["total_reads_processed"]
        # (requests per read: those refused before they ran came in the same reads)
        per_read = f", {(cmds + m['rejected_calls']) / reads:.1f} per read" if reads else ""
        errors = "".join(f", {n:,} {code} errors" for code, n in m["errorstats"].items())
        lines.append(
            f"master {m['master']}: slots {first}-{last}, {cmds:,} commands "
            f"({100 * cmds / total:.1f} %{per_read}), busy {100 * m['busy_fraction']:.1f} %, "
            f"{m['keys']:,} keys, used_memory {m['used_memory']:,}{errors}")
    return "\n".join(lines)


def report_text(res: Result) -> str:
    """The scenario's chosen text report."""
    if res.scenario.report == "lru-test":
        return lru_test_text(res)
    if res.scenario.report == "memtier":
        from redissim.report.memtier import memtier_text
        head = f"#### variant: {res.variant}\n" if res.variant else ""
        return head + memtier_text(res)
    return benchmark_text(res)


def benchmark_text(res: Result) -> str:
    """redis-benchmark's summary block per workload command, then the main INFO counters."""
    out = []
    if res.variant:
        out.append(f"#### variant: {res.variant}")
    for wl in res.workloads:
        for c in wl.commands:
            span = wl.finished - wl.started
            title = c.label if len(wl.commands) == 1 and wl.name.upper() == c.label \
                else f"{wl.name}: {c.label}"
            out.append(f"====== {title} ======")
            out.append(f"  {c.calls} requests completed in {span:.2f} seconds")
            out.append(f"  {wl.clients} parallel clients")
            if wl.type == "closed":
                out.append(f"  {wl.value_size} bytes payload")
                out.append("  keep alive: 1")
                srv = res.scenario.server
                appendonly = "yes" if srv.appendonly else "no"
                cluster = res.scenario.cluster
                if cluster is not None and cluster.masters > 1:
                    # redis-benchmark --cluster (which refuses a one-node cluster): each
                    # master's configuration, and one thread per master
                    out.append(f"  cluster mode: yes ({cluster.masters} masters)")
                    for m in range(cluster.masters):
                        out.append(f"  node [{m}] configuration:")
                        out.append(f"    save: {srv.save or 'NONE'}")
                        out.append(f"    appendonly: {appendonly}")
                    out.append("  multi-thread: yes")
                    out.append(f"  threads: {cluster.masters}")
                else:
                    out.append(f'  host configuration "save": {srv.save}')
                    out.append(f'  host configuration "appendonly": {appendonly}')
                    out.append("  multi-thread: no")
            out.append("")
            hdr = c.latency.hdr_snapshot()
            if hdr is not None and hdr.total:
                out.extend(latency_distribution_lines(hdr))
            lat = benchmark_summary_ms(c.latency)
            out.append("Summary:")
            out.append(f"  throughput summary: {c.throughput_rps:.2f} requests per second")
            out.append("  latency summary (msec):")
            out.append("    " + " ".join(f"{k:>9}" for k in
                                         ("avg", "min", "p50", "p95", "p99", "max")))
            out.append("    " + " ".join(f"{lat[k]:9.3f}" for k in
                                         ("avg", "min", "p50", "p95", "p99", "max")))
            out.append("")
        if wl.type == "read-modify-write":
            out.append(increments_text(wl.name, wl.extra))
            out.append("")
        if "replies" in wl.extra:
            counts = ", ".join(f"{k!r} x{v:,}" for k, v in wl.extra["replies"].items())
            out.append(f"  {wl.name}: replies {counts}")
            out.append("")
        for rec in wl.records:
            out.append(f"  [{wl.name} t={rec['t']:.3f}s] {rec['command']} -> {rec['reply']!r}")
        if wl.records:
            out.append("")
    grid = res.extra.get("lru_grid")
    if grid is not None:
        from redissim.report.lru_grid import grid_text
        out.append(grid_text(grid))
        out.append("")
    if res.extra.get("faults"):
        out.append(faults_text(res.extra["faults"]))
        out.append("")
    masters = res.extra.get("cluster")
    if masters:
        out.append(cluster_text(masters))
        out.append("")
    ups = [x.get("up_at") for x in (res.extra.get("faults") or {}).get("faults", [])
           if x.get("up_at") is not None and x.get("kind") != "disk-error"]
    if masters:
        out.append(f"# INFO (simulated server: master 1 of {len(masters)})")
    elif ups and max(ups) <= res.sim_time:
        # INFO is the restarted process's: its counters began at the restart
        out.append(f"# INFO (simulated server, restarted at {max(ups):.3f} s: counters since then)")
    else:
        out.append("# INFO (simulated server)")
    for sec, fields in INFO_SHOWN.items():
        for f in fields:
            if f in res.info.get(sec, {}):
                v = res.info[sec][f]
                # (a timeval, printed as INFO prints it: the parsed float drops trailing 0s)
                out.append(f"{f}:{v:.6f}" if sec == "cpu" else f"{f}:{v}")
    for k, v in res.info.get("errorstats", {}).items():
        out.append(f"{k}:{v}")
    ks = res.info.get("keyspace", {})
    for k, v in ks.items():
        out.append(f"{k}:{v}")
    out.append(f"simulated_time_s:{res.sim_time:.6f}")
    sizing = sizing_text(res) if _preloaded(res) else None
    if sizing is not None:
        out.append(sizing)
    return "\n".join(out) + "\n"
