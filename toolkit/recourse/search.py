"""The cheapest plan: an exact search over a grid of lever settings.

A plan is one setting of every lever (:func:`plan_grid`), kept from next month until the
month its limit returns.  Its cost is what its amounts cost once plus, for each month until
the limit returns, its habits' monthly costs and the cost of a month without a limit
(:mod:`toolkit.recourse.levers`).  The search walks the months forward and at month ``k``
scores only the (user, setting) pairs that have not restored the limit yet and would still
cost less than the user's cheapest plan found so far; a pair's cost only grows with the
months, so nothing it drops could have been cheaper.  Ties go to the earlier month, then to
the earlier setting of the grid (the one with fewer or smaller levers).

Success in month ``k`` is the policy's own decision on the model's PD raised by ``margin``
log-odds: the PD clears the cutoff in force that month with that much room, no monitoring
rule fires, and the limit is positive.  A plan that only just clears the cutoff sits where
the model's own error decides (:mod:`toolkit.recourse.api` explains the default).

Features are computed once per distinct setting of the levers that may move them (the
declarations of :mod:`toolkit.recourse.levers`): the inquiry counts only see the inquiry
lever, features no lever moves are computed once per user.  A test holds these pieces equal
to features built from each full plan.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toolkit.data.features import build_features
from toolkit.links import sigmoid
from toolkit.policy import LimitPolicy
from toolkit.recourse.levers import AMOUNT_STEP, BY_NAME, LEVERS, MONTH_WITHOUT_LIMIT, Lever
from toolkit.recourse.levers import moved_features as _moved
from toolkit.recourse.play import Start, play


def plan_grid(shares: Mapping[str, Sequence[float]] | None = None,
              levers: Sequence[Lever] = LEVERS) -> pd.DataFrame:
    """Every combination of lever settings, one row per plan, one column per lever.

    Habits are 0 (off) or 1 (on); amount levers take their declared shares of their base
    (or those in ``shares``, which must start with 0).  Row 0 is the status quo (every
    lever off); rows run in lexicographic order of the levers' declaration order.
    """
    shares = dict(shares or {})
    unknown = sorted(set(shares) - {lv.name for lv in levers if lv.kind == "amount"})
    if unknown:
        allowed = ", ".join(lv.name for lv in levers if lv.kind == "amount")
        raise ValueError(f"no amount lever {unknown[0]!r}; allowed: {allowed}")
    options = []
    for lv in levers:
        opts = (0.0, 1.0) if lv.kind == "habit" else tuple(shares.get(lv.name, lv.shares))
        if opts[0] != 0.0:
            raise ValueError(f"the shares of {lv.name!r} must start with 0 (lever off)")
        options.append(opts)
    rows = list(itertools.product(*options))
    return pd.DataFrame(rows, columns=[lv.name for lv in levers], dtype=np.float64)


def lever_values(grid: pd.DataFrame, start: Start) -> dict[str, np.ndarray]:
    """``{lever: (n_users, n_plans)}``: 1/0 for a habit, CNY for an amount (its share of the
    user's base at the observation month, rounded up to whole hundreds)."""
    out = {}
    for name in grid.columns:
        lv = BY_NAME[name]
        g = grid[name].to_numpy(np.float64)
        if lv.kind == "habit":
            out[name] = np.broadcast_to(g, (start.n_users, len(g))).copy()
            continue
        base = (start.columns["outstanding"][-1] if lv.base == "outstanding"
                else start.profile["income"].astype(np.float64))
        # rounded up, so a stated amount is never less than the share it stands for;
        # the tolerance keeps an exact hundred from rounding up to the next one
        steps = np.ceil(base[:, None] * g[None, :] / AMOUNT_STEP - 1e-9)
        out[name] = np.maximum(steps, 0.0) * AMOUNT_STEP
    return out


def plan_costs(grid: pd.DataFrame, values: Mapping[str, np.ndarray],
               income: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(once, per_month)``: a plan's cost is ``once + per_month * months``.

    once: (n_users, n_plans), the amounts in months of income; per_month: (n_plans,), the
    habits' monthly costs plus the cost of a month without a limit.
    """
    income = np.asarray(income, dtype=np.float64)
    once = np.zeros(next(iter(values.values())).shape)
    per_month = np.full(len(grid), MONTH_WITHOUT_LIMIT)
    for name in grid.columns:
        lv = BY_NAME[name]
        if lv.kind == "habit":
            per_month = per_month + lv.monthly_cost * grid[name].to_numpy(np.float64)
        else:
            once = once + values[name] / income[:, None]
    return once, per_month


@dataclass
class _Block:
    """Features moved by the same levers, played for each distinct setting of those levers."""

    levers: tuple[str, ...]
    features: list[str]
    sub: np.ndarray       # (n_plans,) -> row of the block's own settings
    panel: object         # HistoryPanel of n_sub * n_users paths, setting-major
    model_features: list[int] = field(default_factory=list)  # positions in features ...
    model_columns: list[int] = field(default_factory=list)   # ... and in the model's columns


def _blocks(start: Start, grid: pd.DataFrame, values: Mapping[str, np.ndarray],
            names: Sequence[str], horizon: int) -> list[_Block]:
    moved = _moved(names, [BY_NAME[c] for c in grid.columns])
    keys: dict[tuple[str, ...], list[str]] = {}
    for f in names:
        key = tuple(lv for lv in grid.columns if f in moved[lv])
        keys.setdefault(key, []).append(f)
    n = start.n_users
    out = []
    for key, feats in keys.items():
        if key:
            sub_rows, sub = np.unique(grid[list(key)].to_numpy(), axis=0, return_inverse=True)
            first = np.array([np.flatnonzero(sub.ravel() == i)[0] for i in range(len(sub_rows))])
        else:
            sub, first = np.zeros(len(grid), dtype=np.int64), np.array([0])
        sub = np.asarray(sub).ravel()
        user = np.tile(np.arange(n), len(first))
        vals = {lv: values[lv][:, first].T.ravel() for lv in key}
        out.append(_Block(key, feats, sub, play(start, user, vals, horizon)))
    return out


@dataclass
class Cheapest:
    """The search's answer per user (arrays of shape (n_users,)).

    plan: row of the grid, -1 when no plan restores the limit within the horizon;
    months: the month the limit returns (1 = next month), 0 when none; cost: NaN when none.
    """

    plan: np.ndarray
    months: np.ndarray
    cost: np.ndarray


def cheapest_plans(scorer, start: Start, policy: LimitPolicy, grid: pd.DataFrame, *,
                   horizon: int, margin: float = 0.0, chunk: int = 500) -> Cheapest:
    """The cheapest plan of ``grid`` that restores each user's limit within ``horizon``
    months under ``policy`` judged on ``scorer``'s PD raised by ``margin`` log-odds (see the
    module docstring).

    Users are searched in chunks of ``chunk``; the answer does not depend on it.
    """
    parts = [_search(scorer, start.take(np.arange(i, min(i + chunk, start.n_users))),
                     policy, grid, horizon, margin)
             for i in range(0, start.n_users, chunk)]
    return Cheapest(*(np.concatenate([getattr(p, f) for p in parts])
                      for f in ("plan", "months", "cost")))


def decision_inputs(scorer, policy: LimitPolicy) -> list[str]:
    """The features a decision needs: the model's, the rules' and ``income`` (the limit)."""
    rules = [r.feature for r in policy.config.rules]
    return list(dict.fromkeys([*scorer.features, *rules, "income"]))


def restores(decisions: pd.DataFrame) -> np.ndarray:
    """Rows on which a decision restores a positive limit."""
    return ~decisions["zero"].to_numpy(bool) & (decisions["limit"].to_numpy() > 0)


def _search(scorer, start: Start, policy: LimitPolicy, grid: pd.DataFrame,
            horizon: int, margin: float) -> Cheapest:
    n, S = start.n_users, len(grid)
    values = lever_values(grid, start)
    once, per_month = plan_costs(grid, values, start.profile["income"])
    names = decision_inputs(scorer, policy)
    blocks = _blocks(start, grid, values, names, horizon)
    column = {f: j for j, f in enumerate(scorer.features)}
    for b in blocks:
        b.model_features = [i for i, f in enumerate(b.features) if f in column]
        b.model_columns = [column[b.features[i]] for i in b.model_features]
    decide_inputs = {"income", *(r.feature for r in policy.config.rules)}
    best_cost = np.full(n, np.inf)
    best_plan = np.full(n, -1, dtype=np.int64)
    best_month = np.zeros(n, dtype=np.int64)
    alive = np.ones((n, S), dtype=bool)
    for k in range(1, horizon + 1):
        cost = once + per_month[None, :] * k
        alive &= cost < best_cost[:, None]
        u, s = np.nonzero(alive)
        if len(u) == 0:
            break
        # each block's features of the pairs still alive, straight into the model's columns
        X = np.empty((len(u), len(scorer.features)))
        frame: dict[str, np.ndarray] = {}
        for b in blocks:
            asof = np.tile(start.obs_month, b.panel.n_users // n) + k
            F = build_features(b.panel, asof=asof, names=b.features)[b.features].to_numpy()
            values_k = F[b.sub[s] * n + u]
            X[:, b.model_columns] = values_k[:, b.model_features]
            for j, f in enumerate(b.features):
                if f in decide_inputs:
                    frame[f] = values_k[:, j]
        pd_ = sigmoid(scorer.margin_array(X) + margin)
        ok = restores(policy.decide(pd_, start.stressed_at(k)[u], frame))
        c = cost[u, s]
        cand = np.flatnonzero(ok & (c < best_cost[u]))
        if len(cand):
            order = cand[np.lexsort((s[cand], c[cand], u[cand]))]
            first = order[np.r_[True, u[order][1:] != u[order][:-1]]]
            best_cost[u[first]] = c[first]
            best_plan[u[first]] = s[first]
            best_month[u[first]] = k
        alive[u[ok], s[ok]] = False
    return Cheapest(plan=best_plan, months=best_month,
                    cost=np.where(best_plan >= 0, best_cost, np.nan))
