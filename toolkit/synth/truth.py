"""The true PD and its decomposition into reason-group terms.

    true_pd = sigmoid(INTERCEPT + sum over groups of term_g(drivers) + MACRO_COEF x stress)

Each group term is a documented function of named driver quantities, which are registry
features computed point-in-time from the history (so they never see the future).  A group's
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


#: group -> (term function, driver features it reads)
TRUTH_TERMS: dict[str, tuple[Callable[[ArrayMap], np.ndarray], tuple[str, ...]]] = {
    "repayment_history": (_repayment, ("late_cnt_6m", "max_dpd_12m")),
    "utilization_debt": (_utilization, ("util_mean_3m", "util_trend_6m")),
    "borrowing_behavior": (_borrowing, ("draw_cnt_3m", "inq_cnt_6m")),
    "liquidity_income": (_liquidity, ("inflow_cv_6m", "min_balance_3m", "income_shock_cnt_12m")),
    "platform_activity": (_activity, ("txn_mean_6m",)),
    "social_network": (_social, ("social_mean_6m",)),
    "tenure_profile": (_tenure, ("tenure_months", "income")),
}
assert tuple(TRUTH_TERMS) == REASON_GROUPS

#: Every feature the truth reads, in registry naming.
DRIVERS: tuple[str, ...] = tuple(d for _, ds in TRUTH_TERMS.values() for d in ds)


def group_terms(features: ArrayMap) -> pd.DataFrame:
    """One column ``term_<group>`` per reason group (log-odds)."""
    return pd.DataFrame({f"term_{g}": fn(features) for g, (fn, _) in TRUTH_TERMS.items()})


def true_logit(terms: pd.DataFrame, stress: np.ndarray) -> np.ndarray:
    return INTERCEPT + terms.to_numpy().sum(axis=1) + MACRO_COEF * np.asarray(stress)


def rank_adverse(contrib: np.ndarray, k: int = 3) -> np.ndarray:
    """Top-``k`` groups by positive contribution, per row; "" where fewer are adverse.

    contrib: shape (n, 7) in :data:`REASON_GROUPS` order.  Ties break by group order.
    """
    return top_adverse(contrib, REASON_GROUPS, k)


def oracle_auc(true_pd: np.ndarray, label: np.ndarray) -> float:
    """AUC of ranking by the true PD (the best any model can do in expectation)."""
    return auc(label, true_pd)
