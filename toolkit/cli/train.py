"""``toolkit train``, ``reproduce``, ``ui`` and ``export-table``."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import DataPath, ExperimentFile, Sets, TrackingUri, console, guard


def metrics_table(title: str, rows: dict[str, dict[str, float]], names: list[str]):
    from rich.table import Table

    t = Table(title=title)
    t.add_column("metric")
    for col in rows:
        t.add_column(col, justify="right")
    for n in names:
        vals = [rows[c].get(n) for c in rows]
        if all(v is None for v in vals):
            continue
        t.add_row(n, *["" if v is None else f"{v:.4f}" for v in vals])
    return t


KEY_METRICS = ["test_auc", "test_gini", "test_ks", "test_brier", "test_ece", "test_psi",
               "test_oracle_auc", "test_auc_oracle_ratio", "test_zero_limit_rate",
               "test_decision_agreement", "test_mechanism_agreement"]


@app.command()
@guard
def train(
    experiment: ExperimentFile,
    tracking_uri: TrackingUri = None,
    data: DataPath = None,
    sets: Sets = None,
) -> None:
    """Train the monotone xgboost model and the scorecard baseline; log both to MLflow.

    Each model family is its own run (<stem>-xgboost, <stem>-scorecard) with metrics
    {split}_{metric}, the flattened config as params, lineage tags and artifacts. The
    xgboost model is registered as tracking.model_name (zero-limit-scorer).
    """
    from toolkit.config import load_config
    from toolkit.workflows.train import train_experiment

    cfg = load_config(experiment, sets or ())
    with console.status("training") as status:
        trained = train_experiment(cfg, stem=experiment.stem, data=data, uri=tracking_uri,
                                   progress=lambda s: status.update(f"[bold]{s}"))
    rows = {"xgboost": trained.metrics}
    if trained.scorecard is not None:
        rows["scorecard"] = trained.scorecard_metrics
    console.print(metrics_table(f"{experiment.stem}: test metrics", rows, KEY_METRICS))
    for family, run_id in trained.run_ids.items():
        console.print(f"{family} run: [bold]{run_id}[/]")
    if trained.model_version:
        console.print(f"registered {cfg.tracking.model_name} version {trained.model_version}")
    console.print("open the MLflow UI with: [bold]toolkit ui[/]")


@app.command()
@guard
def reproduce(
    run_id: str = typer.Argument(..., metavar="RUN_ID",
                                 help="Run id of a logged xgboost or scorecard run (for a "
                                 "toolkit run parent: its xgboost run)."),
    tracking_uri: TrackingUri = None,
) -> None:
    """Re-run a logged run from its logged config and dataset; report whether the metrics and
    the model bytes are identical (exit 0) or not (exit 1)."""
    from toolkit.workflows.reload import reproduce as run_reproduce

    with console.status("re-training from the logged config"):
        rep = run_reproduce(run_id, uri=tracking_uri)
    console.print(f"run {rep.run_id} ({rep.family})")
    console.print(f"metrics identical:     {'yes' if rep.identical_metrics else 'NO'}")
    console.print(f"model bytes identical: {'yes' if rep.identical_model else 'NO'}")
    for k, (old, new) in sorted(rep.differences.items()):
        console.print(f"  {k}: logged {old!r}, now {new!r}")
    if not rep.identical:
        raise typer.Exit(1)


@app.command()
@guard
def ui(
    tracking_uri: TrackingUri = None,
    port: int = typer.Option(5000, "--port", help="Port on 127.0.0.1."),
) -> None:
    """Start the MLflow UI on the project's store, bound to 127.0.0.1."""
    import os
    import sys

    from toolkit.errors import InputError
    from toolkit.tracking import resolve_uri

    uri = resolve_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise InputError(f"{uri!r} is an mlflow server: open its own UI at {uri} in a browser; "
                         "toolkit ui serves a local store (sqlite:///...)")
    console.print(f"MLflow UI for {uri} at http://127.0.0.1:{port}  (Ctrl-C to stop)")
    os.execv(sys.executable, [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                              "--host", "127.0.0.1", "--port", str(port)])


@app.command("export-table")
@guard
def export_table(
    out: Path = typer.Argument(..., metavar="OUT", help="Output file: .csv or .parquet."),
    config: Path = typer.Option(None, "--config", "-c", help="Experiment TOML (its world)."),
    data: Path = typer.Option(None, "--data", help="Dataset folder (default: the config's)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
) -> None:
    """Export the synthetic data as one flat table (features, label, observation month,
    split): the bring-your-own-table format. Truth columns and censored rows (no label yet)
    are left out."""
    from toolkit.calendar import month_label
    from toolkit.config import load_config
    from toolkit.errors import InputError
    from toolkit.files import staged_file
    from toolkit.source import prepare_table

    if out.suffix not in {".csv", ".parquet"}:
        raise InputError(f"output {str(out)!r} must end in .csv or .parquet")
    if out.exists() and not overwrite:
        raise InputError(f"output {str(out)!r} already exists; pass --overwrite to replace it")
    cfg = load_config(config)
    table, _ = prepare_table(cfg, data)
    flat = table.X.copy()
    flat["segment"] = table.world.users.set_index("user_id").loc[flat.index, "segment"] \
        .astype(str).to_numpy()
    flat = flat.drop(columns=[c for c in flat.columns if c.startswith("seg_")])
    flat["month"] = [month_label(m, cfg.world.calendar_start)
                     for m in table.features["asof_month"].to_numpy()]
    flat["split"] = table.split
    flat["default_12m"] = table.y
    flat = flat[table.labelled].reset_index()
    with staged_file(out) as tmp:
        if out.suffix == ".csv":
            flat.to_csv(tmp, index=False)
        else:
            flat.to_parquet(tmp, index=False)
    console.print(f"[green]wrote[/] {out}  rows={len(flat):,} columns={flat.shape[1]}")
