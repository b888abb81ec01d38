"""Global and per-user explanation figures, returned as matplotlib ``Figure`` objects.

Every function builds a ``matplotlib.figure.Figure`` with an Agg canvas attached inside the
function: no pyplot state, no global backend switch at import, so the figures work in
scripts, tests, threads and notebooks alike.  Callers save them (``fig.savefig``) or log them.
Matplotlib is imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from toolkit.explain.text import group_label

_RED, _BLUE = "#d62728", "#1f77b4"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _top_features(values: np.ndarray, features: Sequence[str], n: int) -> list[int]:
    imp = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(features))
    return list(np.argsort(-imp, kind="stable")[: min(n, len(features))])


def _sample(values: np.ndarray, X: pd.DataFrame, max_points: int,
            seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """At most ``max_points`` rows of ``values`` and ``X``, a seeded sample in row order."""
    if len(values) <= max_points:
        return values, X
    pick = np.sort(np.random.default_rng(seed).choice(len(values), max_points, replace=False))
    return values[pick], X.iloc[pick]


def beeswarm(values: np.ndarray, X: pd.DataFrame, features: Sequence[str], *,
             max_display: int = 15, max_points: int = 3000, seed: int = 0,
             title: str = "SHAP values (log-odds of default)"):
    """SHAP beeswarm: one row per top feature, points = rows, colour = feature value (rank).

    values: SHAP values (n, p) in ``features`` order; X: the rows' feature values.
    """
    from matplotlib import colormaps

    values, X = _sample(np.asarray(values, dtype=np.float64), X, max_points, seed)
    features = list(features)
    top = _top_features(values, features, max_display)
    fig = _figure(8, 0.42 * len(top) + 1.5)
    ax = fig.add_subplot()
    cmap = colormaps["coolwarm"]
    for row, j in enumerate(reversed(top)):
        v = values[:, j]
        x = X[features[j]].to_numpy(np.float64)
        colour = pd.Series(x).rank(pct=True).to_numpy() if len(x) else x
        # swarm offsets: points falling in the same value bin are stacked alternately up/down
        bins = np.floor((v - v.min()) / (np.ptp(v) / 80 + 1e-12)) if len(v) else v
        order = np.argsort(bins, kind="stable")
        counts = pd.Series(bins[order]).groupby(bins[order]).cumcount().to_numpy()
        offset = np.empty(len(v))
        offset[order] = ((counts + 1) // 2) * np.where(counts % 2 == 0, 1, -1)
        scale = 0.4 / max(1.0, np.abs(offset).max() if len(offset) else 1.0)
        ax.scatter(v, row + offset * scale, c=colour, cmap=cmap, s=6, alpha=0.8,
                   vmin=0, vmax=1, linewidths=0, rasterized=True)
    ax.axvline(0, color="#888888", lw=0.8)
    ax.set_yticks(range(len(top)), [features[j] for j in reversed(top)], fontsize=8)
    ax.set_xlabel("SHAP value (log-odds; positive = toward default)")
    ax.set_title(title, fontsize=10)
    sm = _scalar_mappable(cmap)
    cb = fig.colorbar(sm, ax=ax, pad=0.01, aspect=40)
    cb.set_ticks([0, 1], labels=["low", "high"])
    cb.set_label("feature value (rank)")
    return fig


def _scalar_mappable(cmap):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    sm = ScalarMappable(norm=Normalize(0, 1), cmap=cmap)
    sm.set_array([])
    return sm


def group_importance(G: pd.DataFrame, *, zero: np.ndarray | None = None, lang: str = "en"):
    """Bar chart of mean |group contribution|; with ``zero``, also the mean contribution
    among zero-limit rows (the average push toward default of each group)."""
    cols = list(G.columns)
    imp = G.abs().mean(axis=0).to_numpy()
    order = np.argsort(imp, kind="stable")
    fig = _figure(8, 0.45 * len(cols) + 1.5)
    ax = fig.add_subplot()
    y = np.arange(len(cols))
    labels = [group_label(cols[i], lang) for i in order]
    if zero is not None and np.asarray(zero, bool).any():
        mz = G[np.asarray(zero, bool)].mean(axis=0).to_numpy()
        ax.barh(y + 0.2, imp[order], height=0.4, color=_BLUE, label="mean |contribution|, all")
        ax.barh(y - 0.2, mz[order], height=0.4, color=_RED,
                label="mean contribution, zero-limit users")
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.barh(y, imp[order], color=_BLUE)
    ax.set_yticks(y, labels, fontsize=9)
    ax.axvline(0, color="#888888", lw=0.8)
    ax.set_xlabel("log-odds of default")
    ax.set_title("Reason-group importance", fontsize=10)
    return fig


def dependence(values: np.ndarray, X: pd.DataFrame, features: Sequence[str], *,
               top: int = 4, max_points: int = 3000, seed: int = 0):
    """Dependence (scatter) plots of the ``top`` features: feature value against its SHAP."""
    values, X = _sample(np.asarray(values, dtype=np.float64), X, max_points, seed)
    features = list(features)
    idx = _top_features(values, features, top)
    cols = 2 if len(idx) > 1 else 1
    rows = int(np.ceil(len(idx) / cols))
    fig = _figure(5 * cols, 3.4 * rows)
    for k, j in enumerate(idx):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.scatter(X[features[j]].to_numpy(np.float64), values[:, j], s=5, alpha=0.5,
                   color=_BLUE, linewidths=0, rasterized=True)
        ax.axhline(0, color="#888888", lw=0.8)
        ax.set_xlabel(features[j], fontsize=9)
        ax.set_ylabel("SHAP (log-odds)", fontsize=9)
    fig.suptitle("Dependence of the top features", fontsize=10)
    return fig


def interactions(pairs: pd.DataFrame, *, top: int = 10):
    """Bar chart of the strongest interaction pairs (see
    :func:`toolkit.explain.shap_values.top_interactions`)."""
    pairs = pairs.head(top)
    fig = _figure(8, 0.4 * max(len(pairs), 1) + 1.5)
    ax = fig.add_subplot()
    labels = [f"{a} x {b}" for a, b in zip(pairs["feature_a"], pairs["feature_b"], strict=True)]
    y = np.arange(len(pairs))[::-1]
    ax.barh(y, pairs["mean_abs_interaction"].to_numpy(), color=_BLUE)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("mean |SHAP interaction value| (log-odds, both halves)")
    ax.set_title(f"Top interaction pairs (sample of {int(pairs.attrs.get('rows', 0))} rows)",
                 fontsize=10)
    return fig


def regime_comparison(G: pd.DataFrame, stressed: np.ndarray, zero: np.ndarray, *,
                      lang: str = "en"):
    """Mean group contributions among zero-limit users, normal against stressed regime."""
    stressed = np.asarray(stressed, bool)
    zero = np.asarray(zero, bool)
    cols = list(G.columns)
    fig = _figure(8, 0.45 * len(cols) + 1.8)
    ax = fig.add_subplot()
    y = np.arange(len(cols))[::-1]
    for shift, mask, name, colour in ((0.2, zero & ~stressed, "normal", _BLUE),
                                      (-0.2, zero & stressed, "stressed", _RED)):
        mean = G[mask].mean(axis=0).to_numpy() if mask.any() else np.zeros(len(cols))
        ax.barh(y + shift, mean, height=0.4, color=colour,
                label=f"{name} regime (n = {int(mask.sum())})")
    ax.set_yticks(y, [group_label(g, lang) for g in cols], fontsize=9)
    ax.axvline(0, color="#888888", lw=0.8)
    ax.set_xlabel("mean group contribution (log-odds)")
    ax.set_title("Zero-limit users: normal against stressed regime", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def waterfall(values: np.ndarray, base: float, x: pd.Series | Mapping[str, float],
              features: Sequence[str], *, max_display: int = 10,
              cutoff_logit: float | None = None, normal_cutoff_logit: float | None = None,
              title: str = ""):
    """Waterfall of one row: from the base value, each top feature's SHAP, to the margin.

    values: SHAP values of the row (p,); base: its base value; x: its feature values.
    cutoff_logit: drawn as a vertical line (the cutoff in force, in log-odds); so is
    ``normal_cutoff_logit`` when it differs.
    """
    values = np.asarray(values, dtype=np.float64)
    features = list(features)
    order = np.argsort(-np.abs(values), kind="stable")
    shown = list(order[: max_display])
    rest = values[order[max_display:]].sum() if len(order) > max_display else None
    items = [(f"{features[j]} = {float(x[features[j]]):.3g}", values[j]) for j in shown]
    if rest is not None:
        items.append((f"{len(order) - max_display} other features", rest))
    fig = _figure(8, 0.42 * len(items) + 1.8)
    ax = fig.add_subplot()
    start = float(base)
    seen = [start]
    for i, (_, v) in enumerate(items):
        y = len(items) - 1 - i
        ax.barh(y, v, left=start, color=_RED if v > 0 else _BLUE, height=0.6)
        ax.text(start + v, y, f" {v:+.2f}", va="center", fontsize=7,
                ha="left" if v >= 0 else "right")
        start += v
        seen.append(start)
    ax.set_yticks(range(len(items))[::-1], [t for t, _ in items], fontsize=8)
    ax.axvline(base, color="#888888", lw=0.8, ls=":", label=f"base {base:.2f}")
    ax.axvline(start, color="black", lw=0.8, label=f"margin {start:.2f}")
    if cutoff_logit is not None:
        ax.axvline(cutoff_logit, color=_RED, lw=1.0, ls="--",
                   label=f"cutoff in force {cutoff_logit:.2f}")
    if normal_cutoff_logit is not None and normal_cutoff_logit != cutoff_logit:
        ax.axvline(normal_cutoff_logit, color="#ff7f0e", lw=1.0, ls="-.",
                   label=f"normal cutoff {normal_cutoff_logit:.2f}")
    seen += [c for c in (cutoff_logit, normal_cutoff_logit) if c is not None]
    pad = 0.08 * (max(seen) - min(seen) or 1.0)
    ax.set_xlim(min(seen) - pad, max(seen) + pad)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_xlabel("log-odds of default")
    ax.set_title(title or "Why this score", fontsize=10)
    return fig


def to_png(fig, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
