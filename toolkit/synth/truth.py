"""The true PD and its decomposition into reason-group terms.

    true_pd = sigmoid(INTERCEPT + sum over groups of term_g(drivers))

Each group term is a documented function of named driver quantities, which are registry
features computed point-in-time from the history (so they never see the future).  The macro
term is the ``market_conditions`` group's term: it reads the market liquidity index at the
as-of month, which every user (and the platform) observes.  A group's
true contribution for a user is its term minus the population mean of that term; the true
adverse reasons are the groups with positive contributions, ranked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from toolkit.metrics import auc
from toolkit.ranking import top_adverse
from toolkit.vocab import REASON_GROUPS

INTERCEPT = -3.1
MACRO_COEF = 0.5

ArrayMap = Mapping[str, np.ndarray]


def _repayment(f: ArrayMap) -> np.ndarray:
    return 0.26 * f["late_cnt_6m"] + 0.3 * np.log1p(f["max_dpd_12m"] / 30.0)


def _utilization(f: ArrayMap) -> np.ndarray:
    return 1.1 * f["util_mean_3m"] ** 2 + 0.8 * np.maximum(f["util_trend_6m"], 0.0)


def _borrowing(f: ArrayMap) -> np.ndarray:
    return 0.27 * np.log1p(f["draw_cnt_3m"]) + 0.27 * np.log1p(f["inq_cnt_6m"])


def _liquidity(f: ArrayMap) -> np.ndarray:
    return (0.6 * f["inflow_cv_6m"] - 0.25 * np.log1p(f["min_balance_3m"] / 1000.0)
            + 0.25 * f["income_shock_cnt_12m"])


def _activity(f: ArrayMap) -> np.ndarray:
    return -0.5 * np.log1p(f["txn_mean_6m"])


def _social(f: ArrayMap) -> np.ndarray:
    return 1.4 * f["social_mean_6m"]


def _tenure(f: ArrayMap) -> np.ndarray:
    return -0.35 * np.log1p(f["tenure_months"] / 12.0) - 0.25 * np.log(f["income"] / 8000.0)


def _market(f: ArrayMap) -> np.ndarray:
    # Only a liquidity shortfall raises the hazard; a liquid market does not lower it.
    return MACRO_COEF * np.maximum(-f["liquidity_index"], 0.0)


#: group -> (term function, driver features it reads)
TRUTH_TERMS: dict[str, tuple[Callable[[ArrayMap], np.ndarray], tuple[str, ...]]] = {
    "repayment_history": (_repayment, ("late_cnt_6m", "max_dpd_12m")),
    "utilization_debt": (_utilization, ("util_mean_3m", "util_trend_6m")),
    "borrowing_behavior": (_borrowing, ("draw_cnt_3m", "inq_cnt_6m")),
    "liquidity_income": (_liquidity, ("inflow_cv_6m", "min_balance_3m", "income_shock_cnt_12m")),
    "platform_activity": (_activity, ("txn_mean_6m",)),
    "social_network": (_social, ("social_mean_6m",)),
    "tenure_profile": (_tenure, ("tenure_months", "income")),
    "market_conditions": (_market, ("liquidity_index",)),
}
assert tuple(TRUTH_TERMS) == REASON_GROUPS

#: Every feature the truth reads, in registry naming.
DRIVERS: tuple[str, ...] = tuple(d for _, ds in TRUTH_TERMS.values() for d in ds)


def group_terms(features: ArrayMap) -> pd.DataFrame:
    """One column ``term_<group>`` per reason group (log-odds)."""
    # plain arrays: pandas arithmetic per term costs more than the terms themselves
    f = {d: np.asarray(features[d], dtype=np.float64) for d in DRIVERS}
    return pd.DataFrame({f"term_{g}": fn(f) for g, (fn, _) in TRUTH_TERMS.items()})


def true_logit(terms: pd.DataFrame) -> np.ndarray:
    """``INTERCEPT`` plus the sum of every group's term (the macro term included)."""
    return INTERCEPT + terms.to_numpy().sum(axis=1)


def monthly_hazard(pd_: np.ndarray, window: int) -> np.ndarray:
    """The monthly default hazard of a ``window``-month PD: ``1 - (1 - pd) ** (1 / window)``.

    A user whose PD stayed the same for the whole window defaults within it with
    probability exactly that PD.
    """
    return -np.expm1(np.log1p(-np.asarray(pd_, dtype=np.float64)) / window)


def rank_adverse(contrib: np.ndarray, k: int = 3) -> np.ndarray:
    """Top-``k`` groups by positive contribution, per row; "" where fewer are adverse.

    contrib: shape (n, groups) in :data:`REASON_GROUPS` order.  Ties break by group order.
    """
    return top_adverse(contrib, REASON_GROUPS, k)


def oracle_auc(true_pd: np.ndarray, label: np.ndarray) -> float:
    """AUC of ranking by the true PD (the best any model can do in expectation)."""
    return auc(label, true_pd)
