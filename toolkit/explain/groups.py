"""Reason-group contributions: SHAP values summed over the features of each registry group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from toolkit.ranking import top_adverse as top_groups  # noqa: F401  (public name)
from toolkit.vocab import REASON_GROUPS


def group_order(groups: Mapping[str, str], features: Sequence[str]) -> tuple[str, ...]:
    """The groups present among ``features``: :data:`REASON_GROUPS` order first, then others
    (own tables may name their own groups) in order of first appearance."""
    present = [groups.get(f, "other") for f in features]
    known = [g for g in REASON_GROUPS if g in present]
    extra = list(dict.fromkeys(g for g in present if g not in REASON_GROUPS))
    return tuple(known + extra)


def membership(groups: Mapping[str, str], features: Sequence[str],
               order: Sequence[str] | None = None) -> np.ndarray:
    """0/1 matrix of shape (p, g): feature j belongs to group k."""
    order = tuple(order) if order is not None else group_order(groups, features)
    col = {g: k for k, g in enumerate(order)}
    M = np.zeros((len(features), len(order)))
    for j, f in enumerate(features):
        M[j, col[groups.get(f, "other")]] = 1.0
    return M


def group_values(values: np.ndarray, features: Sequence[str], groups: Mapping[str, str],
                 order: Sequence[str] | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Group sums of a (n, p) array of per-feature contributions: ``((n, g) array, order)``.

    Each row of the result sums to the row sum of ``values`` (grouping keeps additivity).
    """
    order = tuple(order) if order is not None else group_order(groups, features)
    return np.asarray(values, dtype=np.float64) @ membership(groups, features, order), order


def group_contributions(sv, groups: Mapping[str, str],
                        order: Sequence[str] | None = None) -> pd.DataFrame:
    """Group contributions of a :class:`~toolkit.explain.shap_values.ShapValues` as a frame.

    Returns one row per explained row (same index), one column per group, in log-odds.
    """
    G, order = group_values(sv.values, sv.features, groups, order)
    return pd.DataFrame(G, index=sv.index, columns=list(order))


def strongest_feature(values: np.ndarray, features: Sequence[str], groups: Mapping[str, str],
                      order: Sequence[str]) -> np.ndarray:
    """Per row and group, the position of the feature with the largest contribution.

    Returns an int array of shape (n, g) of column positions into ``values``.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    out = np.zeros((n, len(order)), dtype=np.int64)
    for k, g in enumerate(order):
        cols = np.array([j for j, f in enumerate(features) if groups.get(f, "other") == g])
        out[:, k] = cols[np.argmax(values[:, cols], axis=1)]
    return out
