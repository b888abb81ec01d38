"""The ``toolkit`` command line.  Heavy libraries are imported inside commands, so that
``toolkit --help`` stays fast.  Exit status: 0 success, 2 bad input, 1 unexpected failure.
"""

from __future__ import annotations

# Each module registers its commands on ``app``; they import nothing heavy at module level.
from toolkit.cli import explain, generate, policy, run, train, tune  # noqa: F401
from toolkit.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
