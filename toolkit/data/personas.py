"""Named personas: queries that find users with a recognisable story."""

from __future__ import annotations

import pandas as pd


def high_activity_poor_repayment(features: pd.DataFrame, truth: pd.DataFrame,
                                 *, activity_quantile: float = 0.75,
                                 min_late_6m: int = 2) -> pd.Index:
    """Users very active on the platform who nevertheless repay late, and hit zero limit.

    features: point-in-time features indexed by ``user_id`` (needs ``txn_mean_6m`` and
    ``late_cnt_6m``); truth: the truth table (``user_id``, ``true_zero``).
    Returns the matching user ids.
    """
    busy = features["txn_mean_6m"] >= features["txn_mean_6m"].quantile(activity_quantile)
    late = features["late_cnt_6m"] >= min_late_6m
    zero = truth.set_index("user_id")["true_zero"].reindex(features.index).astype(bool)
    return features.index[busy & late & zero]
