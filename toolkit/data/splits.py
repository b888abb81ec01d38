"""Splits of observation rows: out-of-time (default) or user-disjoint random."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.calendar import month_index, month_label
from toolkit.config import SplitConfig, WorldConfig
from toolkit.errors import InputError
from toolkit.vocab import SPLITS

#: Rows in the gap between validation and test belong to no split: their labels would
#: reach into the test period.
GAP = "gap"
#: Labelled rows a split is expected to hold at least (see :func:`check_split_plan`).
MIN_SPLIT_ROWS = 50


def gap_months(split: SplitConfig, world: WorldConfig) -> int:
    """The effective gap: ``split.gap_months``, or the performance window when unset."""
    return world.performance_months if split.gap_months is None else split.gap_months


def last_labelled_month(world: WorldConfig) -> int:
    """The last observation month whose performance window ends inside the calendar."""
    return world.calendar_months - 1 - world.performance_months


def boundaries(split: SplitConfig, world: WorldConfig) -> tuple[int, int, int]:
    """``(train_end, valid_end, test_start)`` as calendar indices (out_of_time)."""
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
    return t_end, v_end, v_end + gap_months(split, world) + 1


def assign_splits(obs_month: np.ndarray, user_id: np.ndarray, split: SplitConfig,
                  world: WorldConfig, *, check: bool = True) -> np.ndarray:
    """The split ("train", "valid", "test", or "gap") of each observation row.

    out_of_time: train = observation months <= ``split.train_end``, valid = up to
    ``split.valid_end``, test = from ``valid_end + gap + 1`` on, where the gap is
    ``split.gap_months`` (default: the performance window), so no train or validation label
    window reaches into the test period; rows inside the gap are "gap" and are not used.
    random: users are hashed with ``split.seed`` into the three splits, so a user never
    appears in two.  Raises :class:`InputError` when boundaries overlap or (with ``check``)
    leave a split empty.
    """
    obs_month = np.asarray(obs_month)
    if split.method == "random":
        out = random_split(user_id, split)
    else:
        t_end, v_end, t_start = boundaries(split, world)
        out = np.where(obs_month <= t_end, "train",
                       np.where(obs_month <= v_end, "valid",
                                np.where(obs_month >= t_start, "test", GAP)))
    out = out.astype(object)
    for name in SPLITS if check else ():
        if not (out == name).any():
            if split.method == "random":
                settings = (f"valid_fraction={split.valid_fraction:g}, "
                            f"test_fraction={split.test_fraction:g}, seed={split.seed}")
            else:
                settings = (f"train_end={split.train_end}, valid_end={split.valid_end}, "
                            f"gap_months={gap_months(split, world)}")
            first = month_label(int(obs_month.min()), world.calendar_start)
            last = month_label(int(obs_month.max()), world.calendar_start)
            raise InputError(
                f"split {name!r} is empty with {settings}: observation months run from "
                f"{first} to {last}; set the boundaries inside that range"
            )
    return out


def check_split_plan(split: SplitConfig, world: WorldConfig) -> None:
    """Refuse, before any work, settings under which a split would hold no labelled rows.

    Checks, in order: the boundaries leave every split some observation month (out_of_time);
    the gap leaves the test split a month whose label is complete by the calendar's end; and
    ``world.n_users`` is large enough that every split expects at least
    :data:`MIN_SPLIT_ROWS` labelled rows (observation months are uniform over the calendar).
    """
    months = np.arange(world.first_obs_month, world.calendar_months)
    labelled = months <= last_labelled_month(world)
    last_label = month_label(last_labelled_month(world), world.calendar_start)
    if split.method == "out_of_time":
        assign_splits(months, months, split, world)
        _, v_end, t_start = boundaries(split, world)
        if t_start > last_labelled_month(world):
            gap = gap_months(split, world)
            most = last_labelled_month(world) - v_end - 1
            allowed = f"0..{most}" if most >= 0 else "none (move valid_end earlier)"
            raise InputError(
                f"split.gap_months={gap} leaves the test split no labelled month: it would "
                f"start at {month_label(t_start, world.calendar_start)}, but labels are "
                f"complete only for observation months up to {last_label} "
                f"(world.performance_months={world.performance_months}); allowed: {allowed}"
            )
        share = {name: float(((assign_splits(months, months, split, world) == name)
                              & labelled).mean()) for name in SPLITS}
    else:
        random_split(np.arange(0), split)  # refuses fractions that leave no training share
        frac = {"train": 1 - split.valid_fraction - split.test_fraction,
                "valid": split.valid_fraction, "test": split.test_fraction}
        share = {name: frac[name] * float(labelled.mean()) for name in SPLITS}
    if not labelled.any():
        raise InputError(
            f"world.performance_months={world.performance_months} leaves no observation month "
            f"with a complete label in the calendar {world.calendar_start} + "
            f"{world.calendar_months} months; allowed: below "
            f"{world.calendar_months - world.first_obs_month}")
    name = min(SPLITS, key=lambda s: share[s])
    expected = world.n_users * share[name]
    if expected < MIN_SPLIT_ROWS:
        need = int(np.ceil(MIN_SPLIT_ROWS / share[name]))
        raise InputError(
            f"world.n_users={world.n_users} is too small to fill the three splits: about "
            f"{expected:.0f} labelled rows expected in {name!r}, each split needs at least "
            f"{MIN_SPLIT_ROWS}; allowed: world.n_users >= {need}"
        )


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
    """Rows, labelled share, default rate, zero-limit rate and regime mix per split.

    frame: one row per observation with ``split``, ``default_12m`` (NaN where censored),
    ``zero`` and ``regime``.  The default rate is over labelled rows only.
    """
    g = frame.groupby("split", sort=False)
    out = pd.DataFrame({
        "rows": g.size(),
        "labelled_share": g["default_12m"].apply(lambda y: float(y.notna().mean())),
        "default_rate": g["default_12m"].mean(),
        "zero_limit_rate": g["zero"].mean(),
        "stressed_share": g["regime"].apply(lambda r: float((r == "stressed").mean())),
    })
    return out.reindex([s for s in SPLITS if s in out.index])
