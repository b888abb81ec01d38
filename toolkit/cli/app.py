"""The Typer application every command module registers on."""

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
