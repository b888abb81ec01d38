"""Explanation quality of one model on one split, and explanation stability across models.

Both use the explanation package (``toolkit.explain``): exact path-dependent TreeSHAP,
contributions summed per reason group, and its truth metrics.  Nothing here re-implements
a metric; this module only chooses which rows to explain.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from toolkit.data.table import ModelTable
from toolkit.explain import group_contributions, path_shap, top_groups, truth_metrics


def group_frame(scorer, table: ModelTable, rows: pd.Index) -> tuple[pd.DataFrame, float]:
    """Group contributions (log-odds, one column per reason group) of ``rows`` of the table,
    and the largest SHAP additivity error among them."""
    sv = path_shap(scorer, table.X.loc[rows])
    return group_contributions(sv, table.groups), sv.additivity_max_error


def explain_metrics(scorer, table: ModelTable, decisions: pd.DataFrame, split: str, *,
                    suffix: str = "") -> dict[str, float]:
    """``explain_*`` truth metrics of the model on ``split`` (empty without a truth table).

    SHAP is computed for the zero-limit rows of the split; which of them the group metrics
    average over (true mechanism ``score``, model PD failing the cutoff in force) is
    :func:`toolkit.explain.truth_metrics`'s choice, so it is made in one place only.
    decisions: the policy frame of every table row (``zero``, ``mechanism``,
    ``distance_logit``), indexed like ``table.X``.
    """
    if table.truth is None:
        return {}
    pop = table.X.index[table.mask(split)]
    # A PD failing the cutoff in force always zeroes the line, so these rows hold every row
    # the group metrics can select.
    zero = pop[decisions.loc[pop, "zero"].to_numpy(bool)]
    G, err = group_frame(scorer, table, zero)
    return truth_metrics(G, decisions, table.truth, additivity_max_error=err, suffix=suffix,
                         population=pop)


def top1_groups(scorer, table: ModelTable, rows: pd.Index) -> np.ndarray:
    """The top adverse reason group of each row ("" when no group pushes toward default)."""
    G, _ = group_frame(scorer, table, rows)
    return top_groups(G.to_numpy(np.float64), list(G.columns), 1)[:, 0].astype(str)


def top1_stability(top1: Sequence[np.ndarray]) -> float:
    """Share of rows whose top-1 group is the same under every model.

    top1: one (n,) array of group names per model, rows aligned.  NaN with no rows;
    1.0 with a single model.
    """
    arrays = [np.asarray(a).astype(str) for a in top1]
    if not arrays or len(arrays[0]) == 0:
        return float("nan")
    same = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays[1:]:
        same &= a == arrays[0]
    return float(same.mean())
