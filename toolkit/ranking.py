"""Ranking reason groups by their contributions: one rule for the truth and the explainers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_adverse(G: np.ndarray, order: Sequence[str], k: int = 3) -> np.ndarray:
    """Top-``k`` adverse groups per row (largest positive contributions), "" where fewer.

    G: shape (n, g), log-odds, columns in ``order``.  Ties break by group order (a stable
    sort), so the generator's truth and every explainer rank the same way.  Returns an
    object array of shape (n, min(k, g)).
    """
    G = np.asarray(G, dtype=np.float64)
    k = min(k, G.shape[1])
    idx = np.argsort(-G, axis=1, kind="stable")[:, :k]
    names = np.asarray(order, dtype=object)[idx]
    positive = np.take_along_axis(G, idx, axis=1) > 0
    return np.where(positive, names, "")
