"""Credit-scoring metrics on plain arrays: labels in {0, 1}, scores = predicted PD."""

from __future__ import annotations

import numpy as np


def _check(y, p):
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"labels have shape {y.shape} but scores have shape {p.shape}")
    # a censored row (label -1 or missing) must never reach a label-based metric
    if y.size and not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1; censored rows (no label) cannot be scored "
                         "against outcomes")
    return y, p


def auc(y, p) -> float:
    """Area under the ROC curve (ties count half); NaN if a class is missing."""
    y, p = _check(y, p)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # scipy.stats costs a second to import; not at start-up

    r = rankdata(p)
    return float((r[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gini(y, p) -> float:
    return 2.0 * auc(y, p) - 1.0


def ks(y, p) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score CDFs of bads and goods."""
    y, p = _check(y, p)
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    last = np.r_[np.flatnonzero(np.diff(ps) != 0), len(ps) - 1]
    tpr = np.cumsum(ys)[last] / max(ys.sum(), 1)
    fpr = np.cumsum(1 - ys)[last] / max((1 - ys).sum(), 1)
    return float(np.max(np.abs(tpr - fpr))) if len(last) else 0.0


def brier(y, p) -> float:
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def log_loss(y, p) -> float:
    y, p = _check(y, p)
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def calibration_bins(y, p, n_bins: int = 10):
    """Equal-count bins: (mean predicted, observed rate, count) per bin."""
    y, p = _check(y, p)
    order = np.argsort(p, kind="stable")
    chunks = np.array_split(order, n_bins)
    pred = np.array([p[c].mean() if len(c) else np.nan for c in chunks])
    obs = np.array([y[c].mean() if len(c) else np.nan for c in chunks])
    cnt = np.array([len(c) for c in chunks])
    return pred, obs, cnt


def ece(y, p, n_bins: int = 10) -> float:
    """Expected calibration error over equal-count bins."""
    pred, obs, cnt = calibration_bins(y, p, n_bins)
    keep = cnt > 0
    return float(np.sum(cnt[keep] * np.abs(pred[keep] - obs[keep])) / cnt.sum())


def psi(expected, actual, n_bins: int = 10) -> float:
    """Population stability index of ``actual`` scores against ``expected`` (deciles of it)."""
    actual = np.asarray(actual, dtype=np.float64)
    return float(psi_by_group(expected, actual, np.zeros(len(actual), dtype=np.int64),
                              n_bins)[0])


def psi_by_group(expected, actual, groups, n_bins: int = 10) -> np.ndarray:
    """The PSI of each group of ``actual`` against ``expected``, on the same bins.

    groups: integer codes 0..G-1 of the rows of ``actual``; returns shape (G,), NaN for a
    group without rows.  Bins are the ``n_bins`` quantiles of ``expected``; a variable with
    fewer than three distinct edges has PSI 0.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 3:
        return np.where(np.bincount(groups, minlength=n_groups) > 0, 0.0, np.nan)
    inner = edges[1:-1]
    k = len(inner) + 1
    e = np.bincount(np.searchsorted(inner, expected, side="right"), minlength=k)
    e = np.clip(e / e.sum(), 1e-6, None)
    cells = groups * k + np.searchsorted(inner, actual, side="right")
    a = np.bincount(cells, minlength=n_groups * k).reshape(n_groups, k).astype(np.float64)
    total = a.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.clip(a / total, 1e-6, None)
        out = np.sum((a - e) * np.log(a / e), axis=1)
    return np.where(total[:, 0] > 0, out, np.nan)


def psi_noise(expected, n_actual, n_bins: int = 10, *, quantile: float = 0.999):
    """The PSI that ``n_actual`` rows drawn from the same population as ``expected`` exceed
    with probability ``1 - quantile``: ``chi2_{k-1}(quantile) / n_eff``, with ``k`` the bins
    :func:`psi` uses and ``n_eff = n m / (n + m)`` (near no shift, PSI times ``n_eff`` is
    close to a chi-square with ``k - 1`` degrees of freedom).  ``n_actual`` may be an array
    of sizes (the result then has its shape); 0 rows give infinity."""
    from scipy.stats import chi2

    expected = np.asarray(expected, dtype=np.float64)
    n = np.asarray(n_actual, dtype=np.float64)
    k = len(np.unique(np.quantile(expected, np.linspace(0, 1, n_bins + 1)))) - 1
    with np.errstate(divide="ignore"):
        n_eff = n * len(expected) / (n + len(expected))
        out = np.where(n > 0, chi2.ppf(quantile, max(k - 1, 1)) / n_eff, np.inf)
    out = np.where(k < 2, np.where(n > 0, 0.0, np.inf), out)
    return float(out) if out.ndim == 0 else out


def classification_metrics(y, p) -> dict[str, float]:
    """auc, gini, ks, brier, logloss and ece of one split."""
    return {
        "auc": auc(y, p), "gini": gini(y, p), "ks": ks(y, p), "brier": brier(y, p),
        "logloss": log_loss(y, p), "ece": ece(y, p),
    }


SMALL_SPLIT_ROWS = 1_000
INTERVAL_METRICS = ("auc", "ks")


def bootstrap_intervals(y, p, *, metrics: tuple[str, ...] = INTERVAL_METRICS,
                        n_resamples: int = 500, level: float = 0.95,
                        seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of ``auc`` and ``ks`` over rows resampled with
    replacement (``scipy.stats.bootstrap``, paired, seeded: the same input gives the same
    interval).  Returns ``{metric: (low, high)}``."""
    import warnings

    from scipy.stats import DegenerateDataWarning, bootstrap

    y, p = _check(y, p)
    funcs = {"auc": auc, "ks": ks}
    out = {}
    for name in metrics:
        with warnings.catch_warnings():
            # every resample giving the same value is an answer (a zero-width interval)
            warnings.simplefilter("ignore", DegenerateDataWarning)
            res = bootstrap((y, p), funcs[name], paired=True, vectorized=False,
                            n_resamples=n_resamples, confidence_level=level,
                            method="percentile", rng=np.random.default_rng(seed))
        out[name] = (float(res.confidence_interval.low), float(res.confidence_interval.high))
    return out
