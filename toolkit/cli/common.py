"""What every command shares: the console, the error guard and progress."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
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
Strict = Annotated[bool, typer.Option(
    "--strict", help="Refuse --data generated from another [world] than the experiment's "
    "(default: run on it and log its world as the params).")]

CLUSTER_HELP = ("Where the heavy stages run: none (in-process), local (a Dask LocalCluster "
                "on this machine) or a scheduler address tcp://host:port (default: "
                "compute.cluster of the experiment, none).")
Cluster = Annotated[str | None, typer.Option("--cluster", help=CLUSTER_HELP)]


def logged_cluster(what: str):
    """The ``--cluster`` option of a command on a logged run, naming what runs there."""
    return Annotated[str, typer.Option(
        "--cluster", help=f"Where {what} computed: none (in-process), local (a Dask "
        "LocalCluster on this machine) or a scheduler address tcp://host:port. The logged "
        "run's own [compute] is not reused (its scheduler may be gone).")]


ClusterOnly = logged_cluster("the SHAP values and the model table's features are")


def with_cluster(sets: list[str] | None, cluster: str | None) -> list[str]:
    """The --set list with ``--cluster`` as ``compute.cluster`` (checked with the config)."""
    out = list(sets or ())
    if cluster is not None:
        out.append(f"compute.cluster={json.dumps(cluster)}")
    return out


@contextmanager
def cluster_for(cfg):
    """The experiment's ``[compute] cluster``, open for the block (its dashboard printed)."""
    with open_cluster(cfg.compute.cluster):
        yield


@contextmanager
def open_cluster(setting: str):
    """The cluster ``setting`` (checked: InputError naming it), open for the block."""
    from toolkit.compute import check_cluster, cluster
    from toolkit.errors import InputError

    try:
        check_cluster(setting)
    except ValueError as err:
        raise InputError(str(err)) from None
    with cluster(setting, echo=lambda line: err_console.print(line, soft_wrap=True)):
        yield


console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
DEBUG_ENV = "TOOLKIT_DEBUG"
_debug = {"on": False}

# Exit statuses: 2 for bad input and for what the environment refused (a read-only folder, a
# full disk, a database that cannot be opened), 1 for a bug, 128 + signal for an interrupt.
EXIT_INPUT, EXIT_BUG, EXIT_INTERRUPT, EXIT_TERM = 2, 1, 130, 143


def set_debug(on: bool) -> None:
    """``--debug``: print the traceback of an unexpected error (exit status 1)."""
    _debug["on"] = on


def debugging() -> bool:
    import os

    return _debug["on"] or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def print_error(message: str) -> None:
    """``error: <message>`` on one line of stderr; the message is printed as plain text, so
    square brackets in a path or name are never read as markup, and URL passwords are
    hidden."""
    from rich.text import Text

    from toolkit.safety import redact

    line = " ".join(redact(message).split())
    err_console.print(Text.assemble(("error:", "bold red"), " ", line), soft_wrap=True)


def _chain(err: BaseException):
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def _database_error(err: BaseException) -> bool:
    import sqlite3

    if isinstance(err, sqlite3.Error):
        return True
    mod = type(err).__module__
    return mod.startswith("sqlalchemy") and type(err).__name__ in {
        "OperationalError", "DatabaseError", "InterfaceError", "ProgrammingError",
        "NoSuchModuleError", "ArgumentError"}


def _os_message(err: OSError) -> str:
    what = err.strerror or first_line(err)
    name = err.filename if err.filename is not None else None
    return f"{what}: {str(name)!r}" if name is not None else what


def classify(err: BaseException) -> tuple[int, str]:
    """The exit status and the one-line message for an exception that reached the CLI.

    Bad input and what the environment refused (OS errors, a database that cannot be opened
    or written, memory) exit 2; anything else is a bug and exits 1.  Errors raised inside
    MLflow, Optuna or SQLAlchemy are judged by the error they wrap.
    """
    from toolkit.errors import InputError, Terminated

    if isinstance(err, Terminated):
        return EXIT_TERM, ("terminated by SIGTERM; open runs were marked FAILED and partial "
                           "files removed")
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPT, ("interrupted; open runs were marked FAILED and partial files "
                                "removed")
    if isinstance(err, InputError):
        return EXIT_INPUT, str(err)
    from toolkit.compute import lost

    gone = lost(err)
    if gone is not None:
        return EXIT_INPUT, gone
    if isinstance(err, MemoryError):
        return EXIT_INPUT, ("out of memory; use a smaller world (world.n_users), fewer rows "
                            "or fewer --workers")
    if isinstance(err, OSError):
        return EXIT_INPUT, _os_message(err)
    library = type(err).__module__.split(".")[0] in {"mlflow", "optuna", "sqlalchemy"}
    for inner in _chain(err):
        if _database_error(inner):
            return EXIT_INPUT, f"the database refused: {first_line(inner)}"
        if library and isinstance(inner, OSError):
            return EXIT_INPUT, _os_message(inner)
    return EXIT_BUG, (f"unexpected {type(err).__name__}: {first_line(err)} (a bug in the "
                      "toolkit; rerun with --debug for the traceback and report it)")


def first_line(err: BaseException) -> str:
    from toolkit.safety import first_line as line

    return line(err, limit=500)


def guard(fn: Callable) -> Callable:
    """Run a command so that every failure ends in one line on stderr and an exit status:
    2 for bad input and environment errors, 1 for a bug (its traceback only with
    ``--debug``), 130 for Ctrl-C and 143 for SIGTERM, which is handled like Ctrl-C.  The
    toolkit's own warnings (:class:`toolkit.errors.ToolkitWarning`) print as one
    ``warning:`` line each."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import signal
        import warnings

        from rich.markup import escape

        from toolkit.errors import ToolkitWarning
        from toolkit.processes import raise_on_sigterm

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, ToolkitWarning):
                err_console.print(f"[bold yellow]warning:[/] {escape(str(message))}",
                                  soft_wrap=True)
            else:
                default(message, category, filename, lineno, file, line)

        previous = raise_on_sigterm()
        with warnings.catch_warnings():  # restores showwarning on the way out
            default = warnings.showwarning
            warnings.showwarning = show
            try:
                return fn(*args, **kwargs)
            except (typer.Exit, typer.Abort, typer.TyperException):
                raise
            except BaseException as err:
                code, message = classify(err)
                if code == EXIT_BUG and debugging():
                    import traceback

                    traceback.print_exception(err, file=sys.stderr)
                print_error(message)
                raise typer.Exit(code) from None
            finally:
                if previous is not None:  # a process that runs several commands (the tests)
                    signal.signal(signal.SIGTERM, previous)

    return wrapper


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print no progress (the result "
                                     "is still printed).")]


class _Bars:
    """Hooks drawing one rich bar per stage; a step relabels the current bar.

    The bars appear with the first sign of work (a step, an advance or a finished stage),
    not when the first stage is announced: a workflow checks its input first, and input it
    refuses then shows its one error line and no empty bars.
    """

    def __init__(self, open_progress: Callable, stages: tuple[str, ...]):
        self._open = open_progress
        self._progress = None
        self.stages = stages
        self.tasks: dict = {}
        self.current: str | None = None
        # stages nest (explain inside train, recourse inside explain): when the inner one
        # finishes, steps and progress go to the outer bar again
        self.open: list[str] = []

    @property
    def progress(self):
        if self._progress is None:
            self._progress = self._open()
            self.tasks.update({s: self._progress.add_task(s, total=None, start=False)
                               for s in self.stages})
            if self.current is not None:  # the stage announced before the work began
                self._progress.start_task(self._task(self.current))
        return self._progress

    def _task(self, stage: str):
        progress = self.progress  # opened first: it adds the declared stages' bars
        if stage not in self.tasks:
            self.tasks[stage] = progress.add_task(stage, total=None, start=False)
        return self.tasks[stage]

    def start(self, stage: str) -> None:
        self.current = stage
        self.open.append(stage)
        if self._progress is not None:
            self.progress.start_task(self._task(stage))

    def step(self, label: str) -> None:
        if self.current is not None:
            self.progress.update(self._task(self.current), description=label, completed=0,
                                 total=None)

    def advance(self, done: int, total: int) -> None:
        if self.current is not None:
            self.progress.update(self._task(self.current), completed=done, total=total)

    def finish(self, stage: str) -> None:
        task = self._task(stage)
        total = self.progress.tasks[task].total or 1
        self.progress.update(task, description=stage, completed=total, total=total)
        if stage in self.open:
            self.open.remove(stage)
        self.current = self.open[-1] if self.open else None


class _Lines:
    """Hooks for output that is not a terminal: one plain line per finished stage.

    Stages nest (the explanation inside training, recourse and the audit inside the
    explanation), so an outer stage finishes after its inner ones: its line gives its own
    time and names what ran inside it, so that times add up."""

    def __init__(self):
        # the open stages, innermost last: name, start, and the time of each stage inside it
        self.open: list[tuple[str, float, dict[str, float]]] = []

    def start(self, stage: str) -> None:
        import time

        self.open.append((stage, time.perf_counter(), {}))

    def step(self, label: str) -> None:
        pass

    def advance(self, done: int, total: int) -> None:
        pass

    def finish(self, stage: str) -> None:
        import time

        at = [i for i, (name, _, _) in enumerate(self.open) if name == stage]
        if not at:  # never started: nothing to time
            return
        # stages opened after it and never finished (they raised) end with it
        _, t0, inner = self.open[at[-1]]
        del self.open[at[-1]:]
        seconds = time.perf_counter() - t0
        if self.open:
            outer = self.open[-1][2]
            outer[stage] = outer.get(stage, 0.0) + seconds
        line = f"{stage}: done in {seconds - sum(inner.values()):.1f} s"
        if inner:
            names = list(inner)
            said = names[0] if len(names) == 1 else \
                f"{', '.join(names[:-1])} and {names[-1]}"
            line += f" ({seconds:.1f} s with {said}, which ran inside it)"
        err_console.print(line, soft_wrap=True, markup=False, highlight=False)


def small_data_note(metrics: dict[str, float], split: str = "test", *,
                    lang: str = "en") -> str | None:
    """The small-data notice: a split of fewer than 1,000 rows has bootstrap intervals
    (``{split}_auc_low`` ...); None when it has none."""
    from toolkit.explain.text import CLI_TEXT

    if f"{split}_auc_low" not in metrics:
        return None
    return CLI_TEXT[lang]["small_data"].format(
        split=split, rows=metrics.get(f"{split}_rows", float("nan")))


def interval(metrics: dict[str, float], name: str) -> str:
    """``"[low, high]"`` of a metric with a bootstrap interval, else ``""``."""
    from toolkit.explain.html import fmt

    low, high = metrics.get(f"{name}_low"), metrics.get(f"{name}_high")
    return "" if low is None or high is None else \
        f"[{fmt(low, 'metric')}, {fmt(high, 'metric')}]"


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

    with ExitStack() as stack:
        yield _Bars(lambda: stack.enter_context(Progress(
            TextColumn("[bold]{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=err_console)), stages)
