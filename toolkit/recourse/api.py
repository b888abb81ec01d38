"""Recourse for a model table: the cheapest plan of every zero-limit user, checked in the
true world.

:func:`recourse_table` selects the users, finds each one's cheapest plan
(:mod:`toolkit.recourse.search`), plays it (and the status quo) month by month through the
model and the truth (:mod:`toolkit.recourse.paths`), and returns a
:class:`~toolkit.recourse.result.RecourseResult`.

Why a margin.  Near the cutoff the default model's log-odds miss the true ones with a
standard deviation of 0.6 on the validation split (0.76 on the test split, whose stress
episode is deeper, where the model sits about 0.6 below the truth in stressed months), and
the search itself picks the months and levers where the model is most optimistic.  A plan
that only just clears the cutoff therefore restores the limit in the true world about one
time in three.  ``[recourse] margin`` (log-odds, default 1.0: the validation split's 90th
percentile of that miss, 0.7, plus what the search's choice adds) asks the model's PD to
clear the cutoff by that much before a plan is promised; the README reports what each
margin buys in validity and costs in months and effort.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from toolkit.compute import by_row_blocks
from toolkit.config import PolicyConfig, RecourseConfig
from toolkit.errors import InputError
from toolkit.explain.reasons import plain
from toolkit.policy import LimitPolicy, policy_for
from toolkit.recourse.levers import AMOUNTS, HABITS, LEVERS
from toolkit.recourse.paths import PATH_FIELDS, Judged, judge
from toolkit.recourse.play import Start, starting_points
from toolkit.recourse.result import RecourseResult, recourse_metrics
from toolkit.recourse.search import cheapest_plans, lever_values, plan_grid
from toolkit.recourse.text import plan_sentence
from toolkit.vocab import LANGS

#: Columns of :attr:`RecourseResult.plans` (index ``user_id``).  Habit columns are booleans,
#: amount columns CNY; ``*_then`` and the PDs describe the restore month, or for a user with
#: no plan the horizon's last month under the strongest plan (every lever at its most).
PLAN_COLUMNS = ("mechanism", "rule", "period", "pd_now", "cutoff_now", "normal_cutoff",
                "pd_gap_now", "normal_back_period", "found", "plan", *HABITS, *AMOUNTS,
                "months", "cost", "period_then", "model_pd", "cutoff", "stressed_then",
                "rule_then", "true_pd", "true_cutoff", "valid_in_truth",
                "robust_to_tightening", "wait_months", "sentence_en", "sentence_zh")
MAX_HORIZON = 36
#: Users planned per task on a cluster: a plan searches every lever setting over the
#: horizon, so a few hundred users are seconds of work, worth sending, and a test split's
#: zero-limit users make several blocks per worker.
USERS_PER_TASK = 250


def check_horizon(horizon) -> int:
    """The horizon in months, or InputError naming the bad value and the allowed range."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) \
            or not 1 <= horizon <= MAX_HORIZON:
        raise InputError(f"horizon must be a whole number of months in 1..{MAX_HORIZON}, "
                         f"got {horizon!r}")
    return int(horizon)


def planned_users(table, decisions: pd.DataFrame, *, users: Sequence | None = None,
                  split: str = "test") -> pd.Index:
    """The users to plan for: ``users`` (each must be in the table and zero-limit), or every
    zero-limit user of ``split``.  Raises InputError naming the first bad user."""
    if table.world is None:
        raise InputError("recourse needs the monthly history of a synthetic world; an own "
                         "table has none, so its users cannot be played forward")
    zero = decisions["zero"].to_numpy(bool)
    if users is None:
        return table.X.index[(table.split == split) & zero]
    ids = pd.Index(list(dict.fromkeys(users)))
    pos = table.X.index.get_indexer(ids)
    if (pos < 0).any():
        bad = plain(ids[pos < 0][0])
        raise InputError(f"user id {bad!r} is not in the data; ids run from "
                         f"{plain(table.X.index.min())!r} to {plain(table.X.index.max())!r}")
    for user, p in zip(ids, pos, strict=True):
        if not zero[p]:
            limit = float(decisions["limit"].iloc[p])
            raise InputError(f"user {plain(user)!r} is not zero-limit (approved with a limit of "
                             f"CNY {limit:,.0f}); recourse plans are for zero-limit users")
    return ids


def recourse_table(scorer, table, decisions: pd.DataFrame, config: RecourseConfig | None = None,
                   *, policy: PolicyConfig, platform: PolicyConfig,
                   users: Sequence | None = None, split: str = "test",
                   horizon: int | None = None, margin: float | None = None,
                   grid: pd.DataFrame | None = None, lang: str = "en") -> RecourseResult:
    """The cheapest plan of every zero-limit user of ``split`` (or of ``users``).

    scorer: the :class:`~toolkit.models.xgb.XGBScorer`; table: a synthetic
    :class:`~toolkit.data.table.ModelTable` (its ``world`` holds the history); decisions:
    the policy frame of every table row (:func:`toolkit.models.train.evaluate`).
    config: ``[recourse]`` (horizon, margin), overridden by ``horizon`` and ``margin``.
    policy: the experiment's policy (the model's decisions); platform: the world's true
    policy (``world.platform``, the truth's decisions).  grid: the plans searched
    (:func:`~toolkit.recourse.search.plan_grid`, by default every declared lever setting).

    Raises InputError for an own table, an unknown or approved user, or a bad horizon.
    """
    config = config or RecourseConfig()
    horizon = check_horizon(config.horizon if horizon is None else horizon)
    margin = float(config.margin if margin is None else margin)
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; allowed: {', '.join(LANGS)}")
    ids = planned_users(table, decisions, users=users, split=split)
    grid = plan_grid() if grid is None else grid
    model_policy = policy_for(policy, table.features.columns)
    truth_policy = LimitPolicy(platform)
    world = table.world
    if not len(ids):
        return RecourseResult(plans=pd.DataFrame(columns=list(PLAN_COLUMNS),
                                                 index=pd.Index([], name="user_id")),
                              paths=pd.DataFrame(), metrics={}, horizon=horizon,
                              margin=margin, lang=lang)
    start = starting_points(world.history_of(ids.to_numpy()), world.users, world.macro,
                            ids)
    planner = _Planner(scorer, start, grid, dict(horizon=horizon, policy=model_policy,
                                                 platform=truth_policy, margin=margin))
    plans, paths = by_row_blocks(planner, _joined, rows=USERS_PER_TASK)(decisions.loc[ids])
    return RecourseResult(plans=plans, paths=paths, metrics=recourse_metrics(plans),
                          horizon=horizon, margin=margin, lang=lang)


class _Planner:
    """The plans and paths of the users of a block of their decision rows.

    Every user's plan depends on that user's start alone, so blocks of users planned apart
    (on a cluster's workers) give the plans of all of them planned together.
    """

    def __init__(self, scorer, start: Start, grid: pd.DataFrame, options: dict):
        self.scorer, self.start, self.grid, self.options = scorer, start, grid, options

    def __call__(self, now: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        scorer, grid, options = self.scorer, self.grid, self.options
        horizon, margin = options["horizon"], options["margin"]
        start = self.start
        if len(now) != start.n_users:
            start = start.take(pd.Index(start.user_ids).get_indexer(now.index))
        found = cheapest_plans(scorer, start, options["policy"], grid, horizon=horizon,
                               margin=margin)
        values = lever_values(grid, start)
        chosen_row = np.where(found.plan >= 0, found.plan, len(grid) - 1)
        chosen = {name: v[np.arange(start.n_users), chosen_row] for name, v in values.items()}
        plan_path = judge(scorer, start, chosen, **options)
        quo_path = judge(scorer, start, {}, **options)
        plans = _plans(start, now, found, chosen, plan_path, quo_path, horizon, margin)
        paths = pd.concat([_long(start, plan_path,
                                 np.where(found.plan >= 0, "plan", "strongest"), found.months),
                           _long(start, quo_path, "status_quo", np.zeros(start.n_users, int))],
                          ignore_index=True)
        return plans, paths


def _joined(parts: Sequence[tuple[pd.DataFrame, pd.DataFrame]]
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The blocks' plans and paths in the order of all users planned together: the paths
    of the plans (or strongest plans) by user and month, then the status quo's."""
    paths = pd.concat([q for _, q in parts], ignore_index=True)
    quo = (paths["path"] == "status_quo").to_numpy()
    order = np.lexsort((paths["month"].to_numpy(), paths["user_id"].to_numpy(), quo))
    return (pd.concat([p for p, _ in parts]),
            paths.iloc[order].reset_index(drop=True))


def _first(flags: np.ndarray) -> np.ndarray:
    """First plan month >= 1 where ``flags`` (months x users) holds, else 0."""
    later = flags[1:]
    return np.where(later.any(axis=0), later.argmax(axis=0) + 1, 0)


def _plans(start: Start, now: pd.DataFrame, found, chosen, plan: Judged, quo: Judged,
           horizon: int, margin: float) -> pd.DataFrame:
    ok = found.plan >= 0
    then = np.where(ok, found.months, horizon)
    at = plan.at(then)
    back = _first(quo.cutoff == now["normal_cutoff"].to_numpy()[None, :])
    wait = _first(quo.cleared)
    names = [lv.name for lv in LEVERS]
    on = np.column_stack([chosen[name] > 0 for name in names])
    label = np.array(["+".join(n for n, o in zip(names, row, strict=True) if o) or "wait"
                      for row in on], dtype=object)
    frame = pd.DataFrame({
        "mechanism": now["mechanism"].to_numpy().astype(str),
        "rule": now["rule"].to_numpy().astype(str),
        "period": [start.period(m) for m in start.obs_month],
        "pd_now": plan.model_pd[0],
        "cutoff_now": now["cutoff"].to_numpy(np.float64),
        "normal_cutoff": now["normal_cutoff"].to_numpy(np.float64),
        "pd_gap_now": plan.model_pd[0] - now["cutoff"].to_numpy(np.float64),
        "normal_back_period": [start.period(m + b) if b else None
                               for m, b in zip(start.obs_month, back, strict=True)],
        "found": ok,
        "plan": np.where(ok, label, "none"),
    }, index=pd.Index(start.user_ids, name="user_id"))
    for name in HABITS:
        frame[name] = ok & (chosen[name] > 0)
    for name in AMOUNTS:
        frame[name] = np.where(ok, chosen[name], 0.0)
    frame["months"] = pd.array(np.where(ok, found.months, 0), dtype="Int64")
    frame.loc[~ok, "months"] = pd.NA
    frame["cost"] = found.cost
    frame["period_then"] = [start.period(m + k) for m, k in zip(start.obs_month, then,
                                                                strict=True)]
    frame["model_pd"] = at["model_pd"]
    frame["cutoff"] = at["cutoff"]
    frame["stressed_then"] = at["stressed"]
    frame["rule_then"] = at["rule"]
    frame["true_pd"] = at["true_pd"]
    frame["true_cutoff"] = at["true_cutoff"]
    frame["valid_in_truth"] = pd.array(at["true_restored"], dtype="boolean")
    frame["robust_to_tightening"] = pd.array(at["robust"], dtype="boolean")
    frame.loc[~ok, ["valid_in_truth", "robust_to_tightening"]] = pd.NA
    frame["wait_months"] = pd.array(wait, dtype="Int64")
    frame.loc[wait == 0, "wait_months"] = pd.NA
    for lang in LANGS:
        frame[f"sentence_{lang}"] = [plan_sentence(r, lang, horizon=horizon, margin=margin)
                                     for r in frame.to_dict("records")]
    return frame[list(PLAN_COLUMNS)]


def _long(start: Start, judged: Judged, path, restore_month: np.ndarray) -> pd.DataFrame:
    """One row per (user, plan month) of a judged path."""
    months, n = judged.model_pd.shape
    k = np.repeat(np.arange(months), n)
    user = np.tile(np.arange(n), months)
    calendar = start.obs_month[user] + k
    frame = pd.DataFrame({
        "user_id": start.user_ids[user],
        "path": np.broadcast_to(np.asarray(path, dtype=object), (months, n)).ravel(),
        "month": k,
        "calendar_month": calendar,
        "period": [start.period(m) for m in calendar],
    })
    for f in PATH_FIELDS:
        frame[f] = getattr(judged, f).ravel()
    frame["restore"] = (k == np.asarray(restore_month)[user]) & (k > 0)
    return frame.sort_values(["user_id", "month"], kind="stable").reset_index(drop=True)
