"""Recourse figures as matplotlib ``Figure`` objects (no pyplot state, Agg canvas), labelled
in the figure's language like :mod:`toolkit.explain.figures` (Chinese needs the CJK font;
without it they fall back to English)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.explain.figures import localized
from toolkit.policy import label as mechanism_label
from toolkit.recourse.text import FIGURE_TEXT
from toolkit.vocab import MECHANISMS

_COLOURS = {"score": "#d62728", "policy": "#ff7f0e", "monitoring": "#1f77b4"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@localized
def months_to_restore(plans: pd.DataFrame, horizon: int, *, lang: str = "en"):
    """Share of each mechanism's users whose limit a plan restores by each month, against
    the status quo alone (dashed): the plan's head start on waiting."""
    t = FIGURE_TEXT[lang]
    fig = _figure(7, 3.6)
    ax = fig.add_subplot()
    months = np.arange(0, horizon + 1)
    for mech in MECHANISMS:
        p = plans[plans["mechanism"] == mech]
        if not len(p):
            continue
        found = p["months"].astype("Float64").fillna(horizon + 1).to_numpy(np.float64)
        wait = p["wait_months"].astype("Float64").fillna(horizon + 1).to_numpy(np.float64)
        c = _COLOURS.get(mech)
        name = mechanism_label(mech, lang)
        ax.step(months, [(found <= m).mean() for m in months], where="post", color=c,
                label=t["plan_label"].format(mechanism=name, n=len(p)))
        ax.step(months, [(wait <= m).mean() for m in months], where="post", color=c, ls="--",
                label=t["quo_label"].format(mechanism=name))
    ax.set_xlabel(t["months_x"])
    ax.set_ylabel(t["months_y"])
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(t["months_title"], fontsize=10)
    return fig


@localized
def model_against_truth(plans: pd.DataFrame, *, lang: str = "en"):
    """Model PD against true PD in the month each plan restores the limit, coloured by
    whether the truth (the platform's policy on the true PD) restores it too; the diagonal
    is agreement."""
    t = FIGURE_TEXT[lang]
    fig = _figure(5.2, 4.4)
    ax = fig.add_subplot()
    f = plans[plans["found"].astype(bool)]
    valid = f["valid_in_truth"].astype(bool).to_numpy()
    for ok, colour, key in ((True, "#2ca02c", "valid"), (False, "#d62728", "invalid")):
        m = valid == ok
        ax.scatter(f["model_pd"].to_numpy()[m], f["true_pd"].to_numpy()[m], s=6, alpha=0.5,
                   color=colour, label=t[key].format(n=int(m.sum())), linewidths=0,
                   rasterized=True)
    hi = float(max(f["model_pd"].max(), f["true_pd"].max(), 0.25)) if len(f) else 0.25
    ax.plot([0, hi], [0, hi], color="#888888", lw=0.8)
    ax.set_xlabel(t["truth_x"])
    ax.set_ylabel(t["truth_y"])
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(t["truth_title"], fontsize=10)
    return fig


@localized
def plan_path(paths: pd.DataFrame, user, *, title: str = "", lang: str = "en"):
    """One user's months: model PD and true PD under the plan (solid) and the status quo
    (dashed), the cutoff in force, and the restore month.

    paths: :attr:`RecourseResult.paths` (it holds both paths of every user).
    """
    t = FIGURE_TEXT[lang]
    fig = _figure(8, 4.0)
    ax = fig.add_subplot()
    u = paths[paths["user_id"] == user]
    plan = u[u["path"] != "status_quo"]
    quo = u[u["path"] == "status_quo"]
    x = plan["month"].to_numpy()
    ax.plot(x, plan["model_pd"], color="#1f77b4", marker="o", ms=3, label=t["model_plan"])
    ax.plot(x, plan["true_pd"], color="#2ca02c", marker="o", ms=3, label=t["true_plan"])
    ax.plot(quo["month"], quo["model_pd"], color="#1f77b4", ls="--", lw=1,
            label=t["model_quo"])
    ax.plot(quo["month"], quo["true_pd"], color="#2ca02c", ls="--", lw=1, label=t["true_quo"])
    ax.step(x, plan["cutoff"], where="mid", color="#d62728", lw=1.2, label=t["cutoff"])
    restore = plan.loc[plan["restore"].astype(bool), "month"]
    if len(restore):
        k = int(restore.iloc[0])
        ax.axvline(k, color="#555555", lw=0.8, ls=":", label=t["restore"].format(k=k))
    ax.set_xticks(x, plan["period"], rotation=60, fontsize=7)
    ax.set_ylabel(t["pd"])
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(title or t["path_title"].format(user=user), fontsize=10)
    return fig
