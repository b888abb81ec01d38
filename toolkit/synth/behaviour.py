"""Monthly behaviour: payments, inflows, balances, borrowing, repayment, inquiries, social risk.

All users of a block are simulated together, one calendar step at a time (a loop over
months, never over users).  A user's financial health each month is

    health = latent creditworthiness + AR(1) personal shock - 0.6 x market stress
             - 0.8 x (an income shock is active)

and every behaviour is driven by health, the user's hidden activity and social traits,
and the regime, so behaviours are correlated as in real data.  Simplification: behaviour
is simulated against the user's credit capacity (3 x income); the limit the platform grants
does not feed back into next month's behaviour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.links import sigmoid
from toolkit.synth.population import SEGMENT_TRAITS
from toolkit.vocab import SEGMENTS

# Storage dtypes of the history table; features are computed from these stored values.
HISTORY_DTYPES = {
    "txn_count": np.int16, "spend": np.float32, "active_days": np.int8,
    "inflow": np.float32, "balance": np.float32, "draw_count": np.int16,
    "draw_amount": np.float32, "outstanding": np.float32, "utilization": np.float32,
    "amount_due": np.float32, "amount_paid": np.float32, "dpd": np.int16,
    "inquiries": np.int16, "social_risk": np.float32, "income_shock": np.int8,
    "market_liquidity": np.float32,
}

# The credit account's accounting, shared with anything that plays a history forward
# (toolkit.recourse): credit capacity is a multiple of income, the balance grows by 1.5%
# interest a month, and the minimum due is 12% of the balance plus CNY 50 once more than
# CNY 1 is owed.  Each missed month adds 30 days past due.
CAPACITY_MULTIPLE = 3.0
BALANCE_GROWTH = 1.015
DUE_SHARE = 0.12
DUE_FIXED = 50.0
CLOSED_BELOW = 1.0
DAYS_PER_MISSED_MONTH = 30


def minimum_due(owed: np.ndarray) -> np.ndarray:
    """The month's minimum due (CNY) on the balance ``owed`` carried into it."""
    return np.where(owed > CLOSED_BELOW, DUE_SHARE * owed + DUE_FIXED, 0.0)


def roll_balance(owed: np.ndarray, paid: np.ndarray, extra: np.ndarray, draws: np.ndarray,
                 capacity: np.ndarray) -> np.ndarray:
    """The month-end balance: interest on ``owed``, less the payment and any extra
    repayment, plus new draws, kept within ``[0, capacity]`` (all CNY)."""
    return np.clip(owed * BALANCE_GROWTH - paid - extra + draws, 0.0, capacity)


def simulate_history(users: pd.DataFrame, macro: pd.DataFrame, history_months: int,
                     rng: np.random.Generator, *, future_months: int = 0
                     ) -> dict[str, np.ndarray]:
    """Arrays of shape ``(n_users, history_months + future_months)`` in the storage dtypes,
    plus ``month``.

    Column ``t`` is calendar month ``obs_month - history_months + 1 + t``: the history up to
    the observation month, then ``future_months`` months of the performance window (which
    drive the default hazard and are never stored).  A month past the calendar's end repeats
    the last month's market; only censored users reach it, and they get no label.  Units:
    money in CNY per month, ``dpd`` in days, ``utilization`` as outstanding / credit
    capacity, ``social_risk`` in (0, 1), ``income_shock`` 1 in the month a shock starts,
    ``market_liquidity`` the month's liquidity index (the same for every user).
    """
    n, T = len(users), history_months + future_months
    obs = users["obs_month"].to_numpy(np.int64)
    months = obs[:, None] - (history_months - 1) + np.arange(T)[None, :]
    in_calendar = np.minimum(months, len(macro) - 1)
    stress = macro["stress"].to_numpy()[in_calendar]
    liquidity = macro["liquidity_index"].to_numpy()[in_calendar]
    z = users["latent_creditworthiness"].to_numpy()
    income = users["income"].to_numpy()
    act = users["activity_trait"].to_numpy()
    social = users["social_trait"].to_numpy()
    seg = pd.Categorical(users["segment"], categories=SEGMENTS).codes
    vol = np.array([SEGMENT_TRAITS[s][3] for s in SEGMENTS])[seg]
    capacity = CAPACITY_MULTIPLE * income

    out = {k: np.zeros((n, T), dtype=dt) for k, dt in HISTORY_DTYPES.items()}
    e = rng.normal(0, 0.5, size=n)
    shock_left = np.zeros(n)
    owed = capacity * np.clip(rng.beta(1.2, 4.0, size=n), 0, 1)
    dpd = np.zeros(n)
    for t in range(T):
        s = stress[:, t]
        e = 0.75 * e + 0.4 * rng.normal(size=n)
        shock = rng.random(n) < 0.012 + 0.03 * s + 0.015 * (z < -1)
        shock_left = np.where(shock, 3, np.maximum(shock_left - 1, 0))
        shocked = shock_left > 0
        health = z + e - 0.6 * s - 0.8 * shocked

        inflow = income * np.exp(vol * rng.normal(size=n)) * (1 - 0.45 * shocked) * (1 - 0.12 * s)
        txn = rng.poisson(np.exp(2.6 + 0.55 * act + 0.1 * health - 0.1 * s))
        active = np.minimum(30, rng.binomial(30, 1 - np.exp(-txn / 12.0)))
        spend = txn * income / 80.0 * np.exp(0.25 * rng.normal(size=n))

        draws = rng.poisson(np.exp(-1.1 - 0.55 * health + 0.15 * act + 0.4 * s))
        draw_amt = draws * capacity * 0.08 * np.exp(0.3 * rng.normal(size=n))
        due = minimum_due(owed)
        pays = rng.random(n) < sigmoid(2.8 + 1.4 * health)
        paid = np.where(pays, due, due * rng.uniform(0, 0.5, size=n))
        missed = (due > 0) & ~pays
        dpd = np.where(missed, dpd + DAYS_PER_MISSED_MONTH, 0)
        extra = np.where(health > 0.5, 0.15 * owed, 0.0)
        owed = roll_balance(owed, paid, extra, draw_amt, capacity)

        balance = income * 0.8 * np.exp(0.6 * health + 0.3 * rng.normal(size=n))
        drain = rng.random(n) < 0.004 + 0.03 * s + 0.006 * (health < -1)
        balance = np.where(drain, balance * rng.uniform(0.0, 0.1, size=n), balance)

        inq = rng.poisson(np.exp(-1.7 - 0.5 * health + 0.5 * s))
        burst = rng.random(n) < 0.005 + 0.01 * (health < -0.5) + 0.02 * s
        inq = inq + np.where(burst, 4 + rng.poisson(1.5, size=n), 0)
        soc = sigmoid(social - 1.0 + 0.3 * rng.normal(size=n))

        cols = {
            "txn_count": txn, "spend": spend, "active_days": active, "inflow": inflow,
            "balance": balance, "draw_count": draws, "draw_amount": draw_amt,
            "outstanding": owed, "utilization": owed / capacity, "amount_due": due,
            "amount_paid": paid, "dpd": dpd, "inquiries": inq, "social_risk": soc,
            "income_shock": shock, "market_liquidity": liquidity[:, t],
        }
        for k, v in cols.items():
            out[k][:, t] = v
    out["month"] = months.astype(np.int16)
    return out
