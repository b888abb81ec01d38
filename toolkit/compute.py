"""Where the heavy stages run: in this process, or on a Dask cluster.

``[compute] cluster`` (and ``--cluster``) is ``none`` (in-process), ``local`` (a
``distributed.LocalCluster`` sized to this machine, started and stopped by the command) or
a scheduler address ``tcp://host:port`` (a cluster started elsewhere with ``dask scheduler``
and ``dask worker``, dask-jobqueue or dask-kubernetes).  :func:`cluster` opens it for the
length of a command; stages ask :func:`active_client` whether to send their blocks to it.
dask and distributed are imported only when a cluster is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from toolkit.errors import InputError

NONE, LOCAL = "none", "local"
ALLOWED = "none, local or a scheduler address tcp://host:port"
_ADDRESS = re.compile(r"tcp://(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})")
# How long a scheduler may take to answer before the command gives up: long enough for a
# scheduler under load, short enough that a typo is reported at once.
CONNECT_TIMEOUT_S = 10

# Rows per task when row-wise work (SHAP values) is spread over the workers: large enough
# that sending a block costs little beside explaining it, small enough that two workers
# get several blocks each from a 10,000-row test split.
ROWS_PER_TASK = 2_000

T = TypeVar("T")

_client: ContextVar[object | None] = ContextVar("toolkit_dask_client", default=None)


def check_cluster(value: str) -> str:
    """The cluster setting, checked; raises ValueError naming the value and what is allowed."""
    if not isinstance(value, str):
        raise ValueError(f"cluster must be {ALLOWED}, got {value!r}")
    if value in (NONE, LOCAL):
        return value
    m = _ADDRESS.fullmatch(value)
    if m is None or not 1 <= int(m["port"]) <= 65_535:
        raise ValueError(f"cluster must be {ALLOWED}, got {value!r}")
    return value


def engine(setting: str) -> str:
    """What a cluster setting means for a model: ``none`` (trained in-process) or ``dask``
    (trained with xgboost.dask, whichever scheduler).  Fingerprints of searches and studies
    record this, not the address: machines may reach one scheduler by different names, but
    with row sampling (``subsample < 1``) a model trained on a cluster is not the
    in-process one, so the two are not mixed."""
    return NONE if setting == NONE else "dask"


def active_client():
    """The Dask client of the cluster this command opened, or None (work in-process)."""
    return _client.get()


@contextmanager
def cluster(setting: str, *, echo: Callable[[str], None] | None = None) -> Iterator[object]:
    """Open the cluster of ``setting`` for the block; yields its client (None for ``none``).

    ``local`` starts a LocalCluster of one single-threaded worker process per core (the
    stages' blocks are numpy work that holds the GIL) and stops it on the way out; an
    address connects to a running scheduler.  echo: told the dashboard link.  Raises
    InputError (nothing done yet) when the scheduler cannot be reached.
    """
    setting = check_cluster(setting)
    if setting == NONE:
        yield None
        return
    import dask
    import distributed

    # Workers spill to disk and are paused well before the machine's memory is gone, and a
    # worker's tasks are never retried elsewhere: a block that failed twice is a bug.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.admin.system-monitor.gil.enabled": False}):
        with _open(setting, distributed) as client:
            if echo is not None:
                echo(f"Dask dashboard: {client.dashboard_link}")
            token = _client.set(client)
            try:
                yield client
            finally:
                _client.reset(token)


def scheduler_address() -> str:
    """The open cluster's scheduler address, or ``none``: what a process this command starts
    is handed, so that it joins this cluster rather than start one of its own."""
    client = active_client()
    return NONE if client is None else client.scheduler.address


@contextmanager
def joined(setting: str) -> Iterator[object]:
    """:func:`cluster` for a process a command started, handed :func:`scheduler_address`;
    in a process that has a cluster open already, that one."""
    client = active_client()
    if client is not None or setting == NONE:
        yield client
        return
    with cluster(setting) as client:
        yield client


def by_row_blocks(fn: Callable[[object], T], concat: Callable[[Sequence[T]], T], *,
                  rows: int | None = None) -> Callable[[object], T]:
    """``fn`` over a frame's rows, spread over the open cluster's workers in blocks.

    For work in which every row's answer depends on that row alone (``fn(X)`` equals
    ``concat`` of ``fn`` over consecutive blocks of ``X``), so the answer is the one
    computed here.  Without a cluster, or for a frame of at most ``rows`` rows, ``fn`` runs
    here.  ``fn`` (with what it holds: a booster, a bound explainer) is sent to every worker
    once, on first use, not with every block.  rows: per task (default
    :data:`ROWS_PER_TASK`).
    """
    sent: dict[int, object] = {}

    def spread(X):
        client = active_client()
        size = rows or ROWS_PER_TASK
        if client is None or len(X) <= size:
            return fn(X)
        key = id(client)
        if key not in sent:
            sent.clear()
            sent[key] = client.scatter(fn, broadcast=True, hash=False)
        futures = [client.submit(_call, sent[key], X.iloc[start:start + size], pure=False)
                   for start in range(0, len(X), size)]
        return concat(client.gather(futures))

    return spread


def _call(fn, X):
    return fn(X)


def in_order(client, fn: Callable[..., T], args: Sequence[tuple]) -> Iterator[T]:
    """``fn(*a)`` for each ``a`` of ``args`` on the cluster's workers, yielded in order.

    At most two tasks per worker thread are in flight, and each result is released on the
    workers once handed over: a stream of blocks (generation, features) never piles up on
    the cluster faster than the client consumes it.
    """
    from distributed import wait

    width = 2 * max(sum(client.nthreads().values()), 1)
    pending: dict[int, object] = {}
    nxt = 0
    for i in range(len(args)):
        while nxt < len(args) and len(pending) < width:
            pending[nxt] = client.submit(fn, *args[nxt], pure=False)
            nxt += 1
        future = pending.pop(i)
        wait(future)
        result = future.result()
        future.release()
        yield result


@contextmanager
def _open(setting: str, distributed) -> Iterator[object]:
    if setting == LOCAL:
        import os

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
        with distributed.LocalCluster(n_workers=cores, threads_per_worker=1,
                                      dashboard_address=":0", silence_logs=50) as lc, \
                distributed.Client(lc) as client:
            yield client
        return
    try:
        client = distributed.Client(setting, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as err:
        raise InputError(f"the Dask scheduler at {setting!r} is unreachable ({_reason(err)}); "
                         f"start one with 'dask scheduler' or set cluster to {ALLOWED}") \
            from None
    with client:
        yield client


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def lost(err: BaseException) -> str | None:
    """One line for an error that means the cluster went away mid-run, else None."""
    for e in _chain(err):
        name = type(e).__name__
        module = type(e).__module__
        if module.startswith("distributed") and name in {
                "CommClosedError", "KilledWorker", "FutureCancelledError", "CancelledError"}:
            return f"the Dask cluster was lost mid-run ({name}: {_reason(e)})"
        if module.startswith(("distributed", "tornado")) and isinstance(e, (OSError,
                                                                             TimeoutError)):
            return f"the Dask cluster was lost mid-run ({name}: {_reason(e)})"
    return None


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__
