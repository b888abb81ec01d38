"""A toolkit command run as a real process, stopped at a fault-injection point.

The process holds at the point (``TOOLKIT_HOLD_AT``, see :mod:`toolkit.processes`) and says
so through a pipe, so a test can signal it at a known moment rather than after a guess
of how long the work takes.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.processes import HOLD_AT, HOLD_FD

WAIT = 240  # seconds: only a guard against a process that never reaches its stage


def launch(root: Path, point: str, *args: str) -> subprocess.Popen:
    """Start ``toolkit ARGS`` as a process and return once it holds at ``point``."""
    read, write = os.pipe()
    env = {**os.environ, HOLD_AT: point, HOLD_FD: str(write)}
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", *args], cwd=root, env=env,
                            pass_fds=(write,), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], WAIT)
        said = os.read(read, 200).decode() if ready else ""
    finally:
        os.close(read)
    if not said.startswith(point.split("#")[0] + " "):  # it ended (or hung) before it
        proc.kill()
        pytest.fail(f"{args} never reached {point}: {proc.communicate()[0].decode()[-2000:]}")
    return proc
