"""What every command shares: the console, bad-input handling and progress."""

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


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print no progress (the result "
                                     "is still printed).")]


class _Bars:
    """Hooks drawing one rich bar per stage; a step relabels the current bar."""

    def __init__(self, progress, stages: tuple[str, ...]):
        self.progress = progress
        self.tasks = {s: progress.add_task(s, total=None, start=False) for s in stages}
        self.current: str | None = None

    def _task(self, stage: str):
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=None, start=False)
        return self.tasks[stage]

    def start(self, stage: str) -> None:
        self.current = stage
        self.progress.start_task(self._task(stage))

    def step(self, label: str) -> None:
        if self.current is not None:
            self.progress.update(self.tasks[self.current], description=label, completed=0,
                                 total=None)

    def advance(self, done: int, total: int) -> None:
        if self.current is not None:
            self.progress.update(self.tasks[self.current], completed=done, total=total)

    def finish(self, stage: str) -> None:
        task = self._task(stage)
        total = self.progress.tasks[task].total or 1
        self.progress.update(task, description=stage, completed=total, total=total)


class _Lines:
    """Hooks for output that is not a terminal: one plain line per finished stage."""

    def __init__(self):
        self.started: dict[str, float] = {}

    def start(self, stage: str) -> None:
        import time

        self.started[stage] = time.perf_counter()

    def step(self, label: str) -> None:
        pass

    def advance(self, done: int, total: int) -> None:
        pass

    def finish(self, stage: str) -> None:
        import time

        seconds = time.perf_counter() - self.started.get(stage, time.perf_counter())
        err_console.print(f"{stage}: done in {seconds:.1f} s", soft_wrap=True, markup=False,
                          highlight=False)


@contextmanager
def progress(stages: tuple[str, ...] = (), *, quiet: bool = False):
    """Progress hooks (:class:`toolkit.workflows.hooks.Hooks`) for a command, on stderr.

    On a terminal: a bar per stage that moves with the work (boosting rounds, rows, trials);
    elsewhere (a pipe, a log file, CI): one line per finished stage and no bars; with
    ``quiet``: nothing.
    """
    from toolkit.workflows.hooks import SILENT

    if quiet:
        yield SILENT
        return
    if not err_console.is_terminal:
        yield _Lines()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("[bold]{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console) as bars:
        yield _Bars(bars, stages)
