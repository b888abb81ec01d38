"""What every command shares: the console, bad-input handling and progress bars."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

SET_HELP = ("Override one config key, e.g. --set world.n_users=5000 (TOML value); "
            "repeatable.")
URI_HELP = ("MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then tracking.uri in the "
            "experiment, then sqlite:///mlflow.db in this folder).")

# The arguments several commands share, declared once so their help cannot drift apart.
ExperimentFile = Annotated[Path, typer.Argument(
    metavar="EXPERIMENT", help="Experiment TOML file (overrides only).")]
TrackingUri = Annotated[str | None, typer.Option("--tracking-uri", help=URI_HELP)]
DataPath = Annotated[Path | None, typer.Option(
    "--data", help="Dataset folder or own table (default: data/synthetic/<world.name>, "
    "generated if missing).")]
Sets = Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def guard(fn: Callable) -> Callable:
    """Turn bad input (``toolkit.errors.InputError``) into a one-line message and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from rich.markup import escape

        from toolkit.errors import InputError

        try:
            return fn(*args, **kwargs)
        except InputError as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


@contextmanager
def progress_bar(description: str, total: int | None = None):
    """A rich progress bar; yields ``update(done, total)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
                  transient=False) as prog:
        task = prog.add_task(description, total=total)

        def update(done: int, total_: int | None = None) -> None:
            prog.update(task, completed=done, total=total_ if total_ is not None else total)

        yield update
