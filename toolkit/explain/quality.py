"""How well explanations recover the synthetic world's truth.  The metric names are a contract.

With ``model`` the explainer's output and ``truth`` the generator's truth table:

- ``explain_decision_agreement``: share of rows whose zero flag equals ``true_zero``.
- ``explain_mechanism_accuracy``: among rows that are zero-limit in the truth, the share whose
  mechanism equals ``true_mechanism``.
- ``explain_top1_group_accuracy``: among rows whose true mechanism is ``score`` and whose model
  PD fails the cutoff in force (``distance_logit >= 0``), the share whose top adverse group
  (largest positive group contribution) equals ``true_top1``.
- ``explain_top3_group_recall``: over the same rows, the share of the true top-3 adverse
  groups (``true_top1..3``, blanks dropped) found in the model's top 3.
- ``explain_group_rank_corr``: over the same rows, the mean per-row Spearman correlation
  between the model's group contributions and the true ``contrib_<group>`` (rows where either
  vector is constant are skipped).
- ``explain_additivity_max_error``: the largest ``|sum of SHAP + base - margin|``.

Rows with no true adverse group (blank ``true_top1``) are left out of the three group metrics.
A metric with no rows to average is NaN.  ``suffix`` names the variant (``_interventional``,
``_scorecard``).  :func:`truth_metrics_by_regime` adds every metric again within the normal
and within the stressed months (suffix ``_normal`` / ``_stressed`` after the variant's).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from toolkit.explain.groups import top_groups

METRIC_NAMES = (
    "explain_decision_agreement",
    "explain_mechanism_accuracy",
    "explain_top1_group_accuracy",
    "explain_top3_group_recall",
    "explain_group_rank_corr",
    "explain_additivity_max_error",
)


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


def top1_accuracy(G: np.ndarray, order: Sequence[str], true_top1: np.ndarray) -> float:
    """Share of rows whose top adverse group is ``true_top1`` (rows with a blank truth dropped)."""
    t = np.asarray(true_top1).astype(str)
    ok = t != ""
    if not ok.any():
        return float("nan")
    return float((top_groups(G, order, 1)[:, 0][ok] == t[ok]).mean())


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


def _ranks(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=1)


def rank_corr(G: np.ndarray, true_G: np.ndarray) -> float:
    """Mean over rows of the Spearman correlation between two (n, g) arrays."""
    if len(G) == 0:
        return float("nan")
    a = _ranks(np.asarray(G, np.float64))
    b = _ranks(np.asarray(true_G, np.float64))
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    ok = den > 0
    if not ok.any():
        return float("nan")
    return float(((a * b).sum(axis=1)[ok] / den[ok]).mean())


def truth_metrics(
    G: pd.DataFrame,
    decisions: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    additivity_max_error: float,
    suffix: str = "",
    population: pd.Index | None = None,
) -> dict[str, float]:
    """All :data:`METRIC_NAMES` (with ``suffix``) for one explainer.

    G: group contributions (log-odds; positive = toward default) of the explained rows,
        index = user ids, columns = groups (those with a ``contrib_<group>`` in the truth).
    decisions: the policy frame (``zero``, ``mechanism``, ``distance_logit``) of the
        evaluated population (e.g. the whole test split), indexed by user id.
    truth: the truth table, indexed by user id (``true_zero``, ``true_mechanism``,
        ``true_top1..3``, ``contrib_<group>``).
    population: the rows the decision metrics average over (default: ``decisions.index``).

    The group metrics average over rows of ``G`` that meet their selection; rows of the
    selection that ``G`` lacks (not explained, e.g. beyond ``interventional_rows``) are left
    out, so pass SHAP for every zero-limit row to get the full figure.
    """
    pop = decisions.index if population is None else population
    d = decisions.loc[pop]
    t = truth.loc[pop]
    out = {
        "explain_decision_agreement": decision_agreement(d["zero"], t["true_zero"]),
        "explain_mechanism_accuracy": mechanism_accuracy(d["mechanism"], t["true_mechanism"],
                                                         t["true_zero"]),
    }
    sel = (t["true_mechanism"].astype(str).to_numpy() == "score") & \
        (d["distance_logit"].to_numpy(np.float64) >= 0)
    ids = pop[sel].intersection(G.index, sort=False)
    order = [g for g in G.columns if f"contrib_{g}" in truth.columns]
    Gs = G.loc[ids, order].to_numpy(np.float64)
    ts = truth.loc[ids]
    true_top = ts[["true_top1", "true_top2", "true_top3"]].astype(str).to_numpy()
    blank = true_top[:, 0] == ""
    out["explain_top1_group_accuracy"] = top1_accuracy(Gs, order, true_top[:, 0])
    out["explain_top3_group_recall"] = top3_recall(Gs, order, true_top)
    true_G = ts[[f"contrib_{g}" for g in order]].to_numpy(np.float64)
    out["explain_group_rank_corr"] = rank_corr(Gs[~blank], true_G[~blank])
    out["explain_additivity_max_error"] = float(additivity_max_error)
    out["explain_group_rows"] = float(len(ids))
    return {f"{k}{suffix}": v for k, v in out.items()}


def truth_metrics_by_regime(G: pd.DataFrame, decisions: pd.DataFrame, truth: pd.DataFrame, *,
                            additivity_max_error: float, suffix: str = "",
                            population: pd.Index | None = None) -> dict[str, float]:
    """:func:`truth_metrics` over ``population``, then within each regime of the truth.

    The regime is the truth's ``regime`` at each row's decision month; the per-regime
    variants leave out ``explain_additivity_max_error`` (a property of the SHAP values, not
    of a population).
    """
    pop = decisions.index if population is None else population
    out = truth_metrics(G, decisions, truth, additivity_max_error=additivity_max_error,
                        suffix=suffix, population=pop)
    if "regime" not in truth.columns:
        return out
    stressed = truth.loc[pop, "regime"].astype(str).to_numpy() == "stressed"
    for name, m in (("normal", ~stressed), ("stressed", stressed)):
        if not m.any():
            continue
        part = truth_metrics(G, decisions, truth, additivity_max_error=additivity_max_error,
                             suffix=f"{suffix}_{name}", population=pop[m])
        part.pop(f"explain_additivity_max_error{suffix}_{name}")
        out.update(part)
    return out
