"""Global and per-user explanation figures, returned as matplotlib ``Figure`` objects.

Every function builds a ``matplotlib.figure.Figure`` with an Agg canvas attached inside the
function: no pyplot state, no global backend switch at import, so the figures work in
scripts, tests, threads and notebooks alike.  Callers save them (``fig.savefig``) or log them.
Matplotlib is imported inside the functions only.

Labels are readable names in the figure's language: features by their registry description,
reason groups and regimes by their labels in :mod:`toolkit.explain.text`.  Chinese labels
need a CJK font; the project installs Noto Sans SC as a Python package
(``pylopdf-fonts-zh-cn``), and :func:`figure_lang` falls back to English where it cannot be
loaded, so a figure never shows empty boxes for characters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from toolkit.data.features import Feature, format_quantity
from toolkit.explain.text import FIGURE_TEXT, group_label, own_words, word

_RED, _BLUE, _ORANGE = "#d62728", "#1f77b4", "#ff7f0e"
# Latin glyphs and the minus sign come from DejaVu Sans (matplotlib's own font) when the CJK
# font lacks them; matplotlib falls back glyph by glyph through this list.
_LATIN = "DejaVu Sans"


@functools.cache
def cjk_font() -> str | None:
    """The family name of the bundled CJK font, registered with matplotlib; None when the
    font package is missing or its file cannot be read."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    path = pylopdf_fonts_zh_cn.sans_path()
    if not path.is_file():
        return None
    from matplotlib import font_manager

    try:
        font_manager.fontManager.addfont(str(path))
        return font_manager.FontProperties(fname=str(path)).get_name()
    except (OSError, RuntimeError, ValueError):
        return None


def figure_lang(lang: str) -> str:
    """The language figures can be labelled in: ``lang``, or ``"en"`` when ``lang`` needs a
    CJK font that cannot be loaded."""
    return "zh" if lang == "zh" and cjk_font() is not None else "en"


def localized(fn: Callable) -> Callable:
    """Draw ``fn``'s figure in :func:`figure_lang` of its ``lang`` with the right fonts.

    Text objects keep the font family that was in force when they were made, so the figure
    saves correctly after the context is gone.
    """

    @functools.wraps(fn)
    def wrapper(*args, lang: str = "en", **kwargs):
        import matplotlib

        lang = figure_lang(lang)
        family = [cjk_font(), _LATIN] if lang == "zh" else [_LATIN]
        with matplotlib.rc_context({"font.family": family}):
            return fn(*args, lang=lang, **kwargs)

    return wrapper


# Categories a dependence plot names on its axis: more would not be legible.
_MAX_CATEGORIES = 12


def _t(lang: str, key: str, *, outcome: str | None = None, **values) -> str:
    """A figure's text; with an own table's ``outcome`` (``"bad = 1"``), its own words
    (``<key>_own``) where the synthetic world's speak of default, users or PD."""
    return own_words(FIGURE_TEXT[lang], outcome is not None)[key].format(outcome=outcome,
                                                                        **values)


def feature_label(name: str, registry: Mapping[str, Feature] | None, lang: str) -> str:
    """A feature's readable name (its registry description), or its name when unknown."""
    f = (registry or {}).get(name)
    if f is None:
        return name
    return f.description_zh if lang == "zh" else f.description_en


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _central_view(x: np.ndarray) -> tuple[float, float] | None:
    """The x range of the 1st to 99th percentile when the whole range is over five times
    wider (outliers or sentinel codes such as 96 and 98 would squeeze every other point into
    one line), else None: the whole range."""
    finite = x[np.isfinite(x)]
    if len(finite) < 100:
        return None
    lo, hi = np.percentile(finite, [1, 99])
    if hi <= lo or finite.max() - finite.min() <= 5 * (hi - lo):
        return None
    pad = 0.05 * (hi - lo)
    return float(lo - pad), float(hi + pad)


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


@localized
def beeswarm(values: np.ndarray, X: pd.DataFrame, features: Sequence[str], *,
             registry: Mapping[str, Feature] | None = None, max_display: int = 15,
             max_points: int = 3000, seed: int = 0, outcome: str | None = None,
             lang: str = "en"):
    """SHAP beeswarm: one row per top feature, points = rows, colour = feature value (rank;
    grey for a category column, whose values have no order).

    values: SHAP values (n, p) in ``features`` order; X: the rows' feature values;
    registry: feature name -> :class:`Feature`, for readable names; outcome: an own
    table's predicted outcome, named in the labels instead of default.
    """
    from matplotlib import colormaps

    values, X = _sample(np.asarray(values, dtype=np.float64), X, max_points, seed)
    features = list(features)
    top = _top_features(values, features, max_display)
    fig = _figure(9, 0.42 * len(top) + 1.5)
    ax = fig.add_subplot()
    cmap = colormaps["coolwarm"]
    for row, j in enumerate(reversed(top)):
        v = values[:, j]
        col = X[features[j]]
        # a category has no order to colour by: its points are grey
        categorical = isinstance(col.dtype, pd.CategoricalDtype)
        x = np.zeros(len(col)) if categorical else col.to_numpy(np.float64)
        # swarm offsets: points falling in the same value bin are stacked alternately up/down
        bins = np.floor((v - v.min()) / (np.ptp(v) / 80 + 1e-12)) if len(v) else v
        order = np.argsort(bins, kind="stable")
        counts = pd.Series(bins[order]).groupby(bins[order]).cumcount().to_numpy()
        offset = np.empty(len(v))
        offset[order] = ((counts + 1) // 2) * np.where(counts % 2 == 0, 1, -1)
        scale = 0.4 / max(1.0, np.abs(offset).max() if len(offset) else 1.0)
        if categorical:
            ax.scatter(v, row + offset * scale, color="#999999", s=6, alpha=0.8,
                       linewidths=0, rasterized=True)
        else:
            colour = pd.Series(x).rank(pct=True).to_numpy() if len(x) else x
            ax.scatter(v, row + offset * scale, c=colour, cmap=cmap, s=6, alpha=0.8,
                       vmin=0, vmax=1, linewidths=0, rasterized=True)
    ax.axvline(0, color="#888888", lw=0.8)
    ax.set_yticks(range(len(top)),
                  [feature_label(features[j], registry, lang) for j in reversed(top)],
                  fontsize=8)
    ax.set_xlabel(_t(lang, "shap_axis", outcome=outcome))
    ax.set_title(_t(lang, "beeswarm_title"), fontsize=10)
    sm = _scalar_mappable(cmap)
    cb = fig.colorbar(sm, ax=ax, pad=0.01, aspect=40)
    cb.set_ticks([0, 1], labels=[_t(lang, "low"), _t(lang, "high")])
    cb.set_label(_t(lang, "value_rank"))
    return fig


def _scalar_mappable(cmap):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    sm = ScalarMappable(norm=Normalize(0, 1), cmap=cmap)
    sm.set_array([])
    return sm


@localized
def group_importance(G: pd.DataFrame, *, zero: np.ndarray | None = None,
                     outcome: str | None = None, lang: str = "en"):
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
        ax.barh(y + 0.2, imp[order], height=0.4, color=_BLUE,
                label=_t(lang, "mean_abs_all", outcome=outcome))
        ax.barh(y - 0.2, mz[order], height=0.4, color=_RED,
                label=_t(lang, "mean_zero", outcome=outcome))
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.barh(y, imp[order], color=_BLUE)
    ax.set_yticks(y, labels, fontsize=9)
    ax.axvline(0, color="#888888", lw=0.8)
    ax.set_xlabel(_t(lang, "log_odds", outcome=outcome))
    ax.set_title(_t(lang, "importance_title"), fontsize=10)
    return fig


@localized
def dependence(values: np.ndarray, X: pd.DataFrame, features: Sequence[str], *,
               registry: Mapping[str, Feature] | None = None, top: int = 4,
               max_points: int = 3000, seed: int = 0, lang: str = "en"):
    """Dependence (scatter) plots of the ``top`` features: feature value against its SHAP.

    A category column (an own table's) is drawn as one jittered strip per category, named on
    its axis (the most frequent ``_MAX_CATEGORIES`` of the sample; rows of the others are
    left out), not over its codes."""
    values, X = _sample(np.asarray(values, dtype=np.float64), X, max_points, seed)
    features = list(features)
    idx = _top_features(values, features, top)
    cols = 2 if len(idx) > 1 else 1
    rows = int(np.ceil(len(idx) / cols))
    fig = _figure(5.5 * cols, 3.4 * rows)
    jitter = np.random.default_rng(seed).uniform(-0.3, 0.3, len(X))
    for k, j in enumerate(idx):
        ax = fig.add_subplot(rows, cols, k + 1)
        col = X[features[j]]
        categorical = isinstance(col.dtype, pd.CategoricalDtype)
        if categorical:
            shown = col.value_counts().head(_MAX_CATEGORIES)
            shown = [c for c in col.cat.categories if c in shown.index and shown[c] > 0]
            pos = pd.Series(np.arange(len(shown), dtype=np.float64), index=shown)
            x = col.astype(object).map(pos).to_numpy(np.float64) + jitter
            ax.set_xticks(pos.to_numpy(), [str(c) for c in shown], fontsize=7,
                          rotation=30 if len(shown) > 4 else 0, ha="right"
                          if len(shown) > 4 else "center")
        else:
            x = col.to_numpy(np.float64)
        ax.scatter(x, values[:, j], s=5, alpha=0.5,
                   color=_BLUE, linewidths=0, rasterized=True)
        ax.axhline(0, color="#888888", lw=0.8)
        view = None if categorical else _central_view(x)
        if view is not None:
            ax.set_xlim(*view)
        label = feature_label(features[j], registry, lang)
        if view is not None:
            label = _t(lang, "central_view", feature=label)
        ax.set_xlabel(label, fontsize=9)
        ax.set_ylabel(_t(lang, "shap_short"), fontsize=9)
    fig.suptitle(_t(lang, "dependence_title"), fontsize=10)
    return fig


@localized
def interactions(pairs: pd.DataFrame, *, registry: Mapping[str, Feature] | None = None,
                 top: int = 10, outcome: str | None = None, lang: str = "en"):
    """Bar chart of the strongest interaction pairs (see
    :func:`toolkit.explain.shap_values.top_interactions`)."""
    pairs = pairs.head(top)
    fig = _figure(9, 0.6 * max(len(pairs), 1) + 1.5)
    ax = fig.add_subplot()
    # one feature per line: two registry descriptions side by side would not fit
    labels = [f"{feature_label(a, registry, lang)} ×\n{feature_label(b, registry, lang)}"
              for a, b in zip(pairs["feature_a"], pairs["feature_b"], strict=True)]
    y = np.arange(len(pairs))[::-1]
    ax.barh(y, pairs["mean_abs_interaction"].to_numpy(), color=_BLUE)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(_t(lang, "interaction_axis"))
    ax.set_title(_t(lang, "interactions_title", outcome=outcome,
                    rows=f"{int(pairs.attrs.get('rows', 0)):,}"),
                 fontsize=10)
    return fig


@localized
def regime_comparison(G: pd.DataFrame, stressed: np.ndarray, zero: np.ndarray, *,
                      outcome: str | None = None, lang: str = "en"):
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
                label=_t(lang, "regime_legend", regime=word(name, lang),
                         n=f"{int(mask.sum()):,}"))
    ax.set_yticks(y, [group_label(g, lang) for g in cols], fontsize=9)
    ax.axvline(0, color="#888888", lw=0.8)
    ax.set_xlabel(_t(lang, "regime_axis"))
    ax.set_title(_t(lang, "regime_title", outcome=outcome), fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


@localized
def waterfall(values: np.ndarray, base: float, x: pd.Series | Mapping[str, float],
              features: Sequence[str], *, registry: Mapping[str, Feature] | None = None,
              max_display: int = 10, cutoff_logit: float | None = None,
              normal_cutoff_logit: float | None = None, title: str = "",
              outcome: str | None = None, lang: str = "en"):
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

    def item(name: str) -> str:
        f = (registry or {}).get(name)
        v = x[name]
        # an own table's category reads as itself ("purpose = used car")
        value = v if isinstance(v, str) else \
            format_quantity(float(v), f.unit if f else "value", lang)
        return f"{feature_label(name, registry, lang)} = {value}"

    items = [(item(features[j]), values[j]) for j in shown]
    if rest is not None:
        items.append((_t(lang, "other_features", n=len(order) - max_display), rest))
    fig = _figure(9, 0.42 * len(items) + 1.8)
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
    ax.axvline(base, color="#888888", lw=0.8, ls=":", label=_t(lang, "base", value=f"{base:.2f}"))
    ax.axvline(start, color="black", lw=0.8, label=_t(lang, "margin", value=f"{start:.2f}"))
    if cutoff_logit is not None:
        ax.axvline(cutoff_logit, color=_RED, lw=1.0, ls="--",
                   label=_t(lang, "cutoff_in_force", outcome=outcome,
                            value=f"{cutoff_logit:.2f}"))
    if normal_cutoff_logit is not None and normal_cutoff_logit != cutoff_logit:
        ax.axvline(normal_cutoff_logit, color=_ORANGE, lw=1.0, ls="-.",
                   label=_t(lang, "normal_cutoff", value=f"{normal_cutoff_logit:.2f}"))
    seen += [c for c in (cutoff_logit, normal_cutoff_logit) if c is not None]
    pad = 0.08 * (max(seen) - min(seen) or 1.0)
    ax.set_xlim(min(seen) - pad, max(seen) + pad)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_xlabel(_t(lang, "log_odds", outcome=outcome))
    ax.set_title(title, fontsize=10)
    return fig


@localized
def roc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *, lang: str = "en"):
    """ROC curves of several models on one axes: ``{family: (y, pd)}``; the legend gives
    each model's AUC."""
    from sklearn.metrics import roc_curve

    from toolkit.metrics import auc

    fig = _figure(5.5, 5)
    ax = fig.add_subplot()
    for (family, (y, p)), colour in zip(curves.items(), (_BLUE, _ORANGE, _RED), strict=False):
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, lw=2, color=colour, label=f"{word(family, lang)} (AUC {auc(y, p):.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label=_t(lang, "chance"))
    ax.set(xlabel=_t(lang, "fpr"), ylabel=_t(lang, "tpr"), title=_t(lang, "roc_title"),
           xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8, loc="lower right")
    return fig


@localized
def calibration_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                       n_bins: int = 10, outcome: str | None = None, lang: str = "en"):
    """Reliability curves of several models: observed default rate against mean predicted
    PD in ``n_bins`` equal-count bins, ``{family: (y, pd)}``."""
    from toolkit.metrics import calibration_bins

    fig = _figure(5.5, 5)
    ax = fig.add_subplot()
    hi = 0.0
    for (family, (y, p)), colour in zip(curves.items(), (_BLUE, _ORANGE, _RED), strict=False):
        pred, obs, _ = calibration_bins(y, p, n_bins)
        hi = max(hi, float(np.nanmax(pred)), float(np.nanmax(obs)))
        ax.plot(pred, obs, "o-", color=colour, label=word(family, lang))
    hi = hi * 1.05 or 1.0
    ax.plot([0, hi], [0, hi], "--", color="grey", label=_t(lang, "perfect"))
    ax.set(xlabel=_t(lang, "predicted", outcome=outcome),
           ylabel=_t(lang, "observed", outcome=outcome),
           title=_t(lang, "calibration_title"), xlim=(0, hi), ylim=(0, hi))
    ax.xaxis.set_major_formatter(_percent())
    ax.yaxis.set_major_formatter(_percent())
    ax.legend(fontsize=8, loc="upper left")
    return fig


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def to_png(fig, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
