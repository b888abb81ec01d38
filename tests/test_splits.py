"""Splits: out-of-time by default (test holds the stress episode), user-disjoint random as an
option, bad boundaries named, and the per-split summary that goes into the run record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.calendar import month_index
from toolkit.config import SplitConfig, WorldConfig
from toolkit.data.splits import SPLITS, assign_splits, split_summary
from toolkit.errors import InputError

WORLD = WorldConfig()


def _obs(ds):
    t = ds.truth
    return t["obs_month"].to_numpy(np.int64), t["user_id"].to_numpy()


def test_out_of_time_split_is_ordered_in_time(small_world):
    _, _, ds = small_world
    obs, uid = _obs(ds)
    split = assign_splits(obs, uid, SplitConfig(), WORLD)
    months = {s: obs[split == s] for s in SPLITS}
    assert all(len(m) for m in months.values())
    assert months["train"].max() < months["valid"].min()
    assert months["valid"].max() < months["test"].min()
    assert months["train"].max() <= month_index(SplitConfig().train_end, WORLD.calendar_start)
    assert months["valid"].max() <= month_index(SplitConfig().valid_end, WORLD.calendar_start)
    assert set(split) == set(SPLITS)


def test_default_test_period_holds_the_stress_episode_and_both_regimes(small_world):
    _, _, ds = small_world
    obs, uid = _obs(ds)
    split = assign_splits(obs, uid, SplitConfig(), WORLD)
    episode = WORLD.stress_episodes[0]
    assert (episode.start, episode.months) == ("2025-01", 8)
    first = month_index("2025-01", WORLD.calendar_start)
    episode_months = set(range(first, first + 8))  # 2025-01 .. 2025-08
    assert episode_months <= set(obs[split == "test"])
    assert (split[np.isin(obs, list(episode_months))] == "test").all()
    stressed_months = set(ds.macro.loc[ds.macro["regime"].astype(str) == "stressed", "month"])
    assert stressed_months and stressed_months <= set(obs[split == "test"])
    regimes = ds.truth["regime"].astype(str).to_numpy()
    assert set(regimes[split == "test"]) == {"normal", "stressed"}
    # the model is trained and tuned without ever seeing the stress episode
    assert set(regimes[split != "test"]) == {"normal"}


def test_random_split_is_user_disjoint_and_deterministic_by_seed():
    # several observation rows per user, as when one user is observed at many months
    rng = np.random.default_rng(3)
    uid = np.repeat(np.arange(5_000) * 7 + 11, 4)
    obs = rng.integers(23, 60, size=len(uid))
    cfg = SplitConfig(method="random", valid_fraction=0.15, test_fraction=0.25, seed=4)
    a = assign_splits(obs, uid, cfg, WORLD)
    per_user = pd.Series(a).groupby(uid).nunique()
    assert (per_user == 1).all()
    np.testing.assert_array_equal(a, assign_splits(obs, uid, cfg, WORLD))
    # the split depends on the user, not on the row order or the observation month
    order = rng.permutation(len(uid))
    np.testing.assert_array_equal(a[order], assign_splits(obs[order] + 1, uid[order], cfg, WORLD))
    other = assign_splits(obs, uid, cfg.model_copy(update={"seed": 5}), WORLD)
    assert (other != a).mean() > 0.2
    share = pd.Series(a[::4]).value_counts(normalize=True)
    assert share["test"] == pytest.approx(0.25, abs=0.03)
    assert share["valid"] == pytest.approx(0.15, abs=0.03)
    assert share["train"] == pytest.approx(0.60, abs=0.03)


@pytest.mark.parametrize(
    ("train_end", "valid_end", "message"),
    [
        ("2024-09", "2024-03",
         "split boundaries overlap: valid_end 2024-03 must be after train_end 2024-09"),
        ("2024-06", "2024-06",
         "split boundaries overlap: valid_end 2024-06 must be after train_end 2024-06"),
        ("2019-01", "2024-09",
         "split 'train' is empty with train_end=2019-01, valid_end=2024-09: observation "
         "months run from 2022-12 to 2025-12; set the boundaries inside that range"),
        ("2024-03", "2030-01",
         "split 'test' is empty with train_end=2024-03, valid_end=2030-01: observation "
         "months run from 2022-12 to 2025-12; set the boundaries inside that range"),
        ("2025-12", "2026-06",
         "split 'valid' is empty with train_end=2025-12, valid_end=2026-06"),
    ],
)
def test_bad_boundaries_are_named(small_world, train_end, valid_end, message):
    _, _, ds = small_world
    obs, uid = _obs(ds)
    assert (obs.min(), obs.max()) == (23, 59)  # 2022-12 .. 2025-12
    with pytest.raises(InputError) as err:
        assign_splits(obs, uid, SplitConfig(train_end=train_end, valid_end=valid_end), WORLD)
    assert message in str(err.value)


def test_random_fractions_that_leave_no_training_rows():
    cfg = SplitConfig(method="random", valid_fraction=0.5, test_fraction=0.5)
    with pytest.raises(InputError) as err:
        assign_splits(np.arange(10), np.arange(10), cfg, WORLD)
    assert str(err.value) == ("split.valid_fraction + split.test_fraction = 1 leaves no "
                              "training rows; their sum must be below 1")


def test_random_split_too_small_to_fill_every_split():
    cfg = SplitConfig(method="random", valid_fraction=0.01, test_fraction=0.01)
    with pytest.raises(InputError, match="split 'valid' is empty with valid_fraction=0.01"):
        assign_splits(np.array([30]), np.array([1]), cfg, WORLD)


def test_split_summary(small_world):
    _, _, ds = small_world
    obs, uid = _obs(ds)
    frame = ds.truth[["user_id", "regime", "true_zero"]].rename(columns={"true_zero": "zero"})
    frame = frame.merge(ds.outcomes[["user_id", "default_12m"]], on="user_id")
    frame["split"] = assign_splits(obs, uid, SplitConfig(), WORLD)
    summary = split_summary(frame)
    assert list(summary.index) == list(SPLITS)
    assert list(summary.columns) == ["rows", "default_rate", "zero_limit_rate", "stressed_share"]
    assert summary["rows"].sum() == len(frame)
    for name in SPLITS:
        part = frame[frame["split"] == name]
        assert summary.loc[name, "rows"] == len(part)
        assert summary.loc[name, "default_rate"] == pytest.approx(part["default_12m"].mean())
        assert summary.loc[name, "zero_limit_rate"] == pytest.approx(part["zero"].mean())
        assert summary.loc[name, "stressed_share"] == pytest.approx(
            (part["regime"].astype(str) == "stressed").mean())
    assert summary.loc["train", "stressed_share"] == 0
    assert 0 < summary.loc["test", "stressed_share"] < 1
    # stress tightens the policy: more zero limits where the stress episode is
    assert summary.loc["test", "zero_limit_rate"] > summary.loc["train", "zero_limit_rate"]


def test_malformed_boundary_is_refused_when_the_config_loads():
    from toolkit.config import build_config
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        build_config({"split": {"train_end": "2024-13"}})
    assert "config key 'split.train_end': month '2024-13' is not of the form YYYY-MM" in str(
        err.value)
