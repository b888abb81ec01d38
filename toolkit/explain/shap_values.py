"""SHAP values of the scorer in log-odds (margin) space, with an additivity check.

The algorithms behind the xgboost explainers (:mod:`toolkit.explain.explainers`):

- :func:`path_shap`: path-dependent TreeSHAP.  For an xgboost model ``shap.TreeExplainer``
  in this mode simply calls ``Booster.predict(pred_contribs=True)`` (measured with xgboost
  3.2 and shap 0.51: the values are identical, max |diff| 0.0; ``tests/test_explain.py``
  checks it), so we call the native routine directly on one DMatrix that also gives the
  margin.  That skips shap's import (2 s) and a second conversion of the rows, and it is the
  fastest exact TreeSHAP on this stack.  The base value is the bias column, never
  ``explainer.expected_value``.
- :func:`tree_shapley`: exact Shapley values against a background, leaf by leaf
  (:mod:`toolkit.explain.group_shapley`): with one player per feature they are
  interventional TreeSHAP, with the reason groups as players exact group Shapley values.
- :func:`interventional_shap`: the same interventional values from
  ``shap.TreeExplainer(booster, data=masker, feature_perturbation="interventional")``.
  shap 0.51 wraps a background frame in ``maskers.Independent(data, max_samples=100)`` and
  so silently drops all but 100 rows; the masker is passed explicitly with
  ``max_samples=len(background)``.  Its cost grows with rows x background x leaves (about
  100 rows/s with 1,000 background rows on the default model), which is why the explainers
  use :func:`tree_shapley`; the tests hold the two equal.

All return a :class:`ShapValues`: values plus base equal the model margin within
:data:`ADDITIVITY_TOLERANCE` (the largest error is kept as ``additivity_max_error``).
The booster is already cut at its best iteration (:class:`toolkit.models.xgb.XGBScorer`), so no
``iteration_range`` is needed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.errors import InputError
from toolkit.explain.group_shapley import GroupShapley
from toolkit.links import sigmoid

ADDITIVITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ShapValues:
    """SHAP values of ``n`` rows over ``p`` features, all in log-odds of default.

    values: shape (n, p), float64, columns in ``features`` order.
    base: shape (n,), the base value of each row (constant in path mode).
    margin: shape (n,), the model's log-odds as the booster predicts them.
    index: the rows' index (``user_id`` for synthetic tables).
    features: the p feature names.
    mode: the explainer's name (``"path"``, ``"interventional"``, ``"group"``, ...).
    additivity_max_error: ``max |values.sum(1) + base - margin|``.
    """

    values: np.ndarray
    base: np.ndarray
    margin: np.ndarray
    index: pd.Index
    features: tuple[str, ...]
    mode: str
    additivity_max_error: float

    def __len__(self) -> int:
        return len(self.margin)

    @property
    def pd(self) -> np.ndarray:
        """Probability of default from the margin, shape (n,)."""
        return sigmoid(self.margin)

    def frame(self) -> pd.DataFrame:
        """Feature-level values as a DataFrame (index = rows, one column per feature)."""
        return pd.DataFrame(self.values, index=self.index, columns=list(self.features))

    @classmethod
    def concat(cls, parts: Sequence[ShapValues]) -> ShapValues:
        """The rows of ``parts`` (at least one, same features and mode) in order."""
        first = parts[0]
        return cls(np.concatenate([p.values for p in parts]),
                   np.concatenate([p.base for p in parts]),
                   np.concatenate([p.margin for p in parts]),
                   first.index.append([p.index for p in parts[1:]]) if len(parts) > 1
                   else first.index, first.features, first.mode,
                   max(p.additivity_max_error for p in parts))

    def take(self, rows: np.ndarray) -> ShapValues:
        """The subset of rows ``rows`` (positions or a boolean mask)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return ShapValues(self.values[rows], self.base[rows], self.margin[rows],
                          self.index[rows], self.features, self.mode,
                          max_additivity_error(self.values[rows], self.base[rows],
                                               self.margin[rows]))


def max_additivity_error(values: np.ndarray, base: np.ndarray, margin: np.ndarray) -> float:
    if len(margin) == 0:
        return 0.0
    return float(np.max(np.abs(values.sum(axis=1) + base - margin)))


def _check_columns(scorer, X: pd.DataFrame) -> None:
    missing = [c for c in scorer.features if c not in X.columns]
    if missing:
        raise InputError(f"rows lack model feature column(s): {', '.join(missing[:5])}; "
                         f"the model expects {len(scorer.features)} columns")


def _matrix(scorer, X: pd.DataFrame) -> np.ndarray:
    _check_columns(scorer, X)
    return np.ascontiguousarray(X[scorer.features].to_numpy(np.float64))


def check_interventional(scorer) -> None:
    """InputError when interventional TreeSHAP cannot explain ``scorer``: shap has no
    interventional algorithm for categorical splits."""
    cats = scorer.categorical
    if cats:
        raise InputError(
            f"interventional SHAP cannot explain categorical splits (column"
            f"{'s' if len(cats) > 1 else ''} {', '.join(map(repr, cats[:5]))}); use "
            "[explain] mode = \"path\"")


def path_shap(scorer, X: pd.DataFrame) -> ShapValues:
    """Exact path-dependent TreeSHAP of every row of ``X`` (see the module docstring)."""

    p = len(scorer.features)
    if len(X) == 0:
        z = np.zeros(0)
        return ShapValues(np.zeros((0, p)), z, z, X.index, tuple(scorer.features), "path", 0.0)
    _check_columns(scorer, X)
    dm = scorer.dmatrix(X)
    contribs = scorer.booster.predict(dm, pred_contribs=True).astype(np.float64)
    margin = scorer.booster.predict(dm, output_margin=True).astype(np.float64)
    values, base = contribs[:, :-1], contribs[:, -1].copy()
    return ShapValues(np.ascontiguousarray(values), base, margin, X.index,
                      tuple(scorer.features), "path", max_additivity_error(values, base, margin))


def tree_shapley(scorer, X: pd.DataFrame, background: pd.DataFrame,
                 groups: Mapping[str, str] | None = None, *, mode: str) -> ShapValues:
    """Exact Shapley values of every row of ``X`` against ``background``, leaf by leaf.

    groups: feature -> player; None makes every feature its own player (interventional
    TreeSHAP), the reason groups give exact group Shapley values (Owen values per feature).
    mode: the name the values carry (the explainer's).  For many calls against one
    background, bind a :class:`~toolkit.explain.group_shapley.GroupShapley` once and use
    :func:`from_engine`.
    """
    players = groups if groups is not None else {f: f for f in scorer.features}
    engine = GroupShapley(scorer.booster, scorer.features, players, background)
    return from_engine(engine, X, mode=mode)


def from_engine(engine: GroupShapley, X: pd.DataFrame, *, mode: str) -> ShapValues:
    """:class:`ShapValues` of ``X`` from a bound :class:`GroupShapley`."""
    values, base, margin = engine.values(X)
    return ShapValues(values, base, margin, X.index, tuple(engine.features), mode,
                      max_additivity_error(values, base, margin))


def interventional_shap(scorer, X: pd.DataFrame, background: pd.DataFrame, *,
                        chunk_rows: int = 32, n_jobs: int = 1) -> ShapValues:
    """Interventional TreeSHAP from shap against every row of ``background`` (raw margin
    output, float64).

    background: rows with the model's feature columns; all of them are used (shap's default
        masker would keep 100).
    chunk_rows: rows per call into shap.  Short calls keep shap's C extension from drawing
        its progress bar on stderr (it does for calls of several seconds) and let
        ``n_jobs`` threads share the work (results do not depend on either setting).
    """
    import shap
    import xgboost as xgb

    check_interventional(scorer)
    if len(background) == 0:
        raise InputError("the interventional background is empty; it needs at least one row")
    bg = pd.DataFrame(_matrix(scorer, background), columns=list(scorer.features))
    Xf = pd.DataFrame(_matrix(scorer, X), columns=list(scorer.features))
    masker = shap.maskers.Independent(bg, max_samples=len(bg))
    explainer = shap.TreeExplainer(scorer.booster, data=masker, model_output="raw",
                                   feature_perturbation="interventional")

    def run(start: int) -> tuple[np.ndarray, np.ndarray]:
        part = Xf.iloc[start:start + chunk_rows]
        expl = explainer(part, check_additivity=False)
        base = np.broadcast_to(np.asarray(expl.base_values, dtype=np.float64), (len(part),))
        return np.asarray(expl.values, dtype=np.float64), base

    starts = range(0, len(Xf), max(1, int(chunk_rows)))
    if n_jobs > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(s) for s in starts]
    if parts:
        values = np.vstack([v for v, _ in parts])
        base = np.concatenate([b for _, b in parts])
    else:
        values, base = np.zeros((0, len(scorer.features))), np.zeros(0)
    dm = xgb.DMatrix(Xf.to_numpy(), feature_names=list(scorer.features))
    margin = scorer.booster.predict(dm, output_margin=True).astype(np.float64)
    return ShapValues(np.ascontiguousarray(values), base, margin, X.index,
                      tuple(scorer.features), "interventional",
                      max_additivity_error(values, base, margin))


def sample_rows(X: pd.DataFrame, mask: np.ndarray | None, size: int | None, *,
                seed: int = 0) -> pd.DataFrame:
    """A seeded sample of ``size`` rows of ``X`` where ``mask`` holds (None: every row),
    without replacement, in table order; all of them when ``size`` is None or larger."""
    pool = np.arange(len(X)) if mask is None else np.flatnonzero(np.asarray(mask, dtype=bool))
    if size is not None and size < len(pool):
        rng = np.random.default_rng(seed)
        pool = np.sort(rng.choice(pool, size=size, replace=False))
    return X.iloc[pool]


def approved_background(X: pd.DataFrame, decisions: pd.DataFrame, size: int, *,
                        seed: int = 0, mask: np.ndarray | None = None) -> pd.DataFrame:
    """A sample of ``size`` approved rows of ``X`` (without replacement).

    decisions: the policy frame aligned with ``X`` (column ``zero``).
    mask: optional extra restriction (e.g. the training split), shape (n,).
    """
    ok = ~decisions["zero"].to_numpy(bool)
    if mask is not None:
        ok &= np.asarray(mask, dtype=bool)
    if not ok.any():
        raise InputError("no approved users to form the interventional background")
    return sample_rows(X, ok, size, seed=seed)


def interaction_values(scorer, X: pd.DataFrame) -> np.ndarray:
    """Path-dependent SHAP interaction values, shape (n, p, p), log-odds (bias dropped).

    Cost grows with p times the cost of :func:`path_shap`: run it on a sample
    (``ExplainConfig.interaction_sample`` rows).
    """
    _check_columns(scorer, X)
    inter = scorer.booster.predict(scorer.dmatrix(X), pred_interactions=True)
    return np.asarray(inter, dtype=np.float64)[:, :-1, :-1]


def top_interactions(scorer, X: pd.DataFrame, *, n_pairs: int = 10) -> pd.DataFrame:
    """The ``n_pairs`` feature pairs with the largest mean |interaction| over the rows of ``X``.

    Returns columns ``feature_a``, ``feature_b``, ``mean_abs_interaction`` (both symmetric
    halves together, log-odds); ``attrs["rows"]`` holds the sample size.
    """
    inter = interaction_values(scorer, X)
    p = inter.shape[1]
    strength = 2.0 * np.abs(inter).mean(axis=0) if len(inter) else np.zeros((p, p))
    a, b = np.triu_indices(p, k=1)
    s = strength[a, b]
    order = np.argsort(-s, kind="stable")[:n_pairs]
    names = np.asarray(scorer.features, dtype=object)
    out = pd.DataFrame({"feature_a": names[a[order]], "feature_b": names[b[order]],
                        "mean_abs_interaction": s[order]})
    out.attrs["rows"] = len(X)
    return out
