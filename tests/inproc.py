"""A toolkit command run in this process, for tests that need its exit status and output."""

from __future__ import annotations

import io
from contextlib import chdir, redirect_stderr, redirect_stdout
from pathlib import Path

from toolkit.cli import main


def cli(root: Path, *args: str) -> tuple[int, str]:
    """Run a toolkit command in this process (in ``root``); returns (status, output)."""
    out = io.StringIO()
    with chdir(root), redirect_stdout(out), redirect_stderr(out):
        try:
            main(list(args))
        except SystemExit as done:
            return int(done.code or 0), out.getvalue()
    return 0, out.getvalue()
