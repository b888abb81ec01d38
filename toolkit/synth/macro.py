"""The macro regime: one market-liquidity index per calendar month, shared by all users."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.calendar import month_index, month_label
from toolkit.config import WorldConfig


def macro_calendar(world: WorldConfig, rng: np.random.Generator) -> pd.DataFrame:
    """The liquidity index of every calendar month.

    The index is a small AR(1) wobble (sd about 0.1) minus the depth of every stress
    episode, whose profile is a trapezoid: 60% of ``severity`` in its first and last month,
    the full severity in between.  A month is ``stressed`` when the index is below
    ``world.stress_threshold``; ``stress`` (>= 0) is the episode depth, which raises default
    hazards, cuts inflows and drives the platform's cutoff tightening.

    Returns columns ``month`` (calendar index), ``period`` (YYYY-MM), ``liquidity_index``,
    ``stress`` and ``regime`` ("normal" or "stressed").
    """
    n = world.calendar_months
    wobble = np.zeros(n)
    shocks = rng.normal(0.0, 0.08, size=n)
    for m in range(n):
        wobble[m] = (0.6 * wobble[m - 1] if m else 0.0) + shocks[m]
    depth = np.zeros(n)
    for ep in world.stress_episodes:
        first = month_index(ep.start, world.calendar_start)
        for k in range(ep.months):
            edge = k == 0 or k == ep.months - 1
            depth[first + k] += ep.severity * (0.6 if edge and ep.months > 2 else 1.0)
    index = wobble - depth
    return pd.DataFrame({
        "month": np.arange(n, dtype=np.int16),
        "period": [month_label(m, world.calendar_start) for m in range(n)],
        "liquidity_index": index,
        "stress": depth,
        "regime": np.where(index < world.stress_threshold, "stressed", "normal"),
    })
