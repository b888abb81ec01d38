"""``toolkit run``: the main job, every stage under one MLflow parent run."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    DataPath,
    ExperimentFile,
    Sets,
    TrackingUri,
    console,
    err_console,
    guard,
)

SUMMARY_METRICS = ["test_auc", "test_auc_oracle_ratio", "test_ks", "test_ece",
                   "test_zero_limit_rate", "explain_decision_agreement",
                   "explain_mechanism_accuracy", "explain_top1_group_accuracy",
                   "explain_top3_group_recall", "explain_additivity_max_error"]


class _RichHooks:
    """One progress bar per stage; generation advances per block of users."""

    def __init__(self, progress, stages):
        self.progress = progress
        self.tasks = {s: progress.add_task(s, total=1, start=False) for s in stages}

    def start(self, stage):
        self.current = stage
        self.progress.start_task(self.tasks[stage])

    def advance(self, done, total):
        self.progress.update(self.tasks[self.current], completed=done, total=total)

    def finish(self, stage):
        task = self.progress.tasks[self.tasks[stage]]
        self.progress.update(self.tasks[stage], completed=task.total or 1)


@app.command()
@guard
def run(
    experiment: ExperimentFile,
    tracking_uri: TrackingUri = None,
    data: DataPath = None,
    sets: Sets = None,
    outputs: Path = typer.Option(Path("outputs"), "--outputs",
                                 help="Folder for the local HTML report and reason tables."),
) -> None:
    """Run the whole experiment: generate (or reuse) data, features, train (or tune when the
    file has a [tune] section), explain, report, all under one MLflow parent run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from toolkit.config import load_config
    from toolkit.workflows.pipeline import STAGES, run_experiment

    cfg = load_config(experiment, sets or ())
    with Progress(TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console) as progress:
        hooks = _RichHooks(progress, STAGES)
        summary = run_experiment(cfg, stem=experiment.stem, data=data, uri=tracking_uri,
                                 hooks=hooks, outputs=outputs)
    print_summary(summary, lang=cfg.explain.lang)


def print_summary(summary, *, lang: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=f"{summary.stem}: key metrics (test split)")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for name in SUMMARY_METRICS:
        if name in summary.metrics:
            t.add_row(name, f"{summary.metrics[name]:.4g}")
    console.print(t)
    counts = ", ".join(f"{m} {n:,}" for m, n in sorted(summary.mechanism_counts.items()))
    console.print(f"zero-limit users by mechanism: {counts}")
    for mech, rows in summary.examples.items():
        user = rows["user_id"].iloc[0]
        console.print(f"\n[bold]example ({mech})[/] user {user}:")
        # reason texts are data: square brackets in them must not be read as markup
        for text in rows.sort_values("rank")["text"]:
            console.print(f"  • {text}", soft_wrap=True, markup=False)
    children = ", ".join(f"{k} {v}" for k, v in summary.run_ids.items())
    console.print(f"\nparent run: {summary.parent_run_id}  ({children})", soft_wrap=True)
    if summary.report is not None:
        console.print(f"HTML report: [bold]{escape(str(summary.report))}[/]", soft_wrap=True)
    ui = "toolkit ui" + ("" if summary.uri.endswith("/mlflow.db") and summary.uri.startswith(
        f"sqlite:///{Path.cwd().resolve()}") else f" --tracking-uri {summary.uri}")
    console.print(f"open the MLflow UI with: [bold]{escape(ui)}[/]", soft_wrap=True)
