"""The audit's figures as matplotlib ``Figure`` objects (no pyplot state; Agg canvas)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.audit.drift import by_split

_RED, _BLUE, _GREY = "#d62728", "#1f77b4", "#999999"
#: Groups a gates figure draws at most (the reference among them).
MAX_GROUPS_DRAWN = 10


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def gates_figure(gates: pd.DataFrame, attribute: str, reference: str):
    """Refusal rate at each mechanism's gate by group; beside each non-reference group, the
    rate its drivers predict under the reference group's treatment (hatched)."""
    fig = _figure(8, 3.6)
    ax = fig.add_subplot()
    mechs = list(dict.fromkeys(gates["mechanism"]))
    groups = list(dict.fromkeys(gates[attribute]))
    title = f"Refusals by mechanism and {attribute}"
    if len(groups) > MAX_GROUPS_DRAWN:
        # 30 states side by side are no figure: the reference and the largest groups
        size = gates.groupby(attribute)["reached"].max()
        big = [g for g in size.sort_values(ascending=False, kind="stable").index
               if g != reference][:MAX_GROUPS_DRAWN - 1]
        groups = [g for g in groups if g == reference or g in big]
        title += f" (the reference and the {len(big)} largest groups)"
    width = 0.8 / (len(groups) + len(groups) - 1)
    x = np.arange(len(mechs))
    slot = 0
    palette = [_BLUE, _RED, "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
               "#17becf", "#ff7f0e"]
    colours = {g: palette[i % len(palette)] for i, g in enumerate(groups)}
    for g in groups:
        part = gates[gates[attribute] == g].set_index("mechanism").reindex(mechs)
        ax.bar(x + slot * width, part["refusal_rate"], width, color=colours[g],
               label=f"{g}: observed")
        slot += 1
        if g != reference:
            expected = part["expected"] / part["reached"].replace(0, np.nan)
            ax.bar(x + slot * width, expected, width, color="white", edgecolor=colours[g],
                   hatch="//", label=f"{g}: expected if treated like {reference}")
            slot += 1
    ax.set_xticks(x + width * (slot - 1) / 2, mechs)
    ax.set_ylabel("refusal rate among rows reaching the gate")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def _period(periods) -> str:
    return "split" if by_split(periods) else "month"


def drift_figure(psi: pd.DataFrame, months: pd.DataFrame, *, top: int = 12):
    """PSI against the training rows of the ``top`` most shifted features, by month, above
    a strip of the flagged months and (where known) the stressed ones."""
    cols = list(psi.max().sort_values(ascending=False).index[:top])
    fig = _figure(11, 0.32 * len(cols) + 2.2)
    grid = fig.add_gridspec(2, 1, height_ratios=[max(len(cols), 1), 1.6])
    ax = fig.add_subplot(grid[0])
    im = ax.imshow(psi[cols].T.to_numpy(np.float64), aspect="auto", cmap="Reds", vmin=0,
                   vmax=max(0.25, float(np.nanmax(psi[cols].to_numpy()))) if cols else 1)
    ax.set_yticks(range(len(cols)), cols, fontsize=7)
    ax.set_xticks([])
    ax.set_title(f"Feature PSI against the training rows, by {_period(months.index)}")
    fig.colorbar(im, ax=ax, shrink=0.8, label="PSI")
    strip = fig.add_subplot(grid[1])
    lanes = [("flagged", months["flagged"].to_numpy(bool), _RED)]
    if "stressed" in months:
        lanes.append(("stressed (truth)", months["stressed"].to_numpy(bool), _BLUE))
    for i, (_, on, colour) in enumerate(lanes):
        strip.bar(np.flatnonzero(on), 0.8, bottom=i, width=1.0, color=colour, align="center")
    strip.set_yticks([i + 0.4 for i in range(len(lanes))], [lane[0] for lane in lanes],
                     fontsize=8)
    strip.set_xlim(ax.get_xlim())
    step = max(1, len(months) // 12)
    strip.set_xticks(range(0, len(months), step), list(months.index[::step]), fontsize=7,
                     rotation=45)
    return fig


def importance_figure(importance: pd.DataFrame):
    """Shift of each reason group's mean contribution (log-odds) from the training rows, by
    month."""
    wide = importance.pivot(index="group", columns="period", values="shift")
    wide = wide[list(dict.fromkeys(importance["period"]))]
    fig = _figure(11, 0.35 * len(wide) + 1.6)
    ax = fig.add_subplot()
    lim = max(float(np.nanmax(np.abs(wide.to_numpy()))), 1e-6)
    im = ax.imshow(wide.to_numpy(np.float64), aspect="auto", cmap="coolwarm", vmin=-lim,
                   vmax=lim)
    ax.set_yticks(range(len(wide)), list(wide.index), fontsize=8)
    step = max(1, wide.shape[1] // 12)
    ax.set_xticks(range(0, wide.shape[1], step), list(wide.columns[::step]), fontsize=7,
                  rotation=45)
    ax.set_title(f"Reason-group contribution by {_period(wide.columns)}, minus the training "
                 "rows' (log-odds)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def stability_figure(retrains: pd.DataFrame):
    """Top-1 agreement and the share of changed notices for every retrain."""
    part = retrains[retrains["kind"] != "original"].reset_index(drop=True)
    fig = _figure(8, 3.2)
    ax = fig.add_subplot()
    x = np.arange(len(part))
    ax.bar(x - 0.2, part["top1_agreement"], 0.4, color=_BLUE, label="top-1 reason unchanged")
    ax.bar(x + 0.2, part["notice_changed"], 0.4, color=_RED, label="notice changed")
    labels = [f"seed {seed}" if kind == "seed" else f"bootstrap {rep}"
              for kind, seed, rep in zip(part["kind"], part["seed"], part["replicate"],
                                         strict=True)]
    ax.set_xticks(x, labels, fontsize=7, rotation=30)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of the run's refused rows")
    ax.set_title("Notices after retraining on the same data")
    ax.legend(fontsize=8)
    return fig
