"""The ``toolkit`` command line.  Heavy libraries are imported inside commands, so that
``toolkit --help`` stays fast.  Exit status: 0 success, 2 bad input, 1 unexpected failure.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="toolkit",
    help=(
        "Explainable credit scoring: why does a user's credit line drop to zero (零额度)? "
        "Generate a synthetic world with known causes (score, policy, monitoring), train and "
        "tune models tracked in MLflow, and explain every zero-limit decision with SHAP."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)



@app.callback()
def _root() -> None:
    """Explainable credit scoring toolkit: see the commands below."""


# Each module registers its commands on ``app``; they import nothing heavy at module level.
from toolkit.cli import generate as _generate  # noqa: E402,F401

for _optional in ("train", "explain", "tune", "run", "policy"):
    try:
        __import__(f"toolkit.cli.{_optional}")
    except ModuleNotFoundError as _err:  # a command module not written yet
        if _err.name != f"toolkit.cli.{_optional}":
            raise


def main() -> None:
    app()
