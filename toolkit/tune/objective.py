"""One trial: suggest parameters, train with a pruning callback, measure, log a child run.

Each trial is a nested MLflow run under the study's parent run (logged explicitly; Optuna's
MLflowCallback is deprecated).  A trial run holds:

- params ``model.<field>`` for every tuned field and ``trial.number``;
- metrics ``train_*`` and ``valid_*`` (never test: the test split judges only the refit),
  ``best_iteration``, the objective values under their names (``val_auc``) and, for an
  explanation objective, ``explain_*_valid``;
- tags ``toolkit.trial_state`` (``complete``, ``pruned`` or ``fail``), ``toolkit.trial``,
  ``toolkit.study``, ``toolkit.run_kind`` = ``trial`` and the standard lineage tags
  (``toolkit.model_family`` = ``tune-trial``: a trial run holds no model).

A pruned trial logs ``pruned_iteration`` and ``<metric>_at_prune`` (the last value the pruner
saw) instead of the final metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from toolkit import tracking
from toolkit.config import ExperimentConfig
from toolkit.config.tune import Objective
from toolkit.data.table import ModelTable
from toolkit.models.train import evaluate, fit_xgboost
from toolkit.processes import hold
from toolkit.tracking import NullRun
from toolkit.tune.quality import explain_metrics
from toolkit.tune.space import model_config, suggest
from toolkit.tune.study import RUN_ATTR, WORKER_ATTR, worker_identity

_PRUNING_CLASS = None
REPORT_EVERY = 10
"""Rounds between reports to the pruner.  Each report is a storage write and each pruning
check a storage read; on this data one boosting round takes a few milliseconds, so reporting
every round made a pruned search slower than an unpruned one."""


def pruning_callback(trial, key: str, every: int = REPORT_EVERY):
    """``optuna_integration.XGBoostPruningCallback`` on ``key`` (``valid-auc``) that reports
    rounds 0, every, 2 x every, ... and remembers the last round and value it reported."""
    global _PRUNING_CLASS
    if _PRUNING_CLASS is None:
        from optuna_integration import XGBoostPruningCallback

        class SparsePruningCallback(XGBoostPruningCallback):
            def __init__(self, trial, observation_key, every):
                super().__init__(trial, observation_key)
                self.every = every
                self.last: tuple[int, float] | None = None

            def after_iteration(self, model, epoch, evals_log):
                if epoch % self.every:
                    return False
                data, metric = self._observation_key.split("-", 1)
                self.last = (int(epoch), float(evals_log[data][metric][-1]))
                return super().after_iteration(model, epoch, evals_log)

        _PRUNING_CLASS = SparsePruningCallback
    return _PRUNING_CLASS(trial, key, every)


class TrialRuns:
    """Opens the child run of each trial under ``parent_run_id`` (None: log nothing)."""

    def __init__(self, *, uri: str | None, experiment: str, parent_run_id: str | None,
                 stem: str, study_name: str, tags: Mapping[str, str]):
        self.uri = uri
        self.experiment = experiment
        self.parent_run_id = parent_run_id
        self.stem = stem
        self.study_name = study_name
        self.tags = dict(tags)  # computed once per worker: standard_tags runs git

    @contextmanager
    def open(self, trial):
        if self.parent_run_id is None:
            yield NullRun()
            return
        tags = {**self.tags, "toolkit.trial": str(trial.number),
                "toolkit.study": self.study_name}
        with tracking.start_run(experiment=self.experiment, run_name=f"{self.stem}-trial-"
                                f"{trial.number}", tags=tags, uri=self.uri,
                                parent_run_id=self.parent_run_id) as run:
            yield run


def trial_metrics(scorer, table: ModelTable, cfg: ExperimentConfig,
                  objectives: Sequence[Objective]) -> dict[str, float]:
    """Train and validation metrics of a trial's model (plus explain metrics when asked)."""

    pd_all = scorer.predict_pd(table.X)
    metrics, decisions = evaluate(table, pd_all, cfg.policy, splits=("train", "valid"))
    metrics["best_iteration"] = float(scorer.best_iteration)
    if any(o.explain for o in objectives):
        metrics.update(explain_metrics(scorer, table, decisions, "valid", config=cfg.explain,
                                       suffix="_valid"))
    return metrics


class TrialObjective:
    """The Optuna objective: returns one value per objective (a float for one objective).

    table, matrices: the model table and its (train, valid) DMatrix pair, built once.
    space: the resolved search space; nthread: threads per trial (cores / workers).
    prune: report the objective's xgboost metric every round to the study's pruner.
    """

    def __init__(self, *, table: ModelTable, matrices, cfg: ExperimentConfig,
                 space: Mapping[str, Any], objectives: Sequence[Objective], prune: bool,
                 nthread: int, runs: TrialRuns):
        self.table = table
        self.matrices = matrices
        self.cfg = cfg
        self.space = space
        self.objectives = list(objectives)
        self.prune = prune and len(self.objectives) == 1 and self.objectives[0].xgb_key
        self.nthread = nthread
        self.runs = runs
        self.identity = worker_identity()

    def __call__(self, trial):
        import optuna

        # Who runs the trial: lets a worker on this host fail it at once if we die.
        trial.set_user_attr(WORKER_ATTR, {**self.identity, "trial": trial.number})
        params = suggest(trial, self.space)
        model_cfg = model_config(self.cfg.model, params, nthread=self.nthread)
        pruned: optuna.TrialPruned | None = None
        with self.runs.open(trial) as run:
            if run.run_id:
                trial.set_user_attr(RUN_ATTR, run.run_id)
            run.log_params({**{f"model.{k}": v for k, v in params.items()},
                            "trial.number": trial.number})
            hold("tune.trial")
            callback = pruning_callback(trial, self.objectives[0].xgb_key) \
                if self.prune else None
            try:
                scorer = fit_xgboost(self.table, model_cfg, matrices=self.matrices,
                                     callbacks=[callback] if callback else None)
            except optuna.TrialPruned as err:
                pruned = err
                epoch, value = callback.last
                run.log_metrics({"pruned_iteration": float(epoch),
                                 f"{self.objectives[0].metric}_at_prune": value})
                run.set_tags({"toolkit.trial_state": "pruned"})
            else:
                metrics = trial_metrics(scorer, self.table, self.cfg, self.objectives)
                values = [metrics.get(o.metric, float("nan")) for o in self.objectives]
                metrics.update({o.name: v for o, v in zip(self.objectives, values, strict=True)})
                run.log_metrics(metrics)
                ok = all(math.isfinite(v) for v in values)
                run.set_tags({"toolkit.trial_state": "complete" if ok else "fail"})
                trial.set_user_attr("best_iteration", int(scorer.best_iteration))
        if pruned is not None:
            raise pruned
        # Optuna fails a trial whose value is NaN (no rows for an explanation metric).
        values = [float(v) if np.isfinite(v) else float("nan") for v in values]
        return values[0] if len(values) == 1 else values
