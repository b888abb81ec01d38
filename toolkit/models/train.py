"""Training and evaluation of the scoring models (no tracking here; see toolkit.tracking)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.compute import active_client
from toolkit.config import ModelConfig, PolicyConfig
from toolkit.data.splits import SPLITS
from toolkit.data.table import ModelTable
from toolkit.errors import InputError, ToolkitWarning
from toolkit.links import logit
from toolkit.metrics import (
    SMALL_SPLIT_ROWS,
    auc,
    bootstrap_intervals,
    classification_metrics,
    psi,
)
from toolkit.models.xgb import XGBScorer, model_matrix
from toolkit.policy import policy_for, resolve_cutoffs
from toolkit.vocab import MECHANISMS

# One text whatever the subsample, so that a search whose trials draw it warns once.
SUBSAMPLE_ON_CLUSTER = (
    "[model] subsample < 1: on a Dask cluster xgboost samples each worker's rows apart, so "
    "the model differs slightly from the in-process one (as another model seed would); "
    "subsample = 1 gives the same model on either")


def xgb_params(cfg: ModelConfig, monotone: Sequence[int] | None) -> dict:
    """Native xgboost parameters for ``binary:logistic`` from the model config."""
    params = {
        "objective": "binary:logistic",
        "eval_metric": ["auc", "logloss"],
        "tree_method": "hist",
        "device": cfg.device,
        "eta": cfg.learning_rate,
        "max_depth": cfg.max_depth,
        "min_child_weight": cfg.min_child_weight,
        "subsample": cfg.subsample,
        "colsample_bytree": cfg.colsample_bytree,
        "lambda": cfg.reg_lambda,
        "alpha": cfg.reg_alpha,
        "seed": cfg.seed,
        "nthread": cfg.nthread,
    }
    if cfg.monotone and monotone is not None and any(monotone):
        params["monotone_constraints"] = "(" + ",".join(str(int(d)) for d in monotone) + ")"
    return params


def dmatrices(table: ModelTable):
    """Train and validation DMatrix of the table, built as the scorer predicts
    (:func:`toolkit.models.xgb.model_matrix`)."""
    Xt, yt = table.part("train")
    Xv, yv = table.part("valid")
    return model_matrix(Xt, yt), model_matrix(Xv, yv)


def fit_xgboost(table: ModelTable, cfg: ModelConfig, *, callbacks=None,
                matrices=None, progress: Callable[[int, int], None] | None = None) -> XGBScorer:
    """Fit on train with early stopping on validation logloss; return the cut scorer.

    Monotone constraints come from the registry directions of the table's features.
    progress(done, total): after every boosting round, with ``total`` the round limit; at
    the end (early stopping included) with ``done == total`` = the rounds trained.
    matrices: the pair of :func:`dmatrices`, or :class:`DaskMatrices` (trained on their
    cluster; no callbacks, and progress hears only of the end).
    """
    import xgboost as xgb

    if isinstance(matrices, DaskMatrices):
        if callbacks:
            raise ValueError("xgboost callbacks run on the Dask workers; none can be passed "
                             "with DaskMatrices")
        return fit_dask_matrices(matrices, table, cfg, progress=progress)
    client = active_client()
    if client is not None and matrices is None and not callbacks:
        return fit_dask_matrices(dask_matrices(client, table), table, cfg, progress=progress)
    dtrain, dvalid = matrices or dmatrices(table)
    callbacks = list(callbacks or [])
    if progress is not None:
        callbacks.append(_rounds(progress, cfg.n_estimators))
    booster = xgb.train(
        xgb_params(cfg, table.monotone), dtrain, num_boost_round=cfg.n_estimators,
        evals=[(dvalid, "valid")], early_stopping_rounds=cfg.early_stopping_rounds,
        verbose_eval=False, callbacks=callbacks or None,
    )
    best = int(getattr(booster, "best_iteration", booster.num_boosted_rounds() - 1))
    cut = booster[: best + 1]
    return XGBScorer(booster=cut, features=table.feature_names, best_iteration=best)


@dataclass(frozen=True)
class DaskMatrices:
    """A table's train and validation ``DaskDMatrix`` on a cluster, built once for the many
    fits of a search (its trials, the refit), as :func:`dmatrices` is in-process."""

    client: object
    train: object
    valid: object


def shared_matrices(table: ModelTable):
    """The matrices the fits of one table share: :class:`DaskMatrices` on the open
    cluster, else the in-process :func:`dmatrices`."""
    client = active_client()
    return dmatrices(table) if client is None else dask_matrices(client, table)


def dask_matrices(client, table: ModelTable) -> DaskMatrices:
    """The rows of train and validation spread over the workers, one block each.

    The histogram bins are the in-process ones: they are sketched here from the training
    rows (:func:`histogram_cuts`) and each worker's block of training rows is binned on
    them (:func:`on_cuts`) before it is sent, so with ``subsample = 1`` the booster is the
    in-process one (byte for byte in every comparison made; not guaranteed, since the
    workers add gradient sums in another order).  Validation rows go as they are: the
    trees evaluate them on thresholds that are cut values.
    """
    import dask.array as da
    import xgboost.dask as dxgb

    if table.categorical:
        raise InputError(
            f"training on a Dask cluster takes numeric features only; this table has the "
            f"category column(s) {', '.join(table.categorical[:5])}: set [compute] cluster "
            "= \"none\" (or --cluster none) to train in-process")
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise InputError("the Dask cluster has no workers to train on; start some with "
                         "'dask worker <scheduler address>'")
    names = table.feature_names

    def spread(split: str, binned: bool = False):
        # each block scattered to its worker: the rows travel once, not in the task graph
        X, y = table.part(split)
        A = X.to_numpy(np.float64)
        y = np.asarray(y, dtype=np.float64)
        cuts = histogram_cuts(A) if binned else None
        rows = max(-(-len(A) // len(workers)), 1)
        xs, ys = [], []
        for start, worker in zip(range(0, len(A), rows), workers, strict=False):
            block = A[start:start + rows]
            block = on_cuts(block, cuts) if binned else block
            for parts, b in ((xs, block), (ys, y[start:start + rows])):
                future = client.scatter(b, workers=[worker], hash=False)
                parts.append(da.from_delayed(future, shape=b.shape, dtype=b.dtype))
        return dxgb.DaskDMatrix(client, da.concatenate(xs), da.concatenate(ys),
                                feature_names=names)

    return DaskMatrices(client, spread("train", binned=True), spread("valid"))


def fit_dask_matrices(matrices: DaskMatrices, table: ModelTable, cfg: ModelConfig, *,
                      progress: Callable[[int, int], None] | None = None) -> XGBScorer:
    """:func:`fit_xgboost` on matrices already on the cluster with ``xgboost.dask``: the
    same parameters, monotone constraints and early stopping on validation logloss, each
    worker with its own threads.  progress: told only the rounds trained, at the end.

    With ``subsample < 1`` the model is not the in-process one (a warning says so, once a
    command): xgboost draws a row's coin from its position within the worker's block, so
    the sampled rows differ.
    """
    import xgboost.dask as dxgb

    if cfg.subsample < 1:
        warnings.warn(ToolkitWarning(SUBSAMPLE_ON_CLUSTER), stacklevel=2)
    params = xgb_params(cfg, table.monotone)
    # a worker's thread count is the worker's: nthread would override it on every worker
    params.pop("nthread", None)
    out = dxgb.train(matrices.client, params, matrices.train,
                     num_boost_round=cfg.n_estimators, evals=[(matrices.valid, "valid")],
                     early_stopping_rounds=cfg.early_stopping_rounds, verbose_eval=False)
    booster = out["booster"]
    rounds = booster.num_boosted_rounds()
    if progress is not None:
        progress(rounds, rounds)
    best = int(getattr(booster, "best_iteration", rounds - 1))
    return XGBScorer(booster=booster[: best + 1], features=table.feature_names,
                     best_iteration=best)


def histogram_cuts(X: np.ndarray, max_bin: int = 256) -> tuple[list[np.ndarray], np.ndarray]:
    """The bin boundaries ``hist`` training draws on ``X`` in-process: per column, the
    inner cut values (float32, increasing), and each column's smallest value.

    xgboost's own ``get_quantile_cut`` gives, per column, a lower sentinel, the inner cuts
    and an upper sentinel; a value ``x`` falls in the bin after the last inner cut ``<= x``
    (the first bin when there is none).
    """
    import xgboost as xgb

    ptr, values = xgb.QuantileDMatrix(X, max_bin=max_bin).get_quantile_cut()
    inner = [values[ptr[f] + 1: ptr[f + 1] - 1].astype(np.float32) for f in range(X.shape[1])]
    low = np.fmin.reduce(X, axis=0).astype(np.float32)  # fmin skips missing values
    return inner, low


def on_cuts(X: np.ndarray, cuts: tuple[list[np.ndarray], np.ndarray]) -> np.ndarray:
    """``X`` with each value replaced by the lower edge of its bin of ``cuts`` (the first
    bin by the column's smallest value); missing values stay missing.

    Every bin of ``cuts`` holds a training value, so the rows binned here have exactly one
    distinct value per bin: any quantile sketch of them, a distributed one included, finds
    the cuts again, and every training row lands in the bin it has in-process.
    """
    inner, low = cuts
    X = np.asarray(X, dtype=np.float32)
    out = np.empty_like(X)
    for f, c in enumerate(inner):
        x = X[:, f]
        j = np.searchsorted(c, x, side="right")
        edge = np.where(j == 0, low[f], c[np.maximum(j - 1, 0)]) if len(c) else \
            np.full(len(x), low[f], np.float32)
        out[:, f] = np.where(np.isnan(x), np.float32(np.nan), edge)
    return out


def _rounds(progress: Callable[[int, int], None], total: int):
    """An xgboost callback that reports boosting rounds; it never stops training."""
    import xgboost as xgb

    class Rounds(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            progress(epoch + 1, total)
            return False

        def after_training(self, model):
            done = model.num_boosted_rounds()
            progress(done, done)
            return model

    return Rounds()


def fit_oracle_xgboost(table: ModelTable, cfg: ModelConfig) -> XGBScorer:
    """The model's family fit to the noise-free truth: the same settings, monotone
    constraints and early stopping, but squared error on the true log-odds
    (``truth["true_logit"]``) of the training rows instead of log loss on the labels.

    Its margin is its estimate of the true log-odds, so explaining it shows what an explainer
    recovers from this model family when labels carry no noise (``explain_oracle_top1``).
    It is fit on the same rows as the model (the labelled training rows, validation for
    early stopping).  Needs a synthetic table (a truth).
    """
    import xgboost as xgb

    if table.truth is None:
        raise InputError("the oracle model needs the synthetic world's true log-odds; this "
                         "table has no truth")
    target = table.truth["true_logit"].to_numpy(np.float64)
    names = table.feature_names
    parts = []
    for split in ("train", "valid"):
        m = table.labelled_mask(split)
        parts.append(xgb.DMatrix(table.X[names][m].to_numpy(np.float64), label=target[m],
                                 feature_names=names))
    params = {**xgb_params(cfg, table.monotone), "objective": "reg:squarederror",
              "eval_metric": "rmse"}
    booster = xgb.train(params, parts[0], num_boost_round=cfg.n_estimators,
                        evals=[(parts[1], "valid")],
                        early_stopping_rounds=cfg.early_stopping_rounds, verbose_eval=False)
    best = int(getattr(booster, "best_iteration", booster.num_boosted_rounds() - 1))
    return XGBScorer(booster=booster[: best + 1], features=names, best_iteration=best)


def evaluate(table: ModelTable, pd_all: np.ndarray, policy: PolicyConfig | None,
             *, splits: Sequence[str] = SPLITS,
             intervals: bool = False) -> tuple[dict[str, float], pd.DataFrame]:
    """Credit metrics per split (and per regime) and the policy decisions of every row.

    pd_all: the model's PD for every row of the table, shape (n,).
    Returns ``(metrics, decisions)``: metrics named ``{split}_{metric}``; decisions is the
    :meth:`LimitPolicy.decide` frame indexed like ``table.X`` (None-policy: no decisions).

    Label-based metrics (AUC, KS, Brier, log loss, ECE, default rate, oracle AUC and the
    ratio) use the split's labelled rows only, and are repeated per regime with the suffix
    ``_normal`` or ``_stressed`` (when the table has a regime).  ``{split}_logit_bias_{regime}``
    is the mean of the model's log-odds minus the true log-odds over every row of the split
    in that regime (a truth metric, so censored rows count).  Decision metrics cover every
    row of the split.

    An own table's ``approval_rate`` sets the cutoff from this model's training PDs
    (:func:`toolkit.policy.resolve_cutoffs`); the cutoff used is the metric
    ``policy_cutoff``.  With ``intervals``, a split of fewer than 1,000 labelled rows also
    gets 95% bootstrap intervals of its AUC and KS (``{split}_auc_low`` / ``_high``,
    ``{split}_ks_low`` / ``_high``).
    """
    metrics: dict[str, float] = {}
    train_pd = pd_all[table.labelled_mask("train")]
    decisions = None
    if policy is not None:
        policy = resolve_cutoffs(policy, train_pd)
        if policy.approval_rate is not None or policy.cutoff is not None:
            metrics["policy_cutoff"] = policy.normal_cutoff
        decisions = policy_for(policy, table.features.columns, income=table.income_column,
                               income_scale=table.income_scale).decide(
            pd_all, table.stressed, table.features)
        decisions.index = table.X.index
    regime_masks = {"": None, "_normal": ~table.stressed, "_stressed": table.stressed} \
        if table.has_regime else {"": None}
    for s in splits:
        m_all = table.mask(s)
        if not m_all.any():
            continue
        for suffix, r in regime_masks.items():
            m = table.labelled_mask(s) & (True if r is None else r)
            if m.any():
                metrics.update(_label_metrics(table, pd_all, m, f"{s}_", suffix))
        labelled = table.labelled_mask(s)
        if intervals and 0 < labelled.sum() < SMALL_SPLIT_ROWS:
            for k, (low, high) in bootstrap_intervals(table.y[labelled],
                                                      pd_all[labelled]).items():
                metrics[f"{s}_{k}_low"], metrics[f"{s}_{k}_high"] = low, high
        metrics[f"{s}_psi"] = psi(train_pd, pd_all[m_all])
        metrics[f"{s}_rows"] = float(m_all.sum())
        metrics[f"{s}_labelled_rows"] = float(labelled.sum())
        metrics[f"{s}_stressed_share"] = float(table.stressed[m_all].mean())
        if table.truth is not None:
            margin = logit(pd_all)
            true_logit = table.truth["true_logit"].to_numpy(np.float64)
            for name, r in regime_masks.items():
                if r is None:
                    continue
                m = m_all & r
                if m.any():
                    metrics[f"{s}_logit_bias{name}"] = float(np.mean(margin[m] - true_logit[m]))
        if decisions is not None:
            d = decisions[m_all]
            metrics[f"{s}_zero_limit_rate"] = float(d["zero"].mean())
            for mech in MECHANISMS:
                metrics[f"{s}_n_{mech}"] = float((d["mechanism"] == mech).sum())
            if table.truth is not None:
                t = table.truth[m_all]
                metrics[f"{s}_decision_agreement"] = float(
                    (d["zero"].to_numpy() == t["true_zero"].to_numpy()).mean())
                metrics[f"{s}_mechanism_agreement"] = float(
                    (d["mechanism"].to_numpy() == t["true_mechanism"].astype(str).to_numpy())
                    .mean())
    return metrics, decisions


def _label_metrics(table: ModelTable, pd_all: np.ndarray, m: np.ndarray, prefix: str,
                   suffix: str) -> dict[str, float]:
    """The label-based metrics of the rows ``m`` (labelled rows only)."""
    y, p = table.y[m], pd_all[m]
    out = {f"{prefix}{k}{suffix}": v for k, v in classification_metrics(y, p).items()}
    out[f"{prefix}default_rate{suffix}"] = float(y.mean())
    if suffix:
        out[f"{prefix}labelled_rows{suffix}"] = float(m.sum())
    if table.truth is not None:
        oracle = auc(y, table.truth["true_pd"].to_numpy()[m])
        out[f"{prefix}oracle_auc{suffix}"] = oracle
        out[f"{prefix}auc_oracle_ratio{suffix}"] = out[f"{prefix}auc{suffix}"] / oracle
    return out


def monotonicity_violations(scorer: XGBScorer, X: pd.DataFrame, directions: Sequence[int],
                            *, n_rows: int = 200, n_grid: int = 15, seed: int = 0) -> dict:
    """Grid check: for each constrained feature, sweep it over its quantiles on sampled rows
    and count steps where the margin moves against the direction (beyond 1e-9).

    Returns ``{feature: violations}`` for every feature with a non-zero direction.
    """
    rng = np.random.default_rng(seed)
    rows = X.iloc[rng.choice(len(X), size=min(n_rows, len(X)), replace=False)]
    out = {}
    for name, d in zip(X.columns, directions, strict=True):
        if d == 0 or isinstance(X[name].dtype, pd.CategoricalDtype):
            continue
        grid = np.unique(np.quantile(X[name].to_numpy(), np.linspace(0, 1, n_grid)))
        if len(grid) < 2:
            out[name] = 0
            continue
        big = pd.concat([rows] * len(grid), ignore_index=True)
        big[name] = np.repeat(grid, len(rows))
        m = scorer.margin(big).reshape(len(grid), len(rows))
        steps = np.diff(m, axis=0) * d
        out[name] = int((steps < -1e-9).sum())
    return out


def importance_frame(scorer: XGBScorer, table: ModelTable) -> pd.DataFrame:
    """Total gain per model feature (0 for unused ones) with its reason group."""
    gain = scorer.booster.get_score(importance_type="gain")
    importance = pd.DataFrame({"gain": pd.Series(gain, dtype=float)}).reindex(
        table.feature_names).fillna(0.0)
    importance["group"] = [table.groups[f] for f in importance.index]
    return importance
