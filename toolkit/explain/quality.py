"""How well explanations recover the synthetic world's truth.  The metric names are a contract.

Which rows.  The decision metrics average over the evaluated population (e.g. the test
split).  The group metrics average over its rows whose *true* mechanism is ``score`` and
whose true top adverse group is not blank (:func:`group_rows`), whatever the model decided:
a selection that depends on the model's own decisions could be gamed (shifting every margin
changes which rows count without changing a single SHAP value).

With ``G`` an explainer's group contributions on those rows, ``C`` the truth's
(``contrib_<group>``, log-odds, positive toward default) and "top group" the largest
positive contribution (blank when none is positive):

- ``explain_decision_agreement``: share of rows whose zero flag equals ``true_zero``.
- ``explain_mechanism_accuracy``: among rows that are zero-limit in the truth, the share whose
  mechanism equals ``true_mechanism``.
- ``explain_top1_group_accuracy``: share whose top group is ``true_top1``.
- ``explain_top1_tolerant_accuracy``: share whose top group's true contribution is within
  :data:`TOLERANCE` (0.1) log-odds of the true maximum (a near-tie counts as right).
- ``explain_top1_clear_accuracy``: top-1 accuracy on the rows whose true top two
  contributions differ by more than :data:`CLEAR_GAP` (0.2); ``explain_clear_share``: the
  share of such rows (a property of the world, the same for every explainer).
- ``explain_top1_regret``: mean of (true maximum − true contribution of the top group),
  log-odds; a blank top group counts as contributing 0.
- ``explain_top1_baseline``: top-1 accuracy of the best constant answer, the group that is
  most often the true top group among the training split's selected rows;
  ``explain_top1_skill`` = (accuracy − baseline) / (1 − baseline).
- ``explain_top3_group_recall``: share of the true top-3 adverse groups (blanks dropped)
  found among the explainer's top 3.
- ``explain_group_rank_corr``: mean per-row Spearman correlation between ``G`` and ``C`` over
  the adverse groups only, those positive in either (the ones a reason could name); rows
  with fewer than two such groups, or a constant side, are skipped.
- ``explain_fidelity_top1``: share whose top group equals the top group of the *same model's*
  exact group Shapley values against the whole population, the truth's reference
  (explainer error alone);
- ``explain_alignment_top1``: top-1 accuracy of that exact attribution (model error alone);
- ``explain_oracle_top1``: top-1 accuracy of the same explainer on a model of the same family
  fit to the noise-free true logit (the ceiling of this explainer in this world).
- ``explain_additivity_max_error``: the largest ``|sum of values + base - margin|`` (holds by
  construction; logged, but not a headline figure: :data:`HEADLINE_METRICS`).
- ``explain_group_rows``: how many rows the group metrics averaged over.

A metric with no rows to average is NaN; fidelity, alignment, oracle and baseline are NaN
when their input is not given.  ``suffix`` names the variant (``_interventional``,
``_scorecard``).  :func:`truth_metrics_by_regime` adds every metric again within the normal
and within the stressed months (suffix ``_normal`` / ``_stressed`` after the variant's).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from toolkit.explain.groups import top_groups
from toolkit.vocab import contrib_column, true_top_columns

TOLERANCE = 0.1
CLEAR_GAP = 0.2

METRIC_NAMES = (
    "explain_decision_agreement",
    "explain_mechanism_accuracy",
    "explain_top1_group_accuracy",
    "explain_top1_tolerant_accuracy",
    "explain_top1_clear_accuracy",
    "explain_clear_share",
    "explain_top1_regret",
    "explain_top1_baseline",
    "explain_top1_skill",
    "explain_top3_group_recall",
    "explain_group_rank_corr",
    "explain_fidelity_top1",
    "explain_alignment_top1",
    "explain_oracle_top1",
    "explain_additivity_max_error",
)
#: The figures a results table shows; the additivity error holds by construction.
HEADLINE_METRICS = tuple(m for m in METRIC_NAMES if m != "explain_additivity_max_error")
#: Metrics that are shares, in [0, 1] (skill may fall below 0: worse than the constant
#: answer; the rank correlation lies in [-1, 1]; regret is in log-odds, lower is better).
SHARE_METRICS = tuple(m for m in HEADLINE_METRICS
                      if m not in ("explain_top1_regret", "explain_group_rank_corr",
                                   "explain_top1_skill"))


def decision_agreement(zero: np.ndarray, true_zero: np.ndarray) -> float:
    zero, true_zero = np.asarray(zero, bool), np.asarray(true_zero, bool)
    return float((zero == true_zero).mean()) if len(zero) else float("nan")


def mechanism_accuracy(mechanism: np.ndarray, true_mechanism: np.ndarray,
                       true_zero: np.ndarray) -> float:
    m = np.asarray(true_zero, bool)
    if not m.any():
        return float("nan")
    a = np.asarray(mechanism).astype(str)[m]
    b = np.asarray(true_mechanism).astype(str)[m]
    return float((a == b).mean())


def group_rows(truth: pd.DataFrame, population: pd.Index) -> pd.Index:
    """The rows of ``population`` the group metrics average over: true mechanism ``score``
    and a true top adverse group, whatever any model decided.  Keeps ``population`` order."""
    t = truth.loc[population]
    keep = (t["true_mechanism"].astype(str).to_numpy() == "score") & \
        (t[true_top_columns(1)[0]].astype(str).to_numpy() != "")
    return population[keep]


def constant_baseline(truth: pd.DataFrame, rows: pd.Index, order: Sequence[str]) -> str:
    """The best constant top-1 answer on ``rows``: the most frequent true top group (ties go
    to the earlier group of ``order``); "" when there are no rows."""
    top = truth.loc[rows, true_top_columns(1)[0]].astype(str).to_numpy()
    top = top[top != ""]
    if not len(top):
        return ""
    counts = {g: int((top == g).sum()) for g in order}
    return max(order, key=lambda g: (counts[g], -list(order).index(g)))


def _picked(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The position of each row's top adverse group and whether it has one."""
    G = np.asarray(G, np.float64)
    pos = np.argmax(G, axis=1) if G.shape[1] else np.zeros(len(G), np.int64)
    has = G[np.arange(len(G)), pos] > 0 if G.shape[1] else np.zeros(len(G), bool)
    return pos, has


def top1_accuracy(G: np.ndarray, order: Sequence[str], true_top1: np.ndarray) -> float:
    """Share of rows whose top adverse group is ``true_top1`` (rows with a blank truth dropped)."""
    t = np.asarray(true_top1).astype(str)
    ok = t != ""
    if not ok.any():
        return float("nan")
    return float((top_groups(G, order, 1)[:, 0][ok] == t[ok]).mean())


def tolerant_accuracy(G: np.ndarray, C: np.ndarray, tolerance: float = TOLERANCE) -> float:
    """Share of rows whose top adverse group's true contribution is within ``tolerance`` of
    the row's true maximum.  G, C: (n, g) in the same group order; a blank top is wrong."""
    if len(G) == 0:
        return float("nan")
    C = np.asarray(C, np.float64)
    pos, has = _picked(G)
    chosen = C[np.arange(len(C)), pos]
    return float((has & (chosen >= C.max(axis=1) - tolerance)).mean())


def top1_regret(G: np.ndarray, C: np.ndarray) -> float:
    """Mean true contribution lost by naming the explainer's top group instead of the true
    one (log-odds, >= 0); a blank top group contributes 0."""
    if len(G) == 0:
        return float("nan")
    C = np.asarray(C, np.float64)
    pos, has = _picked(G)
    chosen = np.where(has, C[np.arange(len(C)), pos], 0.0)
    return float((C.max(axis=1) - chosen).mean())


def top2_gap(C: np.ndarray) -> np.ndarray:
    """The gap between each row's largest and second-largest true contribution, shape (n,)."""
    C = np.sort(np.asarray(C, np.float64), axis=1)
    if C.shape[1] < 2:
        return np.full(len(C), np.inf)
    return C[:, -1] - C[:, -2]


def skill(accuracy: float, baseline: float) -> float:
    """(accuracy − baseline) / (1 − baseline): 0 for the constant answer, 1 for perfect."""
    if not np.isfinite(accuracy) or not np.isfinite(baseline) or baseline >= 1.0:
        return float("nan")
    return float((accuracy - baseline) / (1.0 - baseline))


def top3_recall(G: np.ndarray, order: Sequence[str], true_top: np.ndarray) -> float:
    """Mean share of each row's true top groups (n, 3; blanks ignored) in the model's top 3."""
    true_top = np.asarray(true_top).astype(str)
    model = top_groups(G, order, 3).astype(str)
    hits = np.zeros(len(true_top))
    count = (true_top != "").sum(axis=1)
    for k in range(true_top.shape[1]):
        t = true_top[:, k:k + 1]
        hits += ((model == t).any(axis=1) & (t[:, 0] != ""))
    ok = count > 0
    return float((hits[ok] / count[ok]).mean()) if ok.any() else float("nan")


def _masked_ranks(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties shared) of each row's entries among its masked entries."""
    lower = (a[:, None, :] < a[:, :, None]) & mask[:, None, :]
    equal = (a[:, None, :] == a[:, :, None]) & mask[:, None, :]
    return 1.0 + lower.sum(axis=2) + 0.5 * (equal.sum(axis=2) - 1)


def rank_corr(G: np.ndarray, true_G: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean over rows of the Spearman correlation between two (n, g) arrays, over the
    entries of ``mask`` (default: all); rows with fewer than two entries or a constant side
    are skipped."""
    G = np.asarray(G, np.float64)
    T = np.asarray(true_G, np.float64)
    if len(G) == 0:
        return float("nan")
    mask = np.ones(G.shape, bool) if mask is None else np.asarray(mask, bool)
    a, b = _masked_ranks(G, mask), _masked_ranks(T, mask)
    k = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(mask, a - (a * mask).sum(axis=1, keepdims=True) / k[:, None], 0.0)
        b = np.where(mask, b - (b * mask).sum(axis=1, keepdims=True) / k[:, None], 0.0)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    ok = (k >= 2) & (den > 0)
    if not ok.any():
        return float("nan")
    return float(((a * b).sum(axis=1)[ok] / den[ok]).mean())


def adverse_rank_corr(G: np.ndarray, true_G: np.ndarray) -> float:
    """:func:`rank_corr` over the groups adverse in either array (positive contribution)."""
    G = np.asarray(G, np.float64)
    T = np.asarray(true_G, np.float64)
    return rank_corr(G, T, (G > 0) | (T > 0))


def top1_agreement(G: np.ndarray, H: np.ndarray, order: Sequence[str]) -> float:
    """Share of rows whose top adverse group (blank included) is the same in G and H."""
    if len(G) == 0:
        return float("nan")
    return float((top_groups(G, order, 1)[:, 0] == top_groups(H, order, 1)[:, 0]).mean())


def _on(frame: pd.DataFrame | None, ids: pd.Index, order: list[str]) -> np.ndarray | None:
    if frame is None:
        return None
    missing = ids.difference(frame.index)
    if len(missing):
        raise ValueError(f"the comparison attributions lack {len(missing)} of the measured rows")
    return frame.loc[ids, order].to_numpy(np.float64)


def truth_metrics(
    G: pd.DataFrame,
    decisions: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    additivity_max_error: float,
    suffix: str = "",
    population: pd.Index | None = None,
    baseline: str | None = None,
    exact: pd.DataFrame | None = None,
    oracle: pd.DataFrame | None = None,
) -> dict[str, float]:
    """All :data:`METRIC_NAMES` (with ``suffix``) for one explainer.

    G: group contributions (log-odds; positive = toward default) of the explained rows,
        index = user ids, columns = groups (those with a ``contrib_<group>`` in the truth).
    decisions: the policy frame (``zero``, ``mechanism``) of the evaluated population (e.g.
        the whole test split) under the explained model, indexed by user id.
    truth: the truth table, indexed by user id (``true_zero``, ``true_mechanism``,
        ``true_top1..3``, ``contrib_<group>``).
    population: the rows the metrics average over (default: ``decisions.index``).
    baseline: the constant top-1 answer (:func:`constant_baseline` on the training rows).
    exact: the same model's exact group attribution against the population (fidelity and
        alignment), and oracle: the explainer's group contributions on the model fit to the
        true logit; both cover at least the measured rows.

    The group metrics average over :func:`group_rows` of ``population`` that ``G`` holds:
    rows ``G`` lacks (an explainer that measures a seeded sample) are left out.
    """
    pop = decisions.index if population is None else population
    d = decisions.loc[pop]
    t = truth.loc[pop]
    out = {
        "explain_decision_agreement": decision_agreement(d["zero"], t["true_zero"]),
        "explain_mechanism_accuracy": mechanism_accuracy(d["mechanism"], t["true_mechanism"],
                                                         t["true_zero"]),
    }
    ids = group_rows(truth, pop).intersection(G.index, sort=False)
    order = [g for g in G.columns if contrib_column(g) in truth.columns]
    Gs = G.loc[ids, order].to_numpy(np.float64)
    ts = truth.loc[ids]
    true_top = ts[true_top_columns(3)].astype(str).to_numpy()
    C = ts[[contrib_column(g) for g in order]].to_numpy(np.float64)
    clear = top2_gap(C) > CLEAR_GAP
    accuracy = top1_accuracy(Gs, order, true_top[:, 0])
    out["explain_top1_group_accuracy"] = accuracy
    out["explain_top1_tolerant_accuracy"] = tolerant_accuracy(Gs, C)
    out["explain_top1_clear_accuracy"] = top1_accuracy(Gs[clear], order, true_top[clear, 0])
    out["explain_clear_share"] = float(clear.mean()) if len(ids) else float("nan")
    out["explain_top1_regret"] = top1_regret(Gs, C)
    base = float((true_top[:, 0] == baseline).mean()) if baseline and len(ids) else float("nan")
    out["explain_top1_baseline"] = base
    out["explain_top1_skill"] = skill(accuracy, base)
    out["explain_top3_group_recall"] = top3_recall(Gs, order, true_top)
    out["explain_group_rank_corr"] = adverse_rank_corr(Gs, C)
    exact_G = _on(exact, ids, order)
    oracle_G = _on(oracle, ids, order)
    nan = float("nan")
    out["explain_fidelity_top1"] = top1_agreement(Gs, exact_G, order) \
        if exact_G is not None else nan
    out["explain_alignment_top1"] = top1_accuracy(exact_G, order, true_top[:, 0]) \
        if exact_G is not None else nan
    out["explain_oracle_top1"] = top1_accuracy(oracle_G, order, true_top[:, 0]) \
        if oracle_G is not None else nan
    out["explain_additivity_max_error"] = float(additivity_max_error)
    out["explain_group_rows"] = float(len(ids))
    return {f"{k}{suffix}": v for k, v in out.items()}


def truth_metrics_by_regime(G: pd.DataFrame, decisions: pd.DataFrame, truth: pd.DataFrame, *,
                            additivity_max_error: float, suffix: str = "",
                            population: pd.Index | None = None, **compare
                            ) -> dict[str, float]:
    """:func:`truth_metrics` over ``population``, then within each regime of the truth.

    The regime is the truth's ``regime`` at each row's decision month; the per-regime
    variants leave out ``explain_additivity_max_error`` (a property of the values, not of a
    population).  compare: ``baseline``, ``exact``, ``oracle`` of :func:`truth_metrics`.
    """
    pop = decisions.index if population is None else population
    out = truth_metrics(G, decisions, truth, additivity_max_error=additivity_max_error,
                        suffix=suffix, population=pop, **compare)
    if "regime" not in truth.columns:
        return out
    stressed = truth.loc[pop, "regime"].astype(str).to_numpy() == "stressed"
    for name, m in (("normal", ~stressed), ("stressed", stressed)):
        if not m.any():
            continue
        part = truth_metrics(G, decisions, truth, additivity_max_error=additivity_max_error,
                             suffix=f"{suffix}_{name}", population=pop[m], **compare)
        part.pop(f"explain_additivity_max_error{suffix}_{name}")
        out.update(part)
    return out


def top1_stability(top1: Sequence[np.ndarray]) -> float:
    """Share of rows whose top-1 group is the same under every model.

    top1: one (n,) array of group names per model, rows aligned.  NaN with no rows;
    1.0 with a single model.
    """
    arrays = [np.asarray(a).astype(str) for a in top1]
    if not arrays or len(arrays[0]) == 0:
        return float("nan")
    same = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays[1:]:
        same &= a == arrays[0]
    return float(same.mean())
