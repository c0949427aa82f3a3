"""A sweep's runs on a Dask cluster: ``redissim sweep --scheduler ADDRESS``.

The design's "beyond one machine": a sweep's runs are independent, so besides local
processes they can go to the workers of a Dask cluster (``distributed``, the optional
``dask`` extra, imported only here). Each run is one task; results come back in the order
they were planned, so the output is the same, byte for byte, whatever ran them. Most of this
module is about failing in one line: a scheduler that is missing, wrong, silent or lost
mid-sweep is reported as a :class:`SchedulerError`, not as distributed's tracebacks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from typing import Any

__all__ = ["SchedulerError", "SCHEDULER_TIMEOUT", "WORKER_TIMEOUT", "run_on_dask",
           "quiet_client_logs"]

#: Seconds to wait for a Dask scheduler to accept the connection before giving up: long
#: enough for a scheduler across a network, short enough that a wrong address is noticed.
SCHEDULER_TIMEOUT = 10.0

#: Seconds a sweep waits for a first worker when the cluster has none: an adaptive cluster
#: starts one once there are tasks, a cluster nobody gave workers never will.
WORKER_TIMEOUT = 60.0


class SchedulerError(Exception):
    """The Dask scheduler given to a sweep cannot be used (``distributed`` missing, a bad
    address, no answer, the cluster lost mid-sweep): the message is one line."""


def quiet_client_logs() -> None:
    """Silence distributed's client-side loggers, which would print with tracebacks what
    :func:`run_on_dask` then reports in one line (a scheduler lost mid-sweep, say). They are
    set up when distributed is first imported, so it is imported here first."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return  # run_on_dask names the extra to install
    for name in ("distributed", "distributed.client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def run_on_dask(address: str, fn: Callable[[Any], dict[str, Any]], work: Sequence[Any],
                progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """``fn`` of each item of ``work``, in the order of ``work``, each call one task on the
    Dask cluster whose scheduler is at ``address`` (``progress(done, total)`` as they end);
    the client is closed before returning."""
    try:
        # Here, not at the top: only sweeps sent to a cluster need Dask, an optional extra
        # that plain sweeps (and their worker processes) should not pay to import.
        from dask.distributed import Client, KilledWorker, as_completed
    except ImportError as e:
        raise SchedulerError(f"--scheduler needs the dask extra: pip install 'redissim[dask]' "
                             f"({e})") from e
    timeout = SCHEDULER_TIMEOUT
    _check_scheduler(address, timeout)
    try:
        # set_as_default=False: a library call should not make its client the one that
        # the caller's own dask computations then go to.
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, ImportError) as e:  # (the scheduler went away since the check)
        raise SchedulerError(f"--scheduler {address}: cannot reach the Dask scheduler: "
                             f"{_reason(e) or _first_line(e)}") from e
    try:
        # pure=False: unique keys, so two sweeps on one shared scheduler never swap
        # results, and the scheduler does not hash every scenario to deduplicate runs.
        futures = client.map(fn, list(work), key="redissim-sweep-run", pure=False)
        if not client.scheduler_info().get("workers"):
            # Nothing would ever run: wait for a first worker, then say what is wrong.
            try:
                client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
            except (TimeoutError, OSError) as e:
                raise SchedulerError(
                    f"--scheduler {address}: the Dask cluster has no workers (none joined in "
                    f"{WORKER_TIMEOUT:g} s; start some, e.g. dask worker {address})") from e
        where = {f.key: i for i, f in enumerate(futures)}
        results: list[dict[str, Any]] = [{} for _ in work]
        # loop=: as_completed otherwise looks for a default client, which ours is not.
        for done, fut in enumerate(as_completed(futures, loop=client.loop), 1):
            if fut.status == "error":
                exc = fut.exception()
                if isinstance(exc, KilledWorker):
                    raise SchedulerError(
                        f"--scheduler {address}: Dask workers kept dying while running a "
                        f"sweep run (see the workers' logs: out of memory?)") from exc
                fut.result()  # the run's own error (e.g. an unknown --info field), raised
            try:
                results[where[fut.key]] = fut.result()
            except (OSError, CancelledError) as e:
                # Lost mid-sweep: the scheduler went away (the client gave up reconnecting
                # and cancelled what was pending), or the task was cancelled on the cluster.
                # (distributed's cancellations carry a reason, e.g. scheduler-connection-lost;
                # their message would name our task's key, which tells the user nothing.)
                why = getattr(e, "reason", None) or _reason(e) or _first_line(e)
                raise SchedulerError(f"--scheduler {address}: lost the Dask cluster during "
                                     f"the sweep ({why})") from e
            if progress is not None:
                progress(done, len(work))
        return results
    finally:
        # Closing cancels whatever is still pending on the cluster; with the scheduler gone
        # it may time out, which must not hide the error that got us here.
        with contextlib.suppress(OSError):
            client.close()


def _check_scheduler(address: str, timeout: float) -> None:
    """Raise :class:`SchedulerError` unless a Dask scheduler answers at ``address`` within
    ``timeout`` seconds (and some slack), saying in one line what is wrong.

    Checked before any Client exists, with distributed's own connect and handshake: a Client
    that fails other than by a refused connection (a malformed address, a peer that is no
    scheduler, e.g. a Redis port, whose bytes it misreads) is left half-open, and its
    finalizer then holds up the interpreter's exit for twice the timeout and prints a
    traceback; and its handshake has no timeout, so a peer that accepts and stays silent holds
    it until the peer hangs up. The check runs on an event loop of its own in a thread, so that
    it works whether or not the caller's thread already runs a loop (a notebook's does).
    """
    import asyncio
    import threading

    from distributed.comm import connect

    async def handshake() -> None:
        # connect() retries a refused connection until `timeout`; one second more lets it
        # report the refusal itself before wait_for cuts short a silent peer's handshake.
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout + 1)
        await comm.close()

    failures: list[BaseException] = []

    def probe() -> None:
        try:
            asyncio.run(handshake())
        except BaseException as e:  # handed over to the calling thread below
            failures.append(e)

    thread = threading.Thread(target=probe, name="redissim-scheduler-check", daemon=True)
    thread.start()
    thread.join(timeout + 5)
    if not failures and not thread.is_alive():
        return
    e = failures[0] if failures else TimeoutError()
    if isinstance(e, ValueError):
        raise SchedulerError(f"--scheduler {address}: not a Dask scheduler address ({e}); "
                             f"give e.g. tcp://10.0.0.5:8786") from e
    if isinstance(e, ImportError):  # a transport whose package is missing (ucx)
        raise SchedulerError(f"--scheduler {address}: {_first_line(e)}") from e
    if isinstance(e, OSError):  # refused, unknown host, timed out, hung up: all OSErrors
        raise SchedulerError(f"--scheduler {address}: cannot reach the Dask scheduler: "
                             f"{_reason(e) or 'timed out'} (gave up after {timeout:g} s)"
                             ) from e
    # Anything else: bytes that are no Dask handshake, misread (a MemoryError for a length
    # read from a Redis reply, say); the exception's own text would say nothing useful.
    raise SchedulerError(f"--scheduler {address}: no Dask scheduler's handshake from there "
                         f"({type(e).__name__}; a scheduler listens on port 8786 unless told "
                         f"otherwise)") from e


def _reason(e: BaseException) -> str:
    """Why a connection failed, in a few words, or "" when no OS error says. distributed
    retries a refused connection until its timeout, so what it raises says "timed out"; the
    first cause with an OS message (Connection refused, Name or service not known) says
    more."""
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    return ""


def _first_line(e: BaseException) -> str:
    """An exception's message cut to one line (or its type's name when it has none)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
