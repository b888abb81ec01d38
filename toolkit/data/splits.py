"""Splits of observation rows: out-of-time (default) or user-disjoint random."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.calendar import month_index, month_label
from toolkit.config import SplitConfig, WorldConfig
from toolkit.errors import InputError
from toolkit.vocab import SPLITS


def assign_splits(obs_month: np.ndarray, user_id: np.ndarray, split: SplitConfig,
                  world: WorldConfig) -> np.ndarray:
    """The split ("train", "valid" or "test") of each observation row.

    out_of_time: train = observation months <= ``split.train_end``, valid = up to
    ``split.valid_end``, test = later.  random: users are hashed with ``split.seed`` into
    the three splits, so a user never appears in two.  Raises :class:`InputError` when
    boundaries overlap or leave a split empty.
    """
    obs_month = np.asarray(obs_month)
    if split.method == "random":
        out = random_split(user_id, split)
    else:
        try:
            t_end = month_index(split.train_end, world.calendar_start)
            v_end = month_index(split.valid_end, world.calendar_start)
        except ValueError as err:
            raise InputError(f"split boundary: {err}") from None
        if v_end <= t_end:
            raise InputError(
                f"split boundaries overlap: valid_end {split.valid_end} must be after "
                f"train_end {split.train_end}"
            )
        out = np.where(obs_month <= t_end, "train", np.where(obs_month <= v_end, "valid", "test"))
    out = out.astype(object)
    for name in SPLITS:
        if not (out == name).any():
            if split.method == "random":
                settings = (f"valid_fraction={split.valid_fraction:g}, "
                            f"test_fraction={split.test_fraction:g}, seed={split.seed}")
            else:
                settings = f"train_end={split.train_end}, valid_end={split.valid_end}"
            first = month_label(int(obs_month.min()), world.calendar_start)
            last = month_label(int(obs_month.max()), world.calendar_start)
            raise InputError(
                f"split {name!r} is empty with {settings}: observation months run from "
                f"{first} to {last}; set the boundaries inside that range"
            )
    return out


def random_split(ids: np.ndarray, split: SplitConfig) -> np.ndarray:
    """"train"/"valid"/"test" by hashing each id with ``split.seed`` (no empty-split check)."""
    if split.valid_fraction + split.test_fraction >= 1:
        raise InputError(
            f"split.valid_fraction + split.test_fraction = "
            f"{split.valid_fraction + split.test_fraction:g} leaves no training rows; "
            "their sum must be below 1"
        )
    u = _user_uniform(np.asarray(ids), split.seed)
    out = np.where(u < split.test_fraction, "test",
                   np.where(u < split.test_fraction + split.valid_fraction, "valid", "train"))
    return out.astype(object)


def check_nonempty(split: np.ndarray, where: str) -> None:
    """InputError naming the first of train/valid/test that has no rows."""
    for name in SPLITS:
        if not (split == name).any():
            raise InputError(f"split {name!r} is empty in {where}; each of "
                             f"{', '.join(SPLITS)} needs rows")


def _user_uniform(user_id: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number per user that depends only on (user id, seed)."""
    x = user_id.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed * 7919 + 1)
    x ^= x >> np.uint64(31)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def split_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows, default rate, zero-limit rate and regime mix per split.

    frame: one row per observation with ``split``, ``default_12m``, ``zero`` and ``regime``.
    """
    g = frame.groupby("split", sort=False)
    out = pd.DataFrame({
        "rows": g.size(),
        "default_rate": g["default_12m"].mean(),
        "zero_limit_rate": g["zero"].mean(),
        "stressed_share": g["regime"].apply(lambda r: float((r == "stressed").mean())),
    })
    return out.reindex([s for s in SPLITS if s in out.index])
