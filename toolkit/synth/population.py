"""Fictional users: segment, age, city tier, tenure, income, latent creditworthiness."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.config import WorldConfig
from toolkit.vocab import SEGMENTS

# Per segment: creditworthiness shift, median monthly income (CNY), activity shift,
# and inflow volatility (log-sd of monthly inflow around income).
SEGMENT_TRAITS = {
    "salaried":             (0.30, 9000.0, 0.0, 0.10),
    "self_employed":        (0.00, 11000.0, 0.1, 0.30),
    "small_business_owner": (0.10, 16000.0, 0.2, 0.35),
    "student":              (-0.25, 2500.0, 0.3, 0.25),
    "gig_worker":           (-0.35, 6000.0, 0.6, 0.35),
}
TIER_INCOME = np.array([0.30, 0.10, -0.10, -0.25])  # log-income shift of city tiers 1..4


def draw_population(world: WorldConfig, n: int, first_id: int,
                    rng: np.random.Generator) -> pd.DataFrame:
    """``n`` users with ids ``first_id..first_id+n-1``.

    Columns: ``user_id``, ``segment``, ``age`` (years), ``city_tier`` (1..4),
    ``tenure_months`` (months on the platform at the observation month), ``income``
    (CNY per month), ``latent_creditworthiness`` (standard-normal-ish, never a feature),
    ``protected_group`` ("A"/"B", audit only, never a feature; ``world.protected`` ties it
    to city tier and income), ``activity_trait``,
    ``social_trait`` (hidden behaviour traits) and ``obs_month`` (calendar index).
    """
    mix = np.array([world.segment_mix[s] for s in SEGMENTS])
    seg = rng.choice(len(SEGMENTS), size=n, p=mix / mix.sum())
    traits = np.array([SEGMENT_TRAITS[s] for s in SEGMENTS])
    z = rng.normal(size=n) + traits[seg, 0]
    student = seg == SEGMENTS.index("student")
    age = np.where(student, 18 + rng.integers(0, 8, size=n),
                   np.clip(np.round(rng.normal(37, 9, size=n)), 21, 65))
    tier = rng.choice(4, size=n, p=[0.2, 0.3, 0.3, 0.2]) + 1
    # The protected attribute is tied to city tier (and, if set, to income) only, so a fair
    # model can still differ across groups through legitimate features: the proxy an audit
    # must tell apart from a platform that treats the groups differently.
    b_share = 0.40 + world.protected.tier_link * tier
    protected = np.where(rng.random(n) < b_share, "B", "A")
    log_income = (np.log(traits[seg, 1]) + 0.25 * z + TIER_INCOME[tier - 1]
                  + rng.normal(0, 0.3, size=n))
    if world.protected.income_shift:  # off by default: the default world's bytes stay put
        log_income = log_income + world.protected.income_shift * (protected == "B")
    income = np.exp(log_income)
    income = np.round(income / 10.0) * 10.0
    tenure = world.history_months + rng.geometric(1 / 18, size=n) - 1
    activity = 0.3 * z + np.sqrt(1 - 0.09) * rng.normal(size=n) + traits[seg, 2]
    social = 0.8 * rng.normal(size=n) - 0.5 * z
    obs = rng.integers(world.first_obs_month, world.calendar_months, size=n)
    return pd.DataFrame({
        "user_id": np.arange(first_id, first_id + n, dtype=np.int64),
        "segment": np.array(SEGMENTS, dtype=object)[seg],
        "age": age.astype(np.int16),
        "city_tier": tier.astype(np.int8),
        "tenure_months": tenure.astype(np.int16),
        "income": income.astype(np.float64),
        "latent_creditworthiness": z,
        "protected_group": protected,
        "activity_trait": activity,
        "social_trait": social,
        "obs_month": obs.astype(np.int16),
    })
