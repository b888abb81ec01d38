"""The levers of a plan and their costs, declared once.

A lever is something a person does: a habit kept every month until the limit returns
(repay the full amount due, take no new draws, make no loan applications elsewhere), or an
amount set once (pay down part of the debt now, keep more money in the account).  Each
declaration says how the lever changes the month's behaviour (:attr:`Lever.act`), which
history columns and which registry features it may move and in which direction, and what
it costs.  The feature registry's ``actionable`` flag is the authority on what a lever may
touch: a lever that names a non-actionable feature is refused at import.

Directions are those of the value, not of the risk: ``-1`` only ever lower than the status
quo, ``+1`` only ever higher, ``0`` either way.  "Either way" is declared where the feature's
definition makes it unavoidable: a paid-to-due ratio over a window changes weight when the
dues shrink, and a utilisation trend rises back once a one-off repayment's head start fades.

Costs are in one unit: one month of a demanding habit.  Money is counted in months of the
user's income, and every month without a limit costs :data:`MONTH_WITHOUT_LIMIT`, so that a
free restore a year away does not beat a cheap one next month.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from toolkit.data.features import REGISTRY

#: Cost of each month the user waits with a zero limit (cost units per month).
MONTH_WITHOUT_LIMIT = 0.5
#: Amounts are stated in whole hundreds of CNY, rounded up.
AMOUNT_STEP = 100.0

# A month's behaviour as the levers see it, before the account's accounting:
# share (paid / due), draw_count, draw_amount, inquiries, extra (CNY repaid on top of the
# due), balance (month-end, CNY).  ``value`` is the lever's setting per path (1.0 on /
# 0.0 off for a habit, CNY for an amount); ``k`` the month of the plan, 1 = next month.
Act = Callable[[dict, np.ndarray, int], None]


@dataclass(frozen=True)
class Lever:
    """One lever.

    kind: ``habit`` (kept every month until the limit returns) or ``amount`` (CNY, once).
    monthly_cost: a habit's cost per month kept.
    base, shares: an amount lever's grid: shares of the user's ``outstanding`` debt or
        monthly ``income`` at the observation month (0 = off), rounded up to
        :data:`AMOUNT_STEP`; its cost is the amount over the monthly income.
    columns, features: the history columns and registry features (glob patterns) it may
        move, each with its direction (-1 lower, +1 higher, 0 either way).
    label: short English name for tables and figures (sentences: toolkit.recourse.text).
    """

    name: str
    kind: str
    act: Act
    columns: Mapping[str, int]
    features: Mapping[str, int]
    monthly_cost: float = 0.0
    base: str | None = None
    shares: tuple[float, ...] = ()
    label: str = ""


def _pay_full(month: dict, on: np.ndarray, k: int) -> None:
    month["share"] = np.where(on > 0, 1.0, month["share"])


def _no_draws(month: dict, on: np.ndarray, k: int) -> None:
    month["draw_count"] = np.where(on > 0, 0.0, month["draw_count"])
    month["draw_amount"] = np.where(on > 0, 0.0, month["draw_amount"])


def _no_inquiries(month: dict, on: np.ndarray, k: int) -> None:
    month["inquiries"] = np.where(on > 0, 0.0, month["inquiries"])


def _pay_down(month: dict, amount: np.ndarray, k: int) -> None:
    if k == 1:
        month["extra"] = month["extra"] + amount


def _top_up(month: dict, amount: np.ndarray, k: int) -> None:
    month["balance"] = month["balance"] + amount


# Less debt means smaller dues, so any lever that lowers the debt lowers the dues, may leave
# a missed month with nothing due, and reweights the paid-to-due ratio.
_DEBT_COLUMNS = {"outstanding": -1, "utilization": -1, "amount_due": -1, "amount_paid": 0,
                 "dpd": -1}
_DEBT_FEATURES = {"util_mean_*": -1, "util_trend_*": 0, "debt_to_income": -1,
                  "paid_ratio_*": 0, "late_cnt_*": -1, "max_dpd_*": -1}

LEVERS: tuple[Lever, ...] = (
    Lever("pay_full_due", "habit", _pay_full, columns=_DEBT_COLUMNS,
          # paying every due in full only adds fully paid months to the ratio
          features={**_DEBT_FEATURES, "paid_ratio_*": +1},
          monthly_cost=1.0, label="repay the full amount due"),
    Lever("no_new_draws", "habit", _no_draws,
          columns={"draw_count": -1, "draw_amount": -1, **_DEBT_COLUMNS},
          features={"draw_cnt_*": -1, "draw_amt_*": -1, **_DEBT_FEATURES},
          monthly_cost=1.0, label="take no new draws"),
    Lever("no_new_inquiries", "habit", _no_inquiries, columns={"inquiries": -1},
          features={"inq_cnt_*": -1}, monthly_cost=0.25,
          label="make no loan applications elsewhere"),
    Lever("pay_down", "amount", _pay_down, columns=_DEBT_COLUMNS, features=_DEBT_FEATURES,
          base="outstanding", shares=(0.0, 0.25, 0.5, 1.0), label="pay down debt now"),
    Lever("top_up_balance", "amount", _top_up, columns={"balance": +1},
          features={"min_balance_*": +1, "balance_drop_1m": -1},
          base="income", shares=(0.0, 0.25, 0.5, 1.0), label="keep more in the account"),
)
BY_NAME = {lever.name: lever for lever in LEVERS}
REGISTRY_NAMES = [f.name for f in REGISTRY]
HABITS = tuple(lever.name for lever in LEVERS if lever.kind == "habit")
AMOUNTS = tuple(lever.name for lever in LEVERS if lever.kind == "amount")


def _expand(patterns: Mapping[str, int], names) -> dict[str, int]:
    out: dict[str, int] = {}
    for pattern, direction in patterns.items():
        hits = fnmatch.filter(names, pattern)
        if not hits:
            raise RuntimeError(f"lever feature pattern {pattern!r} matches no registry feature")
        out.update({h: direction for h in hits})
    return out


def _check(levers) -> None:
    actionable = {f.name: f.actionable for f in REGISTRY}
    for lever in levers:
        if lever.kind not in ("habit", "amount"):
            raise RuntimeError(f"lever {lever.name!r} has kind {lever.kind!r}; "
                               "allowed: habit, amount")
        if lever.kind == "amount" and (not lever.shares or lever.shares[0] != 0.0):
            raise RuntimeError(f"amount lever {lever.name!r} needs shares starting at 0 (off)")
        for name in _expand(lever.features, list(actionable)):
            if not actionable[name]:
                raise RuntimeError(f"lever {lever.name!r} may move {name!r}, which the feature "
                                   "registry marks as not actionable")


_check(LEVERS)


def moved_features(names, levers=LEVERS) -> dict[str, dict[str, int]]:
    """``{lever: {feature: direction}}`` for the features among ``names`` each lever may
    move (registry names only; unknown names are moved by no lever)."""
    names = list(names)
    return {lever.name: {f: d for f, d in _expand(lever.features, REGISTRY_NAMES).items()
                         if f in names} for lever in levers}


def allowed_direction(declared: list[int]) -> int | None:
    """The direction several active levers allow together: their common sign, 0 if they
    disagree or one allows either way, None if no active lever may move the thing."""
    if not declared:
        return None
    if all(d == declared[0] for d in declared) and declared[0] != 0:
        return declared[0]
    return 0
