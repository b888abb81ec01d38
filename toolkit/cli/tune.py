"""``toolkit tune``: an Optuna search over the xgboost settings, nested in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    CLUSTER_HELP,
    DataPath,
    Quiet,
    Sets,
    Strict,
    TrackingUri,
    cluster_for,
    console,
    guard,
    progress,
    with_cluster,
)

KEY_METRICS = ["test_auc", "test_ks", "test_brier", "test_auc_oracle_ratio",
               "test_zero_limit_rate", "explain_top1_group_accuracy",
               "explain_top1_tolerant_accuracy", "explain_stability_top1"]
# Figures of the configured explainer, which carry its suffix (none for path).
EXPLAINER_METRICS = ("explain_top1_group_accuracy", "explain_top1_tolerant_accuracy")


@app.command()
@guard
def tune(
    experiment: Annotated[Path, typer.Argument(
        metavar="EXPERIMENT",
        help="Experiment TOML file; its [tune] section (defaults when absent) sets the "
        "search.")],
    trials: Annotated[int | None, typer.Option(
        "--trials", help="Finished trials the study should have (default: tune.trials).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", help="Stop each worker after this many seconds (default: tune.timeout, "
        "none).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Parallel worker processes on the study, each with its own sampler "
        "seed (default: tune.workers).")] = None,
    storage: Annotated[str | None, typer.Option(
        "--storage", help="Optuna database URL, e.g. postgresql://user@host/db with the "
        "password in PGPASSWORD (default: tune.storage, then optuna.db beside the MLflow "
        "sqlite store).")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the existing study tune.study_name (default: the "
        "experiment file's stem).")] = False,
    tracking_uri: TrackingUri = None,
    data: DataPath = None,
    sets: Sets = None,
    quiet: Quiet = False,
    strict: Strict = False,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help=CLUSTER_HELP + " On a cluster every trial trains with "
        "xgboost.dask and is not pruned: it trains to its end and is reported then.")
    ] = None,
) -> None:
    """Tune the xgboost model with Optuna: a seeded TPE sampler per worker, median pruning
    on validation AUC, heartbeats so a killed worker's trial is retried, and --resume.

    The study is an MLflow parent run (<stem>-tune) with one child run per trial. After the
    search the chosen trial is refit, evaluated on test and explained; it is registered,
    and takes the alias champion-<first 8 of the dataset hash>, only if its test AUC beats
    that alias's holder (a model trained on the same data). With objectives = ["val_auc",
    "val_explain_top1_tolerant_accuracy"] the study is multi-objective and tune.pareto_pick
    chooses the Pareto trial to refit.

    With --cluster every trial (and the refit) trains with xgboost.dask on the cluster, the
    data sent to it once per worker; trials are not pruned there (the rounds run on the
    Dask workers): each trains to its end and is reported then. Workers on other machines
    join the study by running the same command with the same --storage.
    """
    from toolkit.config import load_config
    from toolkit.workflows.tune import check_arguments, tune_experiment

    check_arguments(trials=trials, timeout=timeout, workers=workers)
    cfg = load_config(experiment, with_cluster(sets, cluster))
    with cluster_for(cfg), progress(("tune",), quiet=quiet) as hooks:
        hooks.start("tune")
        result = tune_experiment(
            cfg, stem=experiment.stem, data=data, uri=tracking_uri, trials=trials,
            timeout=timeout, workers=workers, storage=storage, resume=resume, hooks=hooks,
            strict=strict)
        hooks.finish("tune")
    _print_result(result)


def _print_result(fitted) -> None:
    from rich.markup import escape
    from rich.table import Table

    from toolkit.explain import get_explainer

    result = fitted.study
    c = result.counts
    console.print(f"study [bold]{escape(result.study_name)}[/] in {escape(result.storage)}: "
                  f"{c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed "
                  f"({result.session_trials} this session, "
                  f"{result.trials_per_minute:.1f} trials/min)")
    values = ", ".join(f"{k} {v:.4f}" for k, v in result.best_values.items())
    console.print(f"refit trial {result.best_trial}: {values}")
    t = Table(title="chosen parameters and test metrics")
    t.add_column("name")
    t.add_column("value", justify="right")
    for k, v in sorted(result.best_params.items()):
        t.add_row(f"model.{k}", f"{v:.4g}" if isinstance(v, float) else str(v))
    explained = getattr(fitted.explained, "primary", None)
    suffix = get_explainer(explained.mode).suffix if explained is not None else ""
    for k in KEY_METRICS:
        k = k + suffix if k in EXPLAINER_METRICS else k
        if k in fitted.metrics:
            t.add_row(k, f"{fitted.metrics[k]:.4f}")
    console.print(t)
    console.print(f"champion ({result.champion.alias}): {result.champion.decision}: "
                  f"{result.champion.message}", soft_wrap=True, markup=False)
    console.print(f"study run: [bold]{fitted.run_id}[/]")
    console.print("open the MLflow UI with: [bold]toolkit ui[/]")
