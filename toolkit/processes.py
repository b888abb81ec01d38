"""Processes: who is running, whether they still run, and how they end.

- :func:`identity` and :func:`alive`: host, process id and the process start time, so that a
  run (or a trial, or a staged folder) left behind by a process that died can be recognised
  as dead rather than waited on forever; the start time guards against a reused pid.
- :func:`raise_on_sigterm`: SIGTERM raises :class:`~toolkit.errors.Terminated`, so a
  ``docker stop`` or a CI cancellation cleans up like Ctrl-C does.
- :func:`exit_with_parent`: a worker process (generation pool, tuning worker) ends when the
  process that started it dies, instead of blocking forever.
- :func:`hold`: a fault-injection point.  With ``TOOLKIT_HOLD_AT=<point>`` (or
  ``<point>#<n>``, the n-th time) in the environment, the process writes ``<point> <pid>``
  to the file descriptor ``TOOLKIT_HOLD_FD`` when it reaches that point, then waits for a
  signal.  The fault tests use it to kill a command at a known stage; without the variable
  it does nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit.errors import Terminated

HOLD_AT = "TOOLKIT_HOLD_AT"
HOLD_FD = "TOOLKIT_HOLD_FD"
_held: Counter[str] = Counter()


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process, or None without /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], fields[19]


def identity(pid: int | None = None) -> dict[str, Any]:
    """``{"host", "pid", "start"}`` of this process (start: None where /proc is missing)."""
    pid = os.getpid() if pid is None else pid
    stat = _proc_stat(pid)
    return {"host": socket.gethostname(), "pid": pid, "start": stat[1] if stat else None}


def alive(ident: Mapping[str, Any]) -> bool:
    """Whether the process recorded in ``ident`` still runs.

    A process on another host cannot be checked from here and counts as alive.
    """
    if ident.get("host") not in (None, socket.gethostname()):
        return True
    pid = int(ident["pid"])
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    if state in {"Z", "X"}:  # killed, not yet reaped by its parent
        return False
    return ident.get("start") in (None, "") or str(ident["start"]) == start


def raise_on_sigterm() -> Any:
    """From now on SIGTERM raises :class:`Terminated` in the main thread (once: a second
    SIGTERM during the clean-up ends the process at once, like a second Ctrl-C would).

    Returns the handler it replaced (None outside the main thread, where nothing changes).
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated(signum)

    return signal.signal(signal.SIGTERM, handler)


def exit_with_parent() -> None:
    """End this process with SIGTERM when its parent process dies.

    Linux delivers the signal itself (``PR_SET_PDEATHSIG``); elsewhere, and in case the
    parent died before this call, a watchdog thread notices the new parent id.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def hold(point: str) -> None:
    """The fault-injection point ``point`` (see the module docstring)."""
    wanted = os.environ.get(HOLD_AT)
    if not wanted:
        return
    name, _, nth = wanted.partition("#")
    if name != point:
        return
    _held[point] += 1
    if _held[point] != int(nth or 1):
        return
    fd = int(os.environ[HOLD_FD])
    os.write(fd, f"{point} {os.getpid()}\n".encode())
    while True:
        signal.pause()


def without_hold(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` minus the hold settings (a worker process must not hold at the parent's point)."""
    return {k: v for k, v in env.items() if k not in (HOLD_AT, HOLD_FD)}
