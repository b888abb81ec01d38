"""The Typer application every command module registers on."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

# Commands in the order a user meets them: the main job, its explanations, then the
# deeper tools; a command not named here follows in the order it was registered.
COMMAND_ORDER = ("run", "explain", "recourse", "study", "tune", "ui", "train", "generate",
                 "export-table", "policy-compare", "reproduce")


class _InUseOrder(TyperGroup):
    def list_commands(self, ctx) -> list[str]:
        names = list(self.commands)
        rank = {n: i for i, n in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))


app = typer.Typer(
    name="toolkit",
    cls=_InUseOrder,
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


def _version(value: bool) -> None:
    if value:
        from toolkit.provenance import toolkit_version

        typer.echo(f"toolkit {toolkit_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                 help="Print the toolkit's version and exit."),
    debug: bool = typer.Option(False, "--debug", help="On an unexpected error (exit status "
                               "1), print its traceback (also: TOOLKIT_DEBUG=1)."),
) -> None:
    """Explainable credit scoring toolkit: see the commands below.

    Exit status: 0 success, 2 bad input or an environment error (one line on stderr, nothing
    written), 1 an unexpected error (a bug), 130 Ctrl-C, 143 SIGTERM.
    """
    from toolkit.cli.common import set_debug

    set_debug(debug)
