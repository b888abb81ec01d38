"""What training produces, as one type for ``train`` and ``tune``, and how a model run is
logged (one helper for both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.config import ExperimentConfig
from toolkit.data.features import registry_frame
from toolkit.data.splits import split_summary
from toolkit.data.table import ModelTable
from toolkit.models.plots import calibration_figure, importance_figure, roc_ks_figure
from toolkit.models.scorecard import Scorecard, fit_scorecard
from toolkit.models.train import evaluate, fit_xgboost, importance_frame
from toolkit.models.xgb import XGBScorer
from toolkit.tracking import Run


@dataclass
class Fitted:
    """A fitted xgboost model (and scorecard baseline) with its metrics and decisions.

    table, lineage: the model table and its dataset manifest or own table file;
    metrics / scorecard_metrics: ``{split}_{metric}`` (metrics also gets the ``explain_*``
    of the run's explanation stage, once it ran);
    decisions: the policy frame of every table row under the xgboost PDs;
    run_ids: ``{"xgboost": ..., "scorecard": ...}``, the runs holding the models;
    model_version: the registered version when the model became its dataset's champion;
    champion: the :class:`toolkit.workflows.champion.ChampionDecision` once logged;
    study: the tuning outcome (:class:`toolkit.workflows.tune.StudyOutcome`) when the model
    is a tuned refit, else None; explained: what the run's explanation stage returned
    (:class:`toolkit.workflows.explain.Explained`), if it ran.
    """

    table: ModelTable
    lineage: Path | None
    scorer: XGBScorer
    scorecard: Scorecard | None
    metrics: dict[str, float]
    scorecard_metrics: dict[str, float]
    decisions: pd.DataFrame
    importance: pd.DataFrame
    run_ids: dict[str, str] = field(default_factory=dict)
    model_version: str | None = None
    study: Any = None
    explained: Any = None
    champion: Any = None

    @property
    def models(self) -> dict[str, object]:
        """The fitted models by family, as explainers name them (``Explainer.model``)."""
        return {"xgboost": self.scorer, "scorecard": self.scorecard}

    @property
    def run_id(self) -> str | None:
        """The run holding the xgboost model."""
        return self.run_ids.get("xgboost")


def fit_models(cfg: ExperimentConfig, table: ModelTable, *, lineage: Path | None = None,
               matrices=None, scorecard: bool | None = None,
               progress: Callable[[int, int], None] | None = None) -> Fitted:
    """Fit xgboost (``cfg.model``) and, if enabled, the scorecard; evaluate both on every
    split.  matrices: an already built (train, valid) DMatrix pair; progress(done, total):
    boosting rounds (:func:`toolkit.models.train.fit_xgboost`)."""
    scorer = fit_xgboost(table, cfg.model, matrices=matrices, progress=progress)
    metrics, decisions = evaluate(table, scorer.predict_pd(table.X), cfg.policy,
                                  intervals=True)
    metrics["best_iteration"] = float(scorer.best_iteration)
    card, card_metrics = None, {}
    if cfg.scorecard.enabled if scorecard is None else scorecard:
        Xt, yt = table.part("train")
        card = fit_scorecard(Xt, yt, cfg.scorecard, table.monotone)
        card_metrics, _ = evaluate(table, card.predict_pd(table.X), cfg.policy, intervals=True)
    return Fitted(table=table, lineage=lineage, scorer=scorer, scorecard=card,
                  metrics=metrics, scorecard_metrics=card_metrics, decisions=decisions,
                  importance=importance_frame(scorer, table))


def summary_frame(table: ModelTable, decisions: pd.DataFrame) -> pd.DataFrame:
    """Rows, labelled share, default rate and zero-limit rate by split and regime."""
    regime = np.where(table.stressed, "stressed", "normal")
    label = np.where(table.labelled, table.y, np.nan)
    frame = pd.DataFrame({"split": table.split, "default_12m": label,
                          "zero": decisions["zero"].to_numpy(), "regime": regime})
    return split_summary(frame)


def log_evaluation(run: Run, table: ModelTable, pd_all: np.ndarray, tag: str) -> None:
    """ROC/KS and calibration figures of a model's PDs on the test split's labelled rows."""
    m = table.labelled_mask("test")
    title, outcome = f"({tag}, test)", table.outcome
    run.log_figure(roc_ks_figure(table.y[m], pd_all[m], title=title, outcome=outcome),
                   "figures/roc_ks.png")
    run.log_figure(calibration_figure(table.y[m], pd_all[m], title=title, outcome=outcome),
                   "figures/calibration.png")


def log_xgboost_model(run: Run, cfg: ExperimentConfig, fitted: Fitted, *, tag: str,
                      uri: str) -> None:
    """Everything a run holding an xgboost model logs about it (``toolkit train`` and the
    tuned refit alike): registry, importance, split summary, evaluation figures, the model
    itself and its URI tag; then the champion rule (:mod:`toolkit.workflows.champion`)
    registers it if it is the best on its data.  Sets ``fitted.champion`` and
    ``fitted.model_version`` (None unless registered)."""
    from toolkit.workflows.champion import promote

    table = fitted.table
    run.log_frame(registry_frame(table.registry).set_index("name"), "feature_registry.csv")
    run.log_frame(fitted.importance, "feature_importance.csv")
    run.log_figure(importance_figure(fitted.importance), "figures/feature_importance.png")
    run.log_frame(summary_frame(table, fitted.decisions), "split_summary.csv")
    log_evaluation(run, table, fitted.scorer.predict_pd(table.X), tag)
    info = run.log_xgboost(fitted.scorer, table.X)
    run.set_tags({"toolkit.model_uri": info["model_uri"]})
    fitted.champion = promote(run, cfg, test_auc=fitted.metrics["test_auc"],
                              dataset_hash=table.dataset_hash, model_uri=info["model_uri"],
                              uri=uri)
    fitted.model_version = fitted.champion.version
