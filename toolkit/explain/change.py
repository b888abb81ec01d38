"""Why the limit dropped: the change in margin since ``k`` months before, by reason group.

For a zero-limit user whose platform limit (history column ``limit``) was positive ``k``
months before the observation month, the features are rebuilt point-in-time at that
earlier month (:func:`toolkit.data.features.build_features` with ``asof = obs - k``) and both
rows are explained by the same explainer.  Both SHAP vectors sum to ``margin - base`` with the
same base, so the group deltas ``G_now - G_before`` sum to the margin change exactly (up to
the two additivity errors, each at most 1e-4).

The score part of the change is the margin change; the policy part is the change of the
cutoff in force (from the macro regime of each month): with
``distance = margin - logit(cutoff)``, ``distance_change = margin_change + policy_part`` where
``policy_part = logit(cutoff_before) - logit(cutoff_now)`` (positive when the cutoff
tightened).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from toolkit.config import PolicyConfig
from toolkit.data.features import build_features
from toolkit.errors import InputError
from toolkit.explain.groups import group_order, group_values
from toolkit.explain.shap_values import ShapValues, path_shap
from toolkit.links import logit
from toolkit.policy import policy_for
from toolkit.vocab import PROTECTED

CHANGE_COLUMNS = (
    "month_before", "month_now", "period_before", "period_now", "limit_before",
    "regime_before", "regime_now", "margin_before", "margin_now", "margin_change",
    "cutoff_before", "cutoff_now", "cutoff_changed", "policy_part", "distance_before",
    "distance_now", "distance_change", "mechanism_before", "mechanism_now",
    "top_change_group", "attribution_error",
)


def eligible_users(history: pd.DataFrame, obs_month: pd.Series, k: int) -> pd.Series:
    """The platform limit ``k`` months before each user's observation month.

    obs_month: calendar month index per user (index = user id).
    Returns a Series indexed like ``obs_month``; NaN where that month precedes the history.
    """
    if k < 1:
        raise InputError(f"change_months must be at least 1, got {k}")
    if "limit" not in history.columns:
        raise InputError("the history has no 'limit' column, so the change cannot be explained")
    ids = obs_month.index.to_numpy()
    sub = history.loc[history["user_id"].isin(ids), ["user_id", "month", "limit"]]
    lim = sub.set_index(["user_id", "month"])["limit"]
    key = pd.MultiIndex.from_arrays([ids, obs_month.to_numpy().astype(np.int64) - k])
    return pd.Series(lim.reindex(key).to_numpy(np.float64), index=obs_month.index,
                     name="limit_before")


def explain_change(
    scorer,
    table,
    decisions: pd.DataFrame,
    users: Sequence | pd.Index,
    *,
    k: int = 3,
    policy: PolicyConfig | None = None,
    values: Callable[[pd.DataFrame], ShapValues] | None = None,
    now: ShapValues | None = None,
    groups: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Change explanations for the ``users`` whose limit was positive ``k`` months before the
    observation month and whose decision (``decisions``) is zero at it.

    table: a synthetic :class:`~toolkit.data.table.ModelTable` (its ``world`` holds the
        history, users and macro calendar); own tables have none, so the result is empty.
    decisions: the policy frame of the table's rows, indexed by user id.
    values(X): the explainer bound to its reference (:mod:`toolkit.explain.explainers`);
        default path TreeSHAP.  Both months are explained by it.
    now: SHAP values already computed by ``values`` for (at least) these users at the
        observation month.

    Returns one row per eligible user (index ``user_id``) with :data:`CHANGE_COLUMNS` and one
    ``delta_<group>`` column per group (log-odds; they sum to ``margin_change``).
    """
    policy = policy or PolicyConfig()
    groups = dict(groups or table.groups)
    features = list(scorer.features)
    order = group_order(groups, features)
    empty = pd.DataFrame(columns=[*CHANGE_COLUMNS, *(f"delta_{g}" for g in order)],
                         index=pd.Index([], name="user_id"))
    if table.world is None:
        return empty
    people, macro = table.world.users, table.world.macro
    ids = pd.Index(users)
    ids = ids[decisions.loc[ids, "zero"].to_numpy(bool)]
    history = table.world.history_of(ids.to_numpy())
    obs = table.features.loc[ids, "asof_month"].astype(np.int64)
    limit_before = eligible_users(history, obs, k)
    ok = limit_before.to_numpy() > 0  # NaN (before the history) compares False
    ids = ids[ok]
    if len(ids) == 0:
        return empty
    obs = obs.loc[ids]
    sub = history[history["user_id"].isin(ids.to_numpy())]
    panel_ids = pd.unique(sub["user_id"].to_numpy())  # build_features keeps history order
    asof = (obs.loc[panel_ids] - k).to_numpy()
    needed = list(dict.fromkeys([*features, *(r.feature for r in policy.rules), "income"]))
    before = build_features(sub, people, asof=asof, names=needed).loc[ids]
    if PROTECTED in table.features:
        # a biased policy judges the group by its own cutoffs, then as now
        before[PROTECTED] = table.features.loc[ids, PROTECTED]

    values = values or (lambda X: path_shap(scorer, X))
    if now is None:
        now = values(table.X.loc[ids])
    else:
        now = now.take(now.index.get_indexer(ids))
        if (now.index != ids).any() or len(now) != len(ids):
            raise InputError("the SHAP values given as 'now' lack some of the users")
    sv_before = values(before[features])
    G_now, _ = group_values(now.values, features, groups, order)
    G_before, _ = group_values(sv_before.values, features, groups, order)
    delta = G_now - G_before

    regime = macro.set_index("month")["regime"].astype(str)
    period = macro.set_index("month")["period"].astype(str) if "period" in macro else None
    m_now = obs.to_numpy()
    m_before = m_now - k
    stressed_before = (regime.reindex(m_before).to_numpy() == "stressed")
    stressed_now = (regime.reindex(m_now).to_numpy() == "stressed")
    lp = policy_for(policy, before.columns)
    dec_before = lp.decide(sv_before.pd, stressed_before, before)
    cut_before = lp.cutoff_in_force(stressed_before, before)
    cut_now = lp.cutoff_in_force(stressed_now, before)
    margin_change = now.margin - sv_before.margin
    policy_part = logit(cut_before) - logit(cut_now)
    dist_before = sv_before.margin - logit(cut_before)
    dist_now = now.margin - logit(cut_now)
    top = np.where(delta.max(axis=1) > 0,
                   np.asarray(order, dtype=object)[np.argmax(delta, axis=1)], "")
    out = pd.DataFrame({
        "month_before": m_before,
        "month_now": m_now,
        "period_before": period.reindex(m_before).to_numpy() if period is not None else "",
        "period_now": period.reindex(m_now).to_numpy() if period is not None else "",
        "limit_before": limit_before.loc[ids].to_numpy(),
        "regime_before": np.where(stressed_before, "stressed", "normal"),
        "regime_now": np.where(stressed_now, "stressed", "normal"),
        "margin_before": sv_before.margin,
        "margin_now": now.margin,
        "margin_change": margin_change,
        "cutoff_before": cut_before,
        "cutoff_now": cut_now,
        "cutoff_changed": cut_before != cut_now,
        "policy_part": policy_part,
        "distance_before": dist_before,
        "distance_now": dist_now,
        "distance_change": dist_now - dist_before,
        "mechanism_before": dec_before["mechanism"].to_numpy().astype(str),
        "mechanism_now": decisions.loc[ids, "mechanism"].to_numpy().astype(str),
        "top_change_group": top.astype(str),
        "attribution_error": np.abs(delta.sum(axis=1) - margin_change),
    }, index=pd.Index(ids, name="user_id"))
    for j, g in enumerate(order):
        out[f"delta_{g}"] = delta[:, j]
    return out


