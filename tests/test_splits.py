"""Splits: out-of-time by default (every period holds a stress episode; a gap of one
performance window keeps training labels out of the test period), user-disjoint random as an
option, bad boundaries, gaps and worlds named, and the per-split summary of the run record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.calendar import month_index
from toolkit.config import SplitConfig, WorldConfig, build_config
from toolkit.data.splits import GAP, SPLITS, assign_splits, check_split_plan, split_summary
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
    assert set(split) == {*SPLITS, GAP}


@pytest.mark.parametrize("gap", [None, 0, 5, 12, 20])
def test_the_gap_keeps_every_training_label_out_of_the_test_period(small_world, gap):
    _, _, ds = small_world
    obs, uid = _obs(ds)
    cfg = SplitConfig(gap_months=gap)
    split = assign_splits(obs, uid, cfg, WORLD)
    v_end = month_index(cfg.valid_end, WORLD.calendar_start)
    expect = WORLD.performance_months if gap is None else gap
    assert obs[split == "test"].min() == v_end + expect + 1
    assert (split[(obs > v_end) & (obs <= v_end + expect)] == GAP).all()
    if expect >= WORLD.performance_months:
        # the last month any train or validation label looks at comes before the test period
        window_end = obs[np.isin(split, ["train", "valid"])].max() + WORLD.performance_months
        assert window_end < obs[split == "test"].min()


def test_every_period_holds_stress_and_enough_stressed_rows(realism_world):
    ds = realism_world
    obs, uid = _obs(ds)
    split = assign_splits(obs, uid, SplitConfig(), WORLD)
    stressed = ds.truth["regime"].astype(str).to_numpy() == "stressed"
    labelled = ~ds.outcomes.set_index("user_id").loc[uid, "censored"].to_numpy(bool)
    assert stressed[split == "train"].mean() >= 0.15
    assert stressed[split == "valid"].mean() >= 0.15
    assert stressed[split == "test"].mean() >= 0.25
    assert stressed[(split == "test") & labelled].mean() >= 0.25
    # three episodes of their own length and depth, one in each period
    starts = [month_index(ep.start, WORLD.calendar_start) for ep in WORLD.stress_episodes]
    assert [split[obs == m][0] for m in starts] == ["train", "valid", "test"]
    assert len({(ep.months, ep.severity) for ep in WORLD.stress_episodes}) == 3


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
         "split 'train' is empty with train_end=2019-01, valid_end=2024-09, gap_months=12: "
         "observation months run from 2022-12 to 2028-12; set the boundaries inside that "
         "range"),
        ("2024-03", "2030-01",
         "split 'test' is empty with train_end=2024-03, valid_end=2030-01, gap_months=12: "
         "observation months run from 2022-12 to 2028-12; set the boundaries inside that "
         "range"),
        ("2028-10", "2028-11",
         "split 'test' is empty with train_end=2028-10, valid_end=2028-11, gap_months=12"),
    ],
)
def test_bad_boundaries_are_named(small_world, train_end, valid_end, message):
    _, _, ds = small_world
    obs, uid = _obs(ds)
    assert (obs.min(), obs.max()) == (23, 95)  # 2022-12 .. 2028-12
    with pytest.raises(InputError) as err:
        assign_splits(obs, uid, SplitConfig(train_end=train_end, valid_end=valid_end), WORLD)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("world", "split", "message"),
    [
        ({}, {"gap_months": 30},
         "split.gap_months=30 leaves the test split no labelled month: it would start at "
         "2028-03, but labels are complete only for observation months up to 2027-12 "
         "(world.performance_months=12); allowed: 0..27"),
        ({"n_users": 400}, {},
         "world.n_users=400 is too small to fill the three splits: about 44 labelled rows "
         "expected in 'valid', each split needs at least 50; allowed: world.n_users >= 457"),
        ({}, {"train_end": "2028-06", "valid_end": "2028-08", "gap_months": 0},
         "split.gap_months=0 leaves the test split no labelled month: it would start at "
         "2028-09, but labels are complete only for observation months up to 2027-12 "
         "(world.performance_months=12); allowed: none (move valid_end earlier)"),
    ],
)
def test_split_plans_that_leave_a_split_without_labels_are_named(world, split, message):
    cfg = build_config({"world": world, "split": split})
    with pytest.raises(InputError) as err:
        check_split_plan(cfg.split, cfg.world)
    assert str(err.value) == message


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
    assert list(summary.columns) == ["rows", "labelled_share", "default_rate",
                                     "zero_limit_rate", "stressed_share"]
    assert summary["rows"].sum() == (frame["split"] != GAP).sum()
    for name in SPLITS:
        part = frame[frame["split"] == name]
        assert summary.loc[name, "rows"] == len(part)
        labelled = part["default_12m"].dropna().astype(float)
        assert summary.loc[name, "labelled_share"] == pytest.approx(len(labelled) / len(part))
        assert summary.loc[name, "default_rate"] == pytest.approx(labelled.mean())
        assert summary.loc[name, "zero_limit_rate"] == pytest.approx(part["zero"].mean())
        assert summary.loc[name, "stressed_share"] == pytest.approx(
            (part["regime"].astype(str) == "stressed").mean())
    assert summary.loc["train", "labelled_share"] == 1
    assert 0 < summary.loc["test", "labelled_share"] < 1
    for name in SPLITS:
        assert 0 < summary.loc[name, "stressed_share"] < 1
        # stress tightens the policy: more zero limits in stressed months
        part = frame[frame["split"] == name]
        by = part.groupby(part["regime"].astype(str))["zero"].mean()
        assert by["stressed"] > by["normal"]


def test_malformed_boundary_is_refused_when_the_config_loads():
    from toolkit.config import build_config
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        build_config({"split": {"train_end": "2024-13"}})
    assert "config key 'split.train_end': month '2024-13' is not of the form YYYY-MM" in str(
        err.value)
