"""Plans played forward: a user's next months under a plan, as a history panel.

A plan starts from the last :data:`CYCLE` months of the user's stored history (up to the
observation month) and adds one month at a time.  What the plan does not change repeats the
user's own behaviour of a year before (the status quo): payments, inflows, balances, draws,
inquiries, the social signal and income shocks, and whether the due was paid in full and if
not, which share of it.  The market follows the world's calendar (past its end, the last
month's market, as in the generator).  The account itself follows the generator's accounting
(:mod:`toolkit.synth.behaviour`): interest, the minimum due, days past due, the capacity
cap, with two changes that only matter near a zero balance: the due never exceeds what is
owed, and a balance of at most CNY 1 is closed.  Without them, a user who owes CNY 2 would
pay CNY 50 and start the next month ahead of one who owes nothing, and a plan that owes less
could end up owing more.

The levers of :mod:`toolkit.recourse.levers` change each month's behaviour before the
accounting; the features are then rebuilt point in time by the one feature builder
(:func:`toolkit.data.features.build_features`), so windows roll off on their own: a late
payment leaves ``late_cnt_6m`` six months after it happened, whatever the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.calendar import month_label
from toolkit.data.features import HistoryPanel
from toolkit.recourse.levers import LEVERS
from toolkit.synth.behaviour import (
    BALANCE_GROWTH,
    CAPACITY_MULTIPLE,
    CLOSED_BELOW,
    DAYS_PER_MISSED_MONTH,
    HISTORY_DTYPES,
    minimum_due,
    roll_balance,
)

#: Months of history a plan starts from; the status quo repeats them.  The longest feature
#: window is 12 months, so these months determine every feature of the months ahead.
CYCLE = 12
#: Columns the status quo repeats from a cycle before (before the levers act).
REPEATED = ("txn_count", "spend", "active_days", "inflow", "balance", "draw_count",
            "draw_amount", "inquiries", "social_risk", "income_shock")
#: Columns the account's accounting writes.
ACCOUNT = ("amount_due", "amount_paid", "dpd", "outstanding", "utilization")
PLAYED = (*REPEATED, *ACCOUNT, "market_liquidity")
PROFILE = ("income", "age", "city_tier", "segment", "tenure_months")


@dataclass(frozen=True)
class Start:
    """Where every plan starts, for ``n`` users.

    user_ids, obs_month: (n,), the observation month as a calendar index.
    columns: history column -> ``(L, n)`` float64, months ``obs - L + 1 .. obs``.
    profile: ``income`` (CNY/month), ``age``, ``city_tier``, ``segment`` and
        ``tenure_months`` at the observation month, each (n,).
    liquidity, stressed: the calendar's liquidity index and stressed flag per month.
    calendar_start: the calendar's first month, YYYY-MM.
    """

    user_ids: np.ndarray
    obs_month: np.ndarray
    columns: dict[str, np.ndarray]
    profile: dict[str, np.ndarray]
    liquidity: np.ndarray
    stressed: np.ndarray
    calendar_start: str

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_months(self) -> int:
        return next(iter(self.columns.values())).shape[0]

    def take(self, pos: np.ndarray) -> Start:
        """The same start for the users at positions ``pos``."""
        return Start(user_ids=self.user_ids[pos], obs_month=self.obs_month[pos],
                     columns={c: a[:, pos] for c, a in self.columns.items()},
                     profile={c: a[pos] for c, a in self.profile.items()},
                     liquidity=self.liquidity, stressed=self.stressed,
                     calendar_start=self.calendar_start)

    def calendar(self, k: int | np.ndarray) -> np.ndarray:
        """Calendar index of plan month ``k`` per user (0 = the observation month)."""
        return self.obs_month + np.asarray(k, dtype=np.int64)

    def stressed_at(self, k: int) -> np.ndarray:
        """Whether plan month ``k`` is stressed, per user (past the calendar: its last month)."""
        return self.stressed[np.minimum(self.calendar(k), len(self.stressed) - 1)]

    def period(self, month: int) -> str:
        """The YYYY-MM label of a calendar index (also past the calendar's end)."""
        return month_label(int(month), self.calendar_start)

    def status_quo_share(self) -> np.ndarray:
        """Paid / due of each stored month, ``(L, n)``: 1 where the due was paid in full
        or nothing was due, the partial share where the month was missed."""
        due, paid = self.columns["amount_due"], self.columns["amount_paid"]
        missed = (self.columns["dpd"] > 0) & (due > 0)
        return np.where(missed, paid / np.where(due > 0, due, 1.0), 1.0)


def starting_points(history: pd.DataFrame, users: pd.DataFrame, macro: pd.DataFrame,
                    user_ids: Sequence, *, months: int = CYCLE) -> Start:
    """The start of every plan for ``user_ids``, from the world's stored tables.

    history: the dataset's monthly history (dense, sorted by ``user_id, month``, ending at
    each user's observation month); users: the users table; macro: the calendar
    (``liquidity_index``, ``regime``, ``period``).  Keeps the last ``months`` months (all of
    them when the history is shorter).
    """
    ids = np.asarray(user_ids)
    sub = history[history["user_id"].isin(ids)]
    present = pd.unique(sub["user_id"].to_numpy())
    if len(present) != len(np.unique(ids)):
        missing = sorted(set(ids.tolist()) - set(present.tolist()))
        raise KeyError(f"user {missing[0]} has no stored history")
    t = len(sub) // len(present)
    L = min(months, t)
    order = pd.Index(present).get_indexer(ids)
    cols = {}
    for c in (*REPEATED, *ACCOUNT, "market_liquidity"):
        a = sub[c].to_numpy(np.float64).reshape(len(present), t)[:, t - L:]
        cols[c] = np.ascontiguousarray(a[order].T)
    last = sub["month"].to_numpy(np.int64).reshape(len(present), t)[:, -1][order]
    prof = users.set_index("user_id").loc[ids]
    profile = {c: prof[c].to_numpy() for c in PROFILE}
    profile["segment"] = profile["segment"].astype(str)
    return Start(
        user_ids=ids, obs_month=last, columns=cols, profile=profile,
        liquidity=macro["liquidity_index"].to_numpy(np.float64),
        stressed=(macro["regime"].astype(str) == "stressed").to_numpy(),
        calendar_start=str(macro["period"].iloc[0]),
    )


def play(start: Start, user: np.ndarray, values: Mapping[str, np.ndarray],
         horizon: int) -> HistoryPanel:
    """The history of ``len(user)`` paths played ``horizon`` months past the observation
    month: path ``i`` is user ``start.user_ids[user[i]]`` under the lever settings
    ``values[lever][i]`` (1/0 for a habit, CNY for an amount; absent levers are off).

    Returns a :class:`HistoryPanel` of months ``obs - L + 1 .. obs + horizon`` whose user ids
    are the path numbers ``0 .. len(user) - 1``; features at as-of ``obs + k`` are those of
    plan month ``k``.
    """
    user = np.asarray(user, dtype=np.int64)
    L, p = start.n_months, len(user)
    T = L + horizon
    cols = {c: np.empty((T, p)) for c in PLAYED}
    for c in PLAYED:
        cols[c][:L] = start.columns[c][:, user]
    sq = {c: cols[c].copy() for c in REPEATED}
    share = np.empty((T, p))
    share[:L] = start.status_quo_share()[:, user]
    owed = cols["outstanding"][L - 1].copy()
    dpd = cols["dpd"][L - 1].copy()
    capacity = CAPACITY_MULTIPLE * start.profile["income"][user].astype(np.float64)
    obs = start.obs_month[user]
    last = len(start.liquidity) - 1
    levers = [(lv, np.asarray(values[lv.name], dtype=np.float64)) for lv in LEVERS
              if lv.name in values]
    for k in range(1, horizon + 1):
        t = L - 1 + k
        for c in REPEATED:
            sq[c][t] = sq[c][t - L]
        share[t] = share[t - L]
        month = {"share": share[t], "draw_count": sq["draw_count"][t],
                 "draw_amount": sq["draw_amount"][t], "inquiries": sq["inquiries"][t],
                 "balance": sq["balance"][t], "extra": np.zeros(p)}
        for lever, value in levers:
            lever.act(month, value, k)
        owed = np.where(owed <= CLOSED_BELOW, 0.0, owed)
        due = np.minimum(minimum_due(owed), owed * BALANCE_GROWTH)
        paid = month["share"] * due
        missed = (due > 0) & (month["share"] < 1.0)
        dpd = np.where(missed, dpd + DAYS_PER_MISSED_MONTH, 0.0)
        owed = roll_balance(owed, paid, month["extra"], month["draw_amount"], capacity)
        played = {**{c: sq[c][t] for c in REPEATED},
                  **{c: month[c] for c in ("draw_count", "draw_amount", "inquiries",
                                           "balance")},
                  "amount_due": due, "amount_paid": paid, "dpd": dpd, "outstanding": owed,
                  "utilization": owed / capacity,
                  "market_liquidity": start.liquidity[np.minimum(obs + k, last)]}
        # stored as the dataset stores a month, so the features (and the truth) read the
        # played months exactly as they read the stored ones
        for c, value in played.items():
            cols[c][t] = value.astype(HISTORY_DTYPES[c])
    profile = {c: start.profile[c][user] for c in PROFILE}
    profile["tenure_months"] = profile["tenure_months"] + horizon
    return HistoryPanel.from_columns(cols, user_ids=np.arange(p), first_month=obs - L + 1,
                                     profile=profile)
