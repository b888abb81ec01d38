"""What a study's parent run shows: the trial table, a summary, Optuna's figures and, for a
multi-objective study, the Pareto front (table and figure).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from toolkit.config.tune import Objective


def trials_table(study, objectives: Sequence[Objective]) -> pd.DataFrame:
    """One row per trial: number, state, objective values (named), params, timing,
    retry links (``system_attrs_failed_trial``) and user attributes; index ``number``."""
    names = [o.name for o in objectives]
    df = study.trials_dataframe(attrs=("number", "value" if len(names) == 1 else "values",
                                       "datetime_start", "datetime_complete", "duration",
                                       "params", "user_attrs", "system_attrs", "state"))
    if len(names) == 1 and "value" in df.columns:
        df = df.rename(columns={"value": names[0]})
    else:
        df = df.rename(columns={f"values_{i}": n for i, n in enumerate(names)})
    if "duration" in df.columns:
        df["duration_s"] = df["duration"].dt.total_seconds()
        df = df.drop(columns=["duration"])
    # worker identities and run ids are dicts/strings: keep them readable in a CSV
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: v if isinstance(v, str | int | float | type(None))
                              else str(v))
    return df.set_index("number")


def pareto_table(front, objectives: Sequence[Objective], picked: int | None) -> pd.DataFrame:
    """The Pareto-front trials: number, objective values, params, and which one is refit."""
    rows = []
    for t in sorted(front, key=lambda t: t.number):
        row: dict[str, Any] = {"number": t.number}
        row.update({o.name: v for o, v in zip(objectives, t.values, strict=True)})
        row.update({f"params_{k}": v for k, v in t.params.items()})
        row["picked"] = t.number == picked
        rows.append(row)
    return pd.DataFrame(rows).set_index("number") if rows else pd.DataFrame()


def _figure(ax):
    import numpy as np

    if isinstance(ax, np.ndarray):
        ax = ax.ravel()[0]
    fig = ax.figure
    fig.set_size_inches(9, 6)
    fig.tight_layout()  # Optuna's default layout cuts long parameter names
    return fig


def _value(i: int, scale: float):
    def target(trial) -> float:
        return scale * trial.values[i]

    return target


def optuna_figures(study, objectives: Sequence[Objective]) -> tuple[dict[str, Any], dict[str, str]]:
    """Optuna's matplotlib figures: ``({artifact path: figure}, {artifact path: why skipped})``.

    Optimisation history, parameter importances and parallel coordinates, once per
    objective; for a multi-objective study also the Pareto front.  A figure Optuna cannot
    draw (for example importances with a single finished trial) is skipped with its reason.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import optuna
    from optuna.visualization import matplotlib as ovm

    figures: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    multi = len(objectives) > 1
    plots = {"optimization_history": ovm.plot_optimization_history,
             "param_importances": ovm.plot_param_importances,
             "parallel_coordinate": ovm.plot_parallel_coordinate}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # The importance evaluator (PED-ANOVA) asks which params give LOW target values
        # whenever a target is given: negate a maximised objective for that figure only.
        warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes")
        # Small or flat studies (one value of a parameter) are drawn anyway; say nothing.
        warnings.filterwarnings("ignore", message="Target and region quantiles select")
        warnings.filterwarnings("ignore", message="Attempting to set identical low and high")
        for i, o in enumerate(objectives):
            sign = -1.0 if o.direction == "maximize" else 1.0
            for kind, plot in plots.items():
                path = f"figures/optuna/{kind}" + (f"_{o.name}" if multi else "") + ".png"
                scale = sign if kind == "param_importances" else 1.0
                target = _value(i, scale) if multi else None
                try:
                    figures[path] = _figure(plot(study, target=target, target_name=o.name))
                except Exception as err:  # Optuna refuses e.g. importances of one trial
                    skipped[path] = f"{type(err).__name__}: {err}"
        if multi:
            path = "figures/optuna/pareto_front.png"
            try:
                figures[path] = _figure(ovm.plot_pareto_front(
                    study, target_names=[o.name for o in objectives]))
            except Exception as err:
                skipped[path] = f"{type(err).__name__}: {err}"
    return figures, skipped
