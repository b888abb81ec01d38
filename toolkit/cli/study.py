"""``toolkit study``: the experiment over several world and model seeds, mean ± sd."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    Cluster,
    ExperimentFile,
    Quiet,
    Sets,
    TrackingUri,
    cluster_for,
    console,
    guard,
    progress,
    with_cluster,
)

# Rows of the printed table: per-explainer figures, then figures of the model itself.
EXPLAINER_ROWS = ("explain_top1_group_accuracy", "explain_top1_tolerant_accuracy",
                  "explain_top1_clear_accuracy", "explain_top1_skill", "explain_top1_regret",
                  "explain_fidelity_top1", "explain_alignment_top1", "explain_oracle_top1",
                  "explain_group_rank_corr")
MODEL_ROWS = ("test_auc", "test_auc_oracle_ratio", "explain_mechanism_accuracy",
              "explain_top1_baseline", "explain_clear_share")


@app.command()
@guard
def study(
    experiment: ExperimentFile,
    world_seeds: Annotated[int | None, typer.Option(
        "--world-seeds", help="Worlds: world.seed, world.seed + 1, ... (default: "
        "study.world_seeds, 5).")] = None,
    model_seeds: Annotated[int | None, typer.Option(
        "--model-seeds", help="Model seeds per world (default: study.model_seeds, 3).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Children computed at once, each in its own process (default: "
        "study.workers, 2); the results do not depend on it.")] = None,
    worlds: Annotated[Path | None, typer.Option(
        "--worlds", help="Folder holding the worlds, one subfolder each (default: "
        "data/synthetic).")] = None,
    tracking_uri: TrackingUri = None,
    sets: Sets = None,
    quiet: Quiet = False,
    cluster: Cluster = None,
) -> None:
    """Run the experiment for every (world seed, model seed) pair as one MLflow parent run
    (<stem>-study) with a child run per pair, and report each figure as mean ± sd over the
    children with a 95% interval over the worlds.

    Worlds are generated once and reused. Run it again after an interruption and it resumes:
    finished children are read back, not redone. With --cluster every child process joins
    the cluster: generation, features, training and SHAP values run on its workers.
    """
    from toolkit.config import load_config
    from toolkit.workflows.study import (
        DEFAULT_ROOT,
        STAGES,
        preflight_study,
        study_config,
        study_experiment,
    )

    cfg = load_config(experiment, with_cluster(sets, cluster))
    preflight_study(study_config(cfg, world_seeds=world_seeds, model_seeds=model_seeds,
                                 workers=workers), worlds or DEFAULT_ROOT)
    with cluster_for(cfg), progress(STAGES, quiet=quiet) as hooks:
        result = study_experiment(
            cfg, stem=experiment.stem, uri=tracking_uri, world_seeds=world_seeds,
            model_seeds=model_seeds, workers=workers, root=worlds, hooks=hooks)
    print_study(result)


def print_study(result) -> None:
    from rich.table import Table

    from toolkit.workflows.study import explainer_table

    s = result.summary
    table = explainer_table(s, EXPLAINER_ROWS)
    t = Table(title=f"{result.stem}: {len(result.metrics)} children, mean ± sd (test split)")
    t.add_column("metric")
    for name in table.columns:
        t.add_column(name, justify="right")
    for metric, row in table.iterrows():
        t.add_row(metric.removeprefix("explain_"), *row.tolist())
    console.print(t)
    m = Table(title="the model and the world")
    m.add_column("metric")
    model = explainer_table(s, MODEL_ROWS)
    for name in ("path", "scorecard"):
        if name in model.columns:
            m.add_column("xgboost" if name == "path" else name, justify="right")
    for metric, row in model.iterrows():
        m.add_row(metric, *(row[c] for c in ("path", "scorecard") if c in model.columns))
    console.print(m)
    how = (f"resumed: {result.reused} children read back, {result.ran} run"
           if result.resumed else f"{result.ran} children run")
    console.print(f"{how} in {result.seconds:.0f} s")
    console.print(f"study run: [bold]{result.parent_run_id}[/] (artifacts study/metrics.csv, "
                  "study/summary.csv)", soft_wrap=True)
