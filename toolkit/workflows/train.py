"""Run orchestration: dataset -> model table -> models -> metrics -> MLflow.

This is the wiring layer (with the CLI); each step it calls is a plain function.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.config import ExperimentConfig, build_config
from toolkit.data.dataset import Dataset, load_dataset, read_manifest
from toolkit.data.features import registry_frame
from toolkit.data.splits import split_summary
from toolkit.data.table import ModelTable, from_dataset, from_table
from toolkit.errors import DataError
from toolkit.models.scorecard import Scorecard, fit_scorecard
from toolkit.models.train import evaluate, fit_xgboost, importance_frame
from toolkit.models.xgb import XGBScorer

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


def dataset_dir(cfg: ExperimentConfig, data: str | Path | None = None) -> Path:
    from toolkit.synth import default_output

    return Path(data) if data is not None else default_output(cfg)


def load_or_generate(cfg: ExperimentConfig, data: str | Path | None = None, *,
                     progress: Callable[[int, int], None] | None = None,
                     workers: int = 1) -> Dataset:
    """The experiment's dataset: reuse it when its world config matches, else generate it.

    A dataset whose files do not match its manifest is refused (DataError); one generated
    from a different ``[world]`` is refused too, rather than silently mixing worlds.
    """
    from toolkit.synth import generate

    path, missing = check_dataset(cfg, data)
    if missing:
        generate(config=cfg, out=path, overwrite=path.exists(), progress=progress,
                 workers=workers)
    return load_dataset(path)


def check_dataset(cfg: ExperimentConfig, data: str | Path | None = None) -> tuple[Path, bool]:
    """Cheap checks of the experiment's dataset folder, before any work.

    Returns ``(folder, missing)``; raises DataError for a file given as --data, a folder
    that is not a dataset, or (for the default folder) a dataset of a different ``[world]``.
    File hashes are verified later, when the dataset is loaded.
    """
    path = dataset_dir(cfg, data)
    if path.is_file():
        raise DataError(f"--data {str(path)!r} is a file; a synthetic experiment needs a "
                        "dataset folder (a table needs a [data] table = ... section)")
    if not (path / "manifest.json").is_file():
        if path.exists() and any(path.iterdir()):
            raise DataError(f"{str(path)!r} exists but is not a dataset (no manifest.json)")
        return path, True
    stored = read_manifest(path).get("config", {}).get("world")
    wanted = cfg.world.model_dump(mode="json", by_alias=True)
    if data is None and stored is not None and stored != wanted:
        keys = sorted(k for k in wanted if stored.get(k) != wanted[k])
        raise DataError(
            f"dataset {str(path)!r} was generated from a different [world] (differs in "
            f"{', '.join(keys)}); give this experiment its own world.name or regenerate with "
            f"'toolkit generate --config ... --overwrite'"
        )
    return path, False


def build_table(cfg: ExperimentConfig, data: str | Path | None = None, *,
                progress: Callable[[int, int], None] | None = None
                ) -> tuple[ModelTable, Path]:
    """The model table and the lineage file (dataset manifest or own table)."""
    if cfg.data.table is not None:
        path = Path(data) if data is not None else Path(cfg.data.table)
        return from_table(path, cfg), path
    ds = load_or_generate(cfg, data, progress=progress)
    return from_dataset(ds, cfg), ds.path / "manifest.json"


@dataclass
class Trained:
    """What one training pass produced (both models, metrics, decisions, run ids)."""

    table: ModelTable
    scorer: XGBScorer
    scorecard: Scorecard | None
    metrics: dict[str, float]
    scorecard_metrics: dict[str, float]
    decisions: pd.DataFrame
    importance: pd.DataFrame
    run_ids: dict[str, str] = field(default_factory=dict)
    model_version: str | None = None


def fit_models(cfg: ExperimentConfig, table: ModelTable) -> Trained:
    """Fit xgboost and (if enabled) the scorecard; evaluate both on every split."""
    scorer = fit_xgboost(table, cfg.model)
    pd_all = scorer.predict_pd(table.X)
    metrics, decisions = evaluate(table, pd_all, cfg.policy)
    metrics["best_iteration"] = float(scorer.best_iteration)
    importance = importance_frame(scorer, table)
    sc, sc_metrics = None, {}
    if cfg.scorecard.enabled:
        Xt, yt = table.part("train")
        sc = fit_scorecard(Xt, yt, cfg.scorecard)
        sc_metrics, _ = evaluate(table, sc.predict_pd(table.X), cfg.policy)
    return Trained(table=table, scorer=scorer, scorecard=sc, metrics=metrics,
                   scorecard_metrics=sc_metrics, decisions=decisions, importance=importance)


def summary_frame(table: ModelTable, decisions: pd.DataFrame) -> pd.DataFrame:
    regime = np.where(table.stressed, "stressed", "normal")
    frame = pd.DataFrame({"split": table.split, "default_12m": table.y,
                          "zero": decisions["zero"].to_numpy(), "regime": regime})
    return split_summary(frame)


def log_common(run, cfg: ExperimentConfig, table: ModelTable, lineage: Path, stem: str) -> None:
    """What every run of an experiment carries: params, config, lineage, environment."""
    from toolkit import tracking

    run.log_params(cfg.flat())
    run.log_dict(cfg.model_dump(mode="json", by_alias=True), "config.json")
    run.log_dict({"experiment": stem, "data": str(lineage.resolve()),
                  "dataset_hash": table.dataset_hash}, "lineage.json")
    if lineage.name == "manifest.json":
        run.log_file(lineage, "dataset")
    run.log_dataset(lineage, name=f"{stem}:{table.source}", digest=table.dataset_hash)
    tracking.log_environment(run)


def log_evaluation(run, table: ModelTable, pd_all: np.ndarray, tag: str) -> None:
    from toolkit.models.plots import calibration_figure, roc_ks_figure

    m = table.mask("test")
    run.log_figure(roc_ks_figure(table.y[m], pd_all[m], title=f"({tag}, test)"),
                   "figures/roc_ks.png")
    run.log_figure(calibration_figure(table.y[m], pd_all[m], title=f"({tag}, test)"),
                   "figures/calibration.png")


def train_experiment(cfg: ExperimentConfig, *, stem: str, data: str | Path | None = None,
                     uri: str | None = None, parent_run_id: str | None = None,
                     progress: Progress = _noop,
                     prepared: tuple[ModelTable, Path] | None = None,
                     after_fit: Callable[[Trained, object], None] | None = None) -> Trained:
    """Build data, fit both models and log one MLflow run per model family.

    stem: the experiment file's stem; runs are named ``<stem>-xgboost`` and
    ``<stem>-scorecard``.  prepared: an already built ``(table, lineage)``.
    after_fit(trained, run): an optional extra stage run inside the xgboost run (the
    explanation stage uses it).
    """
    from toolkit import tracking
    from toolkit.models.plots import importance_figure

    uri = tracking.connect(uri, cfg.tracking.uri)
    progress("data")
    table, lineage = prepared or build_table(cfg, data)
    progress("train")
    trained = fit_models(cfg, table)
    progress("log")
    summary = summary_frame(table, trained.decisions)

    @contextmanager
    def family_run(family: str, metrics: dict[str, float]):
        # both families carry the same lineage, params, split summary and tag set
        with tracking.start_run(
            experiment=cfg.tracking.experiment, run_name=f"{stem}-{family}", uri=uri,
            parent_run_id=parent_run_id,
            tags=tracking.standard_tags(
                dataset_hash=table.dataset_hash, config_hash=cfg.config_hash(),
                model_family=family, experiment=stem, data_path=str(lineage.resolve())),
        ) as run:
            log_common(run, cfg, table, lineage, stem)
            run.log_metrics(metrics)
            run.log_frame(summary, "split_summary.csv")
            yield run

    with family_run("xgboost", trained.metrics) as run:
        run.log_frame(registry_frame(table.registry).set_index("name"), "feature_registry.csv")
        run.log_frame(trained.importance, "feature_importance.csv")
        run.log_figure(importance_figure(trained.importance), "figures/feature_importance.png")
        log_evaluation(run, table, trained.scorer.predict_pd(table.X), "xgboost")
        info = run.log_xgboost(trained.scorer, table.X,
                               register_as=cfg.tracking.model_name
                               if cfg.tracking.register_model else None)
        trained.model_version = info["version"]
        run.set_tags({"toolkit.model_uri": info["model_uri"]})
        trained.run_ids["xgboost"] = run.run_id
        if after_fit is not None:
            after_fit(trained, run)
    if trained.scorecard is not None:
        with family_run("scorecard", trained.scorecard_metrics) as run:
            run.log_text(trained.scorecard.to_json(), "scorecard/scorecard.json")
            run.log_frame(trained.scorecard.table().set_index("feature"),
                          "scorecard/points.csv")
            log_evaluation(run, table, trained.scorecard.predict_pd(table.X), "scorecard")
            trained.run_ids["scorecard"] = run.run_id
    return trained


# -- reproduce -------------------------------------------------------------------------------

@dataclass
class Reproduction:
    run_id: str
    family: str
    identical_metrics: bool
    identical_model: bool
    differences: dict[str, tuple[float, float]]

    @property
    def identical(self) -> bool:
        return self.identical_metrics and self.identical_model


def logged_data(run_id: str, uri: str) -> tuple[Path, str]:
    """The data folder (or own table) a logged run used, and its recorded hash.

    Raises DataError when that data is gone.
    """
    import tempfile

    from toolkit import tracking

    with tempfile.TemporaryDirectory() as tmp:
        lineage = json.loads(tracking.download(run_id, "lineage.json", uri, tmp).read_text())
    data = Path(lineage["data"])
    data = data.parent if data.name == "manifest.json" else data
    if not data.exists():
        raise DataError(f"the data of run {run_id} ({str(data)!r}) is gone; regenerate it "
                        "with 'toolkit generate' from the run's config.json")
    return data, lineage["dataset_hash"]


def table_of_run(run_id: str, cfg: ExperimentConfig, uri: str) -> ModelTable:
    """The model table a logged run saw, refused if its data changed since (DataError)."""
    data, digest = logged_data(run_id, uri)
    table, _ = build_table(cfg, data)
    if table.dataset_hash != digest:
        raise DataError(f"data at {str(data)!r} changed since run {run_id} (hash "
                        f"{table.dataset_hash[:12]}, the run used {digest[:12]})")
    return table


def reproduce(run_id: str, *, uri: str | None = None) -> Reproduction:
    """Re-run a logged run from its logged config and dataset; compare metrics and bytes."""
    import tempfile

    from toolkit import tracking

    uri = tracking.connect(uri, must_exist=True)
    run_id = tracking.model_run(run_id, uri)
    run = tracking.get_run(run_id, uri)
    family = run.data.tags.get("toolkit.model_family")
    if family not in {"xgboost", "scorecard"}:
        raise DataError(f"run {run_id!r} is not a training run (model_family={family!r}); "
                        "reproduce takes an xgboost or scorecard run of toolkit train/run")
    kind = run.data.tags.get("toolkit.run_kind")
    if kind in {"tune", "trial"}:
        raise DataError(f"run {run_id!r} is a tuning {kind} run; reproduce takes an xgboost or "
                        "scorecard run of toolkit train/run (re-run a study with toolkit tune "
                        "--resume)")
    cfg = build_config(tracking.load_config_dict(run_id, uri), source=f"run {run_id}")
    table = table_of_run(run_id, cfg, uri)
    trained = fit_models(cfg, table)
    with tempfile.TemporaryDirectory() as tmp:
        if family == "xgboost":
            new_metrics = trained.metrics
            logged = tracking.download(run_id, "scorer/model.ubj", uri, tmp).read_bytes()
            same_model = logged == trained.scorer.to_bytes()
        else:
            new_metrics = trained.scorecard_metrics
            logged = tracking.download(run_id, "scorecard/scorecard.json", uri, tmp).read_text()
            same_model = logged == trained.scorecard.to_json()
    old = run.data.metrics
    diffs = {k: (old[k], new_metrics.get(k, float("nan"))) for k in old
             if k in new_metrics and old[k] != new_metrics[k]
             and not k.startswith("explain_")}
    missing = {k: (old[k], float("nan")) for k in old
               if k not in new_metrics and not k.startswith("explain_")}
    diffs.update(missing)
    return Reproduction(run_id=run_id, family=family, identical_metrics=not diffs,
                        identical_model=same_model, differences=diffs)
