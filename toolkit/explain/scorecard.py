"""The scorecard baseline's reasons: points below the reference, in log-odds.

A scorecard row scores ``sum_j points_j``; a feature's adverse contribution is
``reference_points_j - points_j`` (points the user lacks against the median approved user),
divided by the scorecard's ``factor`` (points per unit of log-odds) so that it is in
log-odds like SHAP values.  The contributions plus the base value
``(offset - sum_j reference_points_j) / factor`` equal the scorecard's margin exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.errors import InputError
from toolkit.explain.shap_values import ShapValues, max_additivity_error


def reference_points(scorecard, X: pd.DataFrame, approved: np.ndarray) -> pd.Series:
    """Median points of each scorecard feature among approved rows of ``X``."""
    approved = np.asarray(approved, dtype=bool)
    if not approved.any():
        raise InputError("no approved users: the scorecard's reference points are undefined")
    pts = scorecard.points(X[scorecard.features_].iloc[np.flatnonzero(approved)])
    return pts.median(axis=0)


def scorecard_values(scorecard, X: pd.DataFrame, reference: pd.Series) -> ShapValues:
    """Per-feature adverse contributions of the scorecard, as a :class:`ShapValues`
    (mode ``"scorecard"``; values in log-odds, positive = toward default)."""
    cols = list(scorecard.features_)
    missing = [c for c in cols if c not in X.columns]
    if missing:
        raise InputError(f"rows lack scorecard feature column(s): {', '.join(missing[:5])}")
    pts = scorecard.points(X[cols]).to_numpy(np.float64)
    ref = reference.reindex(cols).to_numpy(np.float64)
    values = (ref[None, :] - pts) / scorecard.factor
    base = np.full(len(X), (scorecard.offset - ref.sum()) / scorecard.factor)
    margin = scorecard.margin(X[cols]).astype(np.float64)
    return ShapValues(values, base, margin, X.index, tuple(cols), "scorecard",
                      max_additivity_error(values, base, margin))
