"""Reading a logged run back: its config, its data (hash-checked, never regenerated), its
model and decisions; and ``toolkit reproduce``, which re-trains it and compares."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from toolkit import tracking
from toolkit.config import ExperimentConfig, build_config
from toolkit.data.table import ModelTable
from toolkit.errors import DataError, InputError
from toolkit.models.scorecard import Scorecard
from toolkit.models.train import evaluate
from toolkit.models.xgb import XGBScorer
from toolkit.source import load_table
from toolkit.workflows.fitted import Fitted, fit_models


def logged_data(run_id: str, uri: str, *, own_table: bool = False) -> tuple[Path, str]:
    """The data folder (or own table) a logged run used, and its recorded hash.

    Raises DataError when that data is gone, saying how to get it back: an own table has to
    be put back where it was; a synthetic dataset can be generated again.
    """
    with tempfile.TemporaryDirectory() as tmp:
        lineage = json.loads(tracking.download(run_id, "lineage.json", uri, tmp).read_text())
    data = Path(lineage["data"])
    data = data.parent if data.name == "manifest.json" else data
    if own_table and not data.is_file():
        raise DataError(f"the own table of run {run_id} is missing: {str(data)!r} does not "
                        f"exist; put the table back there (SHA-256 "
                        f"{lineage['dataset_hash'][:12]}...)")
    if not data.exists():
        raise DataError(f"the data of run {run_id} ({str(data)!r}) is gone; regenerate it "
                        "with 'toolkit generate' from the run's config.json")
    return data, lineage["dataset_hash"]


def table_of_run(run_id: str, cfg: ExperimentConfig, uri: str) -> ModelTable:
    """The model table a logged run saw, refused if its data changed since (DataError)."""
    data, digest = logged_data(run_id, uri, own_table=cfg.data.table is not None)
    table = load_table(cfg, data)
    if table.dataset_hash != digest:
        raise DataError(f"data at {str(data)!r} changed since run {run_id} (hash "
                        f"{table.dataset_hash[:12]}, the run used {digest[:12]})")
    return table


def load_scorer(run_id: str, uri: str) -> XGBScorer:
    """The xgboost scorer logged by a run (exact bytes); InputError if the run has no model."""
    tracking.get_run(run_id, uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            f = tracking.download(run_id, "scorer/model.ubj", uri, tmp)
        except InputError:
            raise InputError(f"run {run_id!r} has no model (it logged no scorer/model.ubj)") \
                from None
        return XGBScorer.load(f)


# What the stages after training log on the model run (``toolkit run``): re-fitting the
# model does not recompute them, so they are neither compared nor carried over.
LATER_STAGE_METRICS = ("explain_", "recourse_", "audit_")


def _model_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """A logged run's model metrics (``{split}_{metric}``), without the explanation, recourse
    and audit metrics the later stages logged beside them."""
    return {k: v for k, v in metrics.items() if not k.startswith(LATER_STAGE_METRICS)}


@dataclass
class LoadedRun:
    """A logged xgboost run, rebuilt: its config, data table, model and policy decisions."""

    run_id: str
    cfg: ExperimentConfig
    fitted: Fitted
    uri: str

    @contextmanager
    def child_run(self, kind: str, cfg: ExperimentConfig | None = None,
                  **tags: str) -> Iterator[tracking.Run]:
        """A new child run ``<run name>-<kind>`` of this model run, tagged and with the
        config's parameters, so that a command on a finished run never reopens it.

        cfg: the settings the command ran with (default: the run's); tags: extra
        ``toolkit.`` tags (which run it explains or audits).
        """
        cfg = cfg or self.cfg
        record = tracking.get_run(self.run_id, self.uri)
        all_tags = tracking.standard_tags(
            dataset_hash=self.fitted.table.dataset_hash, config_hash=cfg.config_hash(),
            model_family=kind, run_kind=kind,
            experiment=record.tags.get("toolkit.experiment", ""), **tags)
        name = record.name or self.run_id[:8]
        with tracking.start_run(experiment=cfg.tracking.experiment, run_name=f"{name}-{kind}",
                                tags=all_tags, uri=self.uri, parent_run_id=self.run_id) as run:
            run.log_params(cfg.flat())
            yield run


def load_logged_run(run_id: str, *, uri: str | None = None) -> LoadedRun:
    """Rebuild what a logged xgboost run saw: config, data (hash-checked), model, decisions,
    and its scorecard sibling when there is one.

    Raises InputError for an unknown run id or a run with no model.
    """
    uri = tracking.connect(uri, must_exist=True)
    run_id = tracking.model_run(run_id, uri)
    scorer = load_scorer(run_id, uri)
    cfg = build_config(tracking.load_config_dict(run_id, uri), source=f"run {run_id}")
    table = table_of_run(run_id, cfg, uri)
    _, decisions = evaluate(table, scorer.predict_pd(table.X), cfg.policy, splits=())
    run_ids = {"xgboost": run_id}
    scorecard, card_metrics = None, {}
    sibling = tracking.sibling_run(run_id, uri, "scorecard")
    if sibling is not None:
        # the baseline's reasons give the _scorecard metrics of the comparison
        with tempfile.TemporaryDirectory() as tmp:
            text = tracking.download(sibling, "scorecard/scorecard.json", uri, tmp).read_text()
        scorecard = Scorecard.from_json(text)
        run_ids["scorecard"] = sibling
        card_metrics = _model_metrics(tracking.get_run(sibling, uri).metrics)
    fitted = Fitted(table=table, lineage=None, scorer=scorer, scorecard=scorecard,
                    metrics=_model_metrics(tracking.get_run(run_id, uri).metrics),
                    scorecard_metrics=card_metrics, decisions=decisions,
                    importance=pd.DataFrame(), run_ids=run_ids)
    return LoadedRun(run_id=run_id, cfg=cfg, fitted=fitted, uri=uri)


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


def reproduce(run_id: str, *, uri: str | None = None) -> Reproduction:
    """Re-run a logged run from its logged config and dataset; compare metrics and bytes."""
    uri = tracking.connect(uri, must_exist=True)
    run_id = tracking.model_run(run_id, uri)
    run = tracking.get_run(run_id, uri)
    family = run.tags.get("toolkit.model_family")
    if family not in {"xgboost", "scorecard"}:
        raise DataError(f"run {run_id!r} is not a training run (model_family={family!r}); "
                        "reproduce takes an xgboost or scorecard run of toolkit train/run")
    kind = run.tags.get("toolkit.run_kind")
    if kind in {"tune", "trial"}:
        raise DataError(f"run {run_id!r} is a tuning {kind} run; reproduce takes an xgboost or "
                        "scorecard run of toolkit train/run (re-run a study with toolkit tune "
                        "--resume)")
    cfg = build_config(tracking.load_config_dict(run_id, uri), source=f"run {run_id}")
    fitted = fit_models(cfg, table_of_run(run_id, cfg, uri))
    with tempfile.TemporaryDirectory() as tmp:
        if family == "xgboost":
            new_metrics = fitted.metrics
            logged = tracking.download(run_id, "scorer/model.ubj", uri, tmp).read_bytes()
            same_model = logged == fitted.scorer.to_bytes()
        else:
            new_metrics = fitted.scorecard_metrics
            logged = tracking.download(run_id, "scorecard/scorecard.json", uri, tmp).read_text()
            same_model = logged == fitted.scorecard.to_json()
    old = _model_metrics(run.metrics)
    diffs = {k: (v, new_metrics.get(k, float("nan"))) for k, v in old.items()
             if new_metrics.get(k) != v}
    return Reproduction(run_id=run_id, family=family, identical_metrics=not diffs,
                        identical_model=same_model, differences=diffs)
