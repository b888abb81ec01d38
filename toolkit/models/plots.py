"""Model-evaluation figures (matplotlib, Agg backend chosen when a figure is first drawn)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.metrics import calibration_bins


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _words(outcome: str | None) -> dict[str, str]:
    """The synthetic world predicts a default (a PD); an own table its ``outcome``
    (``"bad = 1"``), which the labels name instead."""
    if outcome is None:
        return {"bad": "defaults", "good": "non-defaults", "p": "predicted PD",
                "observed": "observed default rate"}
    return {"bad": f"rows with {outcome}", "good": "the other rows",
            "p": f"predicted probability of {outcome}", "observed": f"observed rate of {outcome}"}


def roc_ks_figure(y: np.ndarray, p: np.ndarray, *, title: str = "",
                  outcome: str | None = None):
    """ROC curve (left) and the KS gap between bad and good score CDFs (right)."""
    from sklearn.metrics import roc_curve

    plt = _plt()
    w = _words(outcome)
    fpr, tpr, _ = roc_curve(y, p)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(fpr, tpr, lw=2)
    a.plot([0, 1], [0, 1], "--", color="grey")
    a.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC {title}")
    order = np.sort(p)
    bad = np.searchsorted(np.sort(p[y == 1]), order, side="right") / max((y == 1).sum(), 1)
    good = np.searchsorted(np.sort(p[y == 0]), order, side="right") / max((y == 0).sum(), 1)
    i = int(np.argmax(np.abs(good - bad)))
    b.plot(order, bad, label=w["bad"])
    b.plot(order, good, label=w["good"])
    b.vlines(order[i], bad[i], good[i], color="red", label=f"KS = {abs(good[i] - bad[i]):.3f}")
    b.set(xlabel=w["p"], ylabel="cumulative share", title=f"KS {title}")
    b.legend()
    fig.tight_layout()
    return fig


def calibration_figure(y: np.ndarray, p: np.ndarray, *, title: str = "",
                       outcome: str | None = None):
    """Reliability plot: observed default rate against mean predicted PD, equal-count bins
    (an own table's ``outcome`` named instead of default)."""
    plt = _plt()
    w = _words(outcome)
    pred, obs, _ = calibration_bins(y, p, 10)
    fig, ax = plt.subplots(figsize=(5, 5))
    hi = float(max(np.nanmax(pred), np.nanmax(obs))) * 1.05
    ax.plot([0, hi], [0, hi], "--", color="grey")
    ax.plot(pred, obs, "o-")
    ax.set(xlabel=f"mean {w['p']}", ylabel=w["observed"],
           title=f"Calibration {title}")
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.DataFrame, *, top: int = 20):
    """Horizontal bars of the ``gain`` column of an importance table indexed by feature."""
    plt = _plt()
    imp = importance.sort_values("gain").tail(top)
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(imp) + 1))
    ax.barh(imp.index, imp["gain"])
    ax.set(xlabel="total gain", title="Feature importance")
    fig.tight_layout()
    return fig
