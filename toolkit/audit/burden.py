"""Recourse burden by group: when a refused user of one group needs a longer or dearer plan to
get the limit back than a refused user of the reference group.

The plans are the recourse stage's (one row per zero-limit user: ``found``, ``months``,
``cost``, ``mechanism``); the groups are the protected attribute of the same users.  A gap
is the group's figure minus the reference group's (the most approved group of at least 30
rows, :func:`toolkit.audit.fairness.reference_group`); the metric keeps the largest gap in size over
the groups.  The gaps are descriptive: a longer plan can come from a larger PD gap to close
(the drivers), which this table does not separate out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.vocab import MECHANISMS

#: the table's columns after ``mechanism`` and the group
COLUMNS = ("refused", "found_rate", "mean_months", "median_months", "mean_cost")


def recourse_burden(plans: pd.DataFrame, groups: pd.Series,
                    reference: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """Found rate, months and cost of the plans by group, overall (``all``) and by mechanism.

    plans: indexed by user id; groups: the protected group of each of those user ids.
    Months and cost are over found plans.  Metrics (without prefix): ``recourse_found_gap``,
    ``recourse_months_gap`` and ``recourse_cost_gap``, each the largest group-minus-reference
    gap over all zero-limit users (NaN where a group has no found plan).
    """
    missing = plans.index.difference(groups.index)
    if len(missing):
        raise ValueError(f"{len(missing)} planned users have no group, e.g. user {missing[0]}")
    g = groups.loc[plans.index].astype(str).to_numpy()
    found = plans["found"].to_numpy(bool)
    mech = plans["mechanism"].astype(str).to_numpy()
    months = plans["months"].to_numpy(np.float64)
    cost = plans["cost"].to_numpy(np.float64)
    rows = []
    for part in ("all", *MECHANISMS):
        keep = np.ones(len(plans), bool) if part == "all" else mech == part
        if not keep.any():
            continue
        for name in sorted(set(g[keep])):
            mine = keep & (g == name)
            ok = mine & found
            rows.append((part, name, int(mine.sum()), float(found[mine].mean()),
                         float(months[ok].mean()) if ok.any() else np.nan,
                         float(np.median(months[ok])) if ok.any() else np.nan,
                         float(cost[ok].mean()) if ok.any() else np.nan))
    table = pd.DataFrame(rows, columns=["mechanism", "group", *COLUMNS])
    overall = table[table["mechanism"] == "all"].set_index("group")
    metrics = {}
    for col, key in (("found_rate", "found"), ("mean_months", "months"),
                     ("mean_cost", "cost")):
        if reference not in overall.index:
            break
        gaps = (overall[col] - overall.loc[reference, col]).drop(reference).dropna()
        metrics[f"recourse_{key}_gap"] = float(gaps.loc[gaps.abs().idxmax()]) if len(gaps) \
            else float("nan")
    return table, metrics
