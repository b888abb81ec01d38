"""``toolkit train``, ``reproduce``, ``ui`` and ``export-table``."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli.app import app
from toolkit.cli.common import (
    Cluster,
    DataPath,
    ExperimentFile,
    Quiet,
    Sets,
    Strict,
    TrackingUri,
    cluster_for,
    console,
    err_console,
    guard,
    interval,
    progress,
    small_data_note,
    with_cluster,
)


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
    quiet: Quiet = False,
    strict: Strict = False,
    cluster: Cluster = None,
) -> None:
    """Train the monotone xgboost model and the scorecard baseline; log both to MLflow.

    Each model family is its own run (<stem>-xgboost, <stem>-scorecard) with metrics
    {split}_{metric}, the flattened config as params, lineage tags and artifacts. The
    xgboost model is registered as tracking.model_name (zero-limit-scorer) only when it is
    the best on its data: it then takes the alias champion-<first 8 of the dataset hash>.
    """
    from toolkit.config import load_config
    from toolkit.workflows.train import train_experiment

    cfg = load_config(experiment, with_cluster(sets, cluster))
    with cluster_for(cfg), progress(("train",), quiet=quiet) as hooks:
        hooks.start("train")
        trained = train_experiment(cfg, stem=experiment.stem, data=data, uri=tracking_uri,
                                   hooks=hooks, strict=strict)
        hooks.finish("train")
    rows = {"xgboost": trained.metrics}
    if trained.scorecard is not None:
        rows["scorecard"] = trained.scorecard_metrics
    from rich.markup import escape

    console.print(metrics_table(f"{escape(experiment.stem)}: test metrics", rows, KEY_METRICS))
    note = small_data_note(trained.metrics)
    if note:
        console.print(note, soft_wrap=True, markup=False)
        for family, m in rows.items():
            console.print(f"  {family}: " + ", ".join(
                f"{name} {interval(m, name)}" for name in ("test_auc", "test_ks")),
                soft_wrap=True, markup=False)
    for family, run_id in trained.run_ids.items():
        console.print(f"{family} run: [bold]{run_id}[/]")
    c = trained.champion
    console.print(f"champion ({c.alias}): {c.decision}: {c.message}", soft_wrap=True,
                  markup=False)
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
    port: int = typer.Option(5000, "--port", help="Port on 127.0.0.1, 1 to 65535."),
    experiment: str = typer.Option("zero-limit", "--experiment",
                                   help="Experiment whose runs list the printed link opens."),
    open_browser: bool = typer.Option(False, "--open", help="Open the runs list in the web "
                                      "browser once the server answers."),
) -> None:
    """Start the MLflow UI on the project's store, bound to 127.0.0.1, and print the address
    of the experiment's runs list (MLflow 3 opens an experiment on its traces view, which
    shows no runs)."""
    import signal
    import subprocess
    import sys

    from toolkit.errors import InputError
    from toolkit.safety import check_tracking_uri, redact
    from toolkit.tracking import connect, find_experiment_id, resolve_uri, runs_url

    if not 1 <= port <= 65535:
        raise InputError(f"--port must be in 1..65535, got {port}")
    uri = resolve_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise InputError(f"{redact(uri)!r} is an mlflow server: open its own UI in a browser; "
                         "toolkit ui serves a local store (sqlite:///...)")
    base = f"http://127.0.0.1:{port}"
    check_tracking_uri(uri)
    connect(uri)  # creates a new store, and ends the runs of processes that died
    exp_id = find_experiment_id(experiment, uri)
    url = runs_url(base, exp_id) if exp_id is not None else base
    console.print(f"MLflow UI for {redact(uri)}  (Ctrl-C to stop)", soft_wrap=True,
                  markup=False)
    if exp_id is None:
        console.print(f"no experiment {experiment!r} in this store yet; the UI: {url}",
                      soft_wrap=True, markup=False)
    else:
        console.print(f"runs of experiment {experiment!r}: {url}", soft_wrap=True,
                      markup=False)
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                             "--host", "127.0.0.1", "--port", str(port)])

    def stop(signum, frame):
        raise KeyboardInterrupt

    # a terminated toolkit ui must not leave its server behind, listening on the port
    signal.signal(signal.SIGTERM, stop)
    try:
        if open_browser and _wait_until_up(base, proc):
            import webbrowser

            if not webbrowser.open(url):
                err_console.print(f"no web browser found; open {url}", soft_wrap=True,
                                  markup=False)
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    if code not in (0, -2, -15):
        raise typer.Exit(code)


def _wait_until_up(base: str, proc, timeout: float = 60.0) -> bool:
    """Poll the server's /health until it answers (True) or the process ends (False)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


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
    from toolkit.safety import check_file_target
    from toolkit.source import check_dataset, prepare_table

    if out.suffix not in {".csv", ".parquet"}:
        raise InputError(f"output {str(out)!r} must end in .csv or .parquet")
    if out.exists() and not overwrite:
        raise InputError(f"output {str(out)!r} already exists; pass --overwrite to replace it")
    check_file_target(out, "output")
    cfg = load_config(config)
    if cfg.data.table is not None:
        raise InputError("export-table exports a synthetic world; the experiment has an own "
                         "table ([data] table), which is already a flat table")
    folder, missing = check_dataset(cfg, data)
    if missing:
        raise InputError(f"dataset {str(folder)!r} does not exist; generate it first with "
                         "'toolkit generate'")
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
    from rich.markup import escape

    console.print(f"[green]wrote[/] {escape(str(out))}  rows={len(flat):,} "
                  f"columns={flat.shape[1]}", soft_wrap=True)
