"""The main job: every stage of an experiment under one MLflow parent run.

generate (or reuse) -> features -> train (or tune) -> explain -> report.  A stage that fails
marks the parent run (and the stage's own run) FAILED; the local report folder is built
under a temporary name and renamed only when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from toolkit.config import ExperimentConfig
from toolkit.data.table import ModelTable, from_dataset
from toolkit.workflows.train import Trained, build_table, load_or_generate, train_experiment

STAGES = ("generate", "features", "train", "explain", "report")
OUTPUTS = Path("outputs")


class StageHooks:
    """Progress callbacks: ``start(stage)``, ``advance(done, total)`` and ``finish(stage)``."""

    def start(self, stage: str) -> None: ...

    def advance(self, done: int, total: int) -> None: ...

    def finish(self, stage: str) -> None: ...


@dataclass
class Explained:
    """The explanation stage's output for the model and its baselines."""

    primary: object  # toolkit.explain.ExplanationResult
    metrics: dict[str, float]
    scorecard_metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class RunSummary:
    """What ``toolkit run`` prints at the end."""

    stem: str
    parent_run_id: str
    run_ids: dict[str, str]
    metrics: dict[str, float]
    mechanism_counts: dict[str, int]
    examples: dict[str, pd.DataFrame]
    report: Path | None
    uri: str
    tuned: bool = False


def explain_stage(cfg: ExperimentConfig, trained: Trained, *, uri: str,
                  out: Path | None, title: str | None = None) -> Explained:
    """Explain the test split's zero-limit users; log metrics and artifacts to the model runs.

    Logs ``explain_*`` (configured mode), the other SHAP mode's metrics (suffix) and the
    scorecard's (``_scorecard``) on the xgboost run, and the scorecard's on its own run.
    Writes reasons.parquet, report.html and figures into ``out`` (built as a temp folder,
    then renamed) and logs that folder as ``explanations/``.
    """
    from toolkit import tracking
    from toolkit.explain import explain_scorecard, explain_table

    table = trained.table
    res = explain_table(trained.scorer, table, trained.decisions, cfg.explain, policy=cfg.policy)
    metrics = dict(res.metrics)
    sc_metrics: dict[str, float] = {}
    if table.truth is not None:
        other = "interventional" if cfg.explain.mode == "path" else "path"
        metrics.update(explain_table(trained.scorer, table, trained.decisions, cfg.explain,
                                     policy=cfg.policy, mode=other, change=False).metrics)
        if trained.scorecard is not None:
            sc_metrics = explain_scorecard(trained.scorecard, table, None, cfg.explain,
                                           policy=cfg.policy).metrics
            metrics.update(sc_metrics)
    written = None
    if out is not None:
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            res.write(tmp, title=title or f"Why users hit zero limit: run "
                                          f"{trained.run_ids.get('xgboost')}")
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        written = out
    with tracking.start_run(run_id=trained.run_ids["xgboost"], experiment=cfg.tracking.experiment,
                            run_name="", tags={}, uri=uri) as run:
        run.log_metrics(metrics)
        if written is not None:
            run.log_folder(written, "explanations")
    if sc_metrics and "scorecard" in trained.run_ids:
        with tracking.start_run(run_id=trained.run_ids["scorecard"], uri=uri, run_name="",
                                tags={}, experiment=cfg.tracking.experiment) as run:
            run.log_metrics(sc_metrics)
    return Explained(primary=res, metrics=metrics, scorecard_metrics=sc_metrics)


def examples_by_mechanism(res, *, lang: str) -> dict[str, pd.DataFrame]:
    """One example user per mechanism (the first explained), with its reason rows."""
    reasons = res.reasons_in(lang)
    out = {}
    for mech in ("score", "policy", "monitoring"):
        users = reasons.loc[reasons["mechanism"] == mech, "user_id"]
        if len(users):
            out[mech] = reasons[reasons["user_id"] == users.iloc[0]]
    return out


def preflight(cfg: ExperimentConfig, data: str | Path | None = None) -> None:
    """Refuse bad input before a run is opened, so that it leaves nothing behind.

    Checks the monitoring rules, that the split boundaries leave no split empty over the
    calendar's observation months, and the dataset folder or own table with its schema.
    """
    import numpy as np

    from toolkit.data.splits import assign_splits
    from toolkit.data.table import read_table, validate_table
    from toolkit.policy import LimitPolicy
    from toolkit.workflows.train import check_dataset

    if cfg.data.table is not None:
        path = Path(data) if data is not None else Path(cfg.data.table)
        validate_table(read_table(path), cfg.data.table_schema, str(path))
        return
    LimitPolicy(cfg.policy)
    months = np.arange(cfg.world.first_obs_month, cfg.world.calendar_months)
    if cfg.split.method == "out_of_time":
        assign_splits(months, months, cfg.split, cfg.world)
    check_dataset(cfg, data)


@contextmanager
def _stage(name: str, hooks: StageHooks, parent, timings: dict[str, float]):
    """Time a stage; if it raises, tag the parent run with the stage that failed."""
    hooks.start(name)
    t0 = time.perf_counter()
    try:
        yield
    except BaseException:
        parent.set_tags({"toolkit.failed_stage": name})
        raise
    timings[f"stage_{name}_seconds"] = time.perf_counter() - t0
    hooks.finish(name)


def run_experiment(cfg: ExperimentConfig, *, stem: str, data: str | Path | None = None,
                   uri: str | None = None, hooks: StageHooks | None = None,
                   outputs: Path = OUTPUTS,
                   tune_options: dict | None = None) -> RunSummary:
    """Run every stage of the experiment under one parent run named ``stem``.

    The parent run holds the config, the dataset hash, the split summary, the test and
    explanation metrics, ``stage_<name>_seconds`` for each stage and the explanations; the
    model runs (or the tuning study) are its children.  A failing stage marks the parent
    FAILED with the tag ``toolkit.failed_stage``.
    """
    from toolkit import tracking
    from toolkit.workflows.train import summary_frame

    hooks = hooks or StageHooks()
    preflight(cfg, data)
    uri = tracking.connect(uri, cfg.tracking.uri)
    own_table = cfg.data.table is not None
    timings: dict[str, float] = {}
    with tracking.start_run(
        experiment=cfg.tracking.experiment, run_name=stem, uri=uri,
        tags=tracking.standard_tags(dataset_hash="pending", config_hash=cfg.config_hash(),
                                    model_family="pipeline", experiment=stem),
    ) as parent:
        parent.log_params(cfg.flat())
        parent.log_dict(cfg.model_dump(mode="json", by_alias=True), "config.json")

        with _stage("generate", hooks, parent, timings):
            ds = None if own_table else load_or_generate(cfg, data, progress=hooks.advance)

        with _stage("features", hooks, parent, timings):
            if own_table:
                prepared: tuple[ModelTable, Path] = build_table(cfg, data)
            else:
                prepared = (from_dataset(ds, cfg), ds.path / "manifest.json")
            table = prepared[0]
            parent.set_tags({"toolkit.dataset_hash": table.dataset_hash})

        tuned = cfg.tune is not None
        with _stage("train", hooks, parent, timings):
            if tuned:
                from toolkit.workflows.tune import tune_experiment

                # after_fit: the explanation stage below explains the refit model once.
                trained = tune_experiment(cfg, stem=stem, uri=uri, parent_run_id=parent.run_id,
                                          prepared=prepared, after_fit=lambda _t, _r: None,
                                          **(tune_options or {}))
            else:
                trained = train_experiment(cfg, stem=stem, uri=uri,
                                           parent_run_id=parent.run_id, prepared=prepared)

        out = outputs / f"{stem}-{parent.run_id[:8]}"
        with _stage("explain", hooks, parent, timings):
            explained = explain_stage(
                cfg, trained, uri=uri, out=out / "explanations",
                title=f"{stem}: why users hit zero limit (run {parent.run_id[:8]})")

        with _stage("report", hooks, parent, timings):
            metrics = {**trained.metrics, **explained.metrics}
            res = explained.primary
            counts = res.decisions.loc[res.decisions["zero"], "mechanism"].value_counts()
            parent.log_metrics(metrics)
            parent.log_frame(summary_frame(table, trained.decisions), "split_summary.csv")
            parent.log_folder(out / "explanations", "explanations")
        parent.log_metrics(timings)
    return RunSummary(
        stem=stem, parent_run_id=parent.run_id, run_ids=dict(trained.run_ids),
        metrics=metrics, mechanism_counts={str(k): int(v) for k, v in counts.items()},
        examples=examples_by_mechanism(res, lang=cfg.explain.lang),
        report=out / "explanations" / "report.html", uri=uri, tuned=tuned,
    )


@dataclass
class LoadedRun:
    """A logged xgboost run, rebuilt: its config, data table, model and policy decisions."""

    run_id: str
    cfg: ExperimentConfig
    trained: Trained
    uri: str


def load_logged_run(run_id: str, *, uri: str | None = None) -> LoadedRun:
    """Rebuild what a logged xgboost run saw: config, data (hash-checked), model, decisions.

    Raises InputError for an unknown run id or a run with no model.
    """
    from toolkit import tracking
    from toolkit.config import build_config
    from toolkit.models.scorecard import Scorecard
    from toolkit.models.train import evaluate
    from toolkit.workflows.train import table_of_run

    uri = tracking.connect(uri, must_exist=True)
    run_id = tracking.model_run(run_id, uri)
    scorer = tracking.load_scorer(run_id, uri)
    cfg = build_config(tracking.load_config_dict(run_id, uri), source=f"run {run_id}")
    table = table_of_run(run_id, cfg, uri)
    _, decisions = evaluate(table, scorer.predict_pd(table.X), cfg.policy, splits=())
    run_ids = {"xgboost": run_id}
    scorecard = None
    sibling = tracking.sibling_run(run_id, uri, "scorecard")
    if sibling is not None:
        # the baseline's reasons give the _scorecard metrics of the three-way comparison
        with tempfile.TemporaryDirectory() as tmp:
            text = tracking.download(sibling, "scorecard/scorecard.json", uri, tmp).read_text()
        scorecard = Scorecard.from_json(text)
        run_ids["scorecard"] = sibling
    trained = Trained(table=table, scorer=scorer, scorecard=scorecard, metrics={},
                      scorecard_metrics={}, decisions=decisions, importance=pd.DataFrame(),
                      run_ids=run_ids)
    return LoadedRun(run_id=run_id, cfg=cfg, trained=trained, uri=uri)
