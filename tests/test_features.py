"""Point-in-time features: no leakage, a complete registry, truthful directions, bad input,
and window values checked by hand on a tiny history."""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.config import build_config
from toolkit.data.dataset import load_dataset
from toolkit.data.features import (
    FORBIDDEN,
    HISTORY_COLUMNS,
    REGISTRY,
    build_features,
    model_columns,
    registry,
    registry_frame,
)
from toolkit.errors import DataError, InputError
from toolkit.synth import generate
from toolkit.synth.truth import TRUTH_TERMS
from toolkit.vocab import REASON_GROUPS

T = 24  # history months of the default world


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    """A 600-user default world (one generation block)."""
    out = tmp_path_factory.mktemp("features") / "tiny"
    generate(config=build_config({"world": {"n_users": 600, "block_size": 600}}), out=out)
    return load_dataset(out)


# -- no leakage -----------------------------------------------------------------------------

def _perturb_after(history: pd.DataFrame, cutoff: np.ndarray, seed: int, scale: float):
    """A copy of ``history`` where every value of every history column in a month after the
    user's ``cutoff`` month is replaced by something else (shuffled, rescaled, shifted)."""
    rng = np.random.default_rng(seed)
    out = history.copy()
    later = history["month"].to_numpy() > np.repeat(cutoff, T)
    n_later = int(later.sum())
    for col in HISTORY_COLUMNS:
        # float64, so that large replacement values cannot wrap around in int8 columns
        vals = out[col].to_numpy(dtype=np.float64, copy=True)
        vals[later] = rng.permutation(vals[later]) * scale + rng.integers(1, 50, size=n_later)
        out[col] = vals
    return out


@settings(max_examples=25, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=T - 1),
    per_user=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    scale=st.floats(min_value=0.0, max_value=50.0, allow_nan=False),
)
def test_features_use_no_month_after_the_asof_month(tiny_world, offset, per_user, seed, scale):
    ds = tiny_world
    obs = ds.history.groupby("user_id", sort=True)["month"].max().to_numpy()
    if per_user:  # a different as-of month for every user, none later than ``offset`` back
        asof = obs - np.random.default_rng(seed).integers(0, offset + 1, size=len(obs))
    else:
        asof = obs - offset
    before = build_features(ds.history, ds.users, asof=asof)
    changed = _perturb_after(ds.history, asof, seed, scale)
    if offset > 0 and not per_user:
        # the perturbation really changes the history, so identical features mean something
        assert not changed[HISTORY_COLUMNS[0]].equals(ds.history[HISTORY_COLUMNS[0]])
    after = build_features(changed, ds.users, asof=asof)
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    assert (before["asof_month"].to_numpy() == asof).all()


def test_later_months_do_change_features_of_later_asof_months(tiny_world):
    """The perturbation used above is strong enough to move features it may reach."""
    ds = tiny_world
    obs = ds.history.groupby("user_id", sort=True)["month"].max().to_numpy()
    changed = _perturb_after(ds.history, obs - 3, seed=1, scale=3.0)
    a = build_features(ds.history, ds.users)
    b = build_features(changed, ds.users)
    assert (a.drop(columns="asof_month") != b.drop(columns="asof_month")).any(axis=0).sum() > 40


# -- registry -------------------------------------------------------------------------------

def test_every_feature_column_has_a_registry_entry_and_back(tiny_world):
    ds = tiny_world
    feats = build_features(ds.history, ds.users)
    columns = set(feats.columns) - {"asof_month"}
    names = [f.name for f in REGISTRY]
    assert len(names) == len(set(names)), "registry names must be unique"
    assert columns == set(names)
    assert list(registry_frame()["name"]) == names
    assert (feats.dtypes.drop("asof_month") == np.float64).all()
    assert np.isfinite(feats.drop(columns="asof_month").to_numpy()).all()


@pytest.mark.parametrize("windows", [(3, 6, 12), (2, 4, 8), (1, 6)])
def test_registry_matches_columns_for_other_windows(tiny_world, windows):
    ds = tiny_world
    feats = build_features(ds.history, ds.users, windows=windows)
    assert set(feats.columns) - {"asof_month"} == {f.name for f in registry(windows)}


def _format_fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


@pytest.mark.parametrize("feature", REGISTRY, ids=lambda f: f.name)
def test_registry_entry_is_complete(feature):
    f = feature
    assert f.name and f.unit
    assert f.group in REASON_GROUPS
    assert f.direction in (-1, 0, 1)
    assert isinstance(f.actionable, bool)
    for text in (f.description_en, f.description_zh, f.template_en, f.template_zh):
        assert text.strip()
    # Chinese texts really are Chinese
    for text in (f.description_zh, f.template_zh):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    for tpl in (f.template_en, f.template_zh):
        # a flag's statement names the category itself; every other one shows the value
        assert _format_fields(tpl) == (set() if f.unit == "flag" else {"value"}), tpl
        assert "{" not in tpl.format(value=1.5) and "}" not in tpl.format(value=1.5)
    en, zh = f.sentence(2.0, 1.0, "en"), f.sentence(2.0, 1.0, "zh")
    assert "approved users" in en and "通过用户中位数" in zh


def test_registry_frame_columns():
    frame = registry_frame()
    assert list(frame.columns) == ["name", "group", "unit", "direction", "actionable",
                                   "description_en", "description_zh", "template_en",
                                   "template_zh"]
    assert len(frame) == len(REGISTRY)
    # every reason group has at least one feature, so every group can be explained
    assert set(frame["group"]) == set(REASON_GROUPS)


# -- forbidden columns ----------------------------------------------------------------------

def test_forbidden_columns_are_never_features(tiny_world):
    ds = tiny_world
    assert {"latent_creditworthiness", "protected_group"} <= set(ds.users.columns)
    feats = build_features(ds.history, ds.users)
    assert not set(feats.columns) & set(FORBIDDEN)
    assert not {f.name for f in REGISTRY} & set(FORBIDDEN)
    assert not set(model_columns()) & set(FORBIDDEN)
    for name in ("latent_creditworthiness", "protected_group"):
        with pytest.raises(InputError, match=f"unknown feature '{name}'"):
            build_features(ds.history, ds.users, names=[name])
    # the history's limit is the platform's decision on the TRUE PD: as a feature it would
    # hand the model the oracle, and so would any other column computed from the truth
    assert "limit" in ds.history.columns
    assert {"limit", "true_pd", "true_logit", "true_limit", "true_zero", "true_mechanism",
            "default_12m", "censored"} <= set(FORBIDDEN)
    with pytest.raises(InputError, match="unknown feature 'limit'"):
        build_features(ds.history, ds.users, names=["limit"])


def test_features_do_not_depend_on_forbidden_attributes(tiny_world):
    ds = tiny_world
    users = ds.users.copy()
    rng = np.random.default_rng(0)
    users["latent_creditworthiness"] = rng.normal(size=len(users))
    users["protected_group"] = rng.permutation(users["protected_group"].to_numpy())
    pd.testing.assert_frame_equal(build_features(ds.history, ds.users),
                                  build_features(ds.history, users))


# -- monotone directions against the truth --------------------------------------------------

DRIVER_GROUPS = [(group, driver) for group, (_, drivers) in TRUTH_TERMS.items()
                 for driver in drivers]


@pytest.mark.parametrize(("group", "driver"), DRIVER_GROUPS,
                         ids=[d for _, d in DRIVER_GROUPS])
def test_registry_direction_agrees_with_the_truth_term(tiny_world, group, driver):
    ds = tiny_world
    term, drivers = TRUTH_TERMS[group]
    feats = build_features(ds.history, ds.users, names=list(drivers))
    base = {d: feats[d].to_numpy() for d in drivers}
    step = 1e-3 * np.maximum(np.abs(base[driver]), 1.0)
    delta = term({**base, driver: base[driver] + step}) - term(base)
    direction = {f.name: f.direction for f in REGISTRY}[driver]
    assert direction != 0, f"truth driver {driver} must have a monotone direction"
    assert REGISTRY[[f.name for f in REGISTRY].index(driver)].group == group
    # flat stretches (max(x, 0) below zero) may not move; nothing may move the wrong way
    assert (np.sign(delta) * direction >= 0).all()
    assert (np.sign(delta) == direction).mean() > 0.2


# -- bad input ------------------------------------------------------------------------------

def test_window_longer_than_history(tiny_world):
    ds = tiny_world
    with pytest.raises(InputError) as err:
        build_features(ds.history, ds.users, windows=(3, 6, 36))
    assert str(err.value) == ("feature window of 36 months is longer than the history "
                              "(24 months); allowed windows: 1..24")


def test_window_must_be_positive(tiny_world):
    ds = tiny_world
    with pytest.raises(InputError) as err:
        build_features(ds.history, ds.users, windows=(0, 6))
    assert str(err.value) == "feature window of 0 months is not allowed; allowed windows: 1..24"


@pytest.mark.parametrize("where", ["after", "before"])
def test_asof_month_outside_history(tiny_world, where):
    ds = tiny_world
    first = ds.history.groupby("user_id", sort=True)["month"].min()
    last = ds.history.groupby("user_id", sort=True)["month"].max()
    uid = int(first.index[0])
    asof = (last + 1) if where == "after" else (first - 1)
    with pytest.raises(InputError) as err:
        build_features(ds.history, ds.users, asof=asof.to_numpy())
    assert str(err.value) == (
        f"as-of month {int(asof.iloc[0])} is outside the history of user {uid} "
        f"(months {int(first.iloc[0])}..{int(last.iloc[0])})"
    )


def test_unknown_feature_name(tiny_world):
    ds = tiny_world
    with pytest.raises(InputError) as err:
        build_features(ds.history, ds.users, names=["late_cnt_6m", "late_cnt_7m"])
    assert str(err.value) == (
        "unknown feature 'late_cnt_7m'; see registry_frame() for allowed names"
    )


def test_unknown_dropped_feature():
    with pytest.raises(InputError, match="features.drop_features names unknown feature 'nope'"):
        model_columns(drop_features=["nope"])


# -- values by hand on a tiny history -------------------------------------------------------

def _tiny_history():
    """2 users x 6 months; user 1 at calendar months 10..15, user 2 at 20..25."""
    u1 = {
        "dpd":          [0, 30, 0, 0, 30, 60],
        "utilization":  [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        "balance":      [1000, 2000, 3000, 4000, 500, 100],
        "inflow":       [5000, 5000, 5000, 6000, 6000, 6000],
        "txn_count":    [10, 12, 14, 16, 18, 20],
        "active_days":  [5, 5, 5, 10, 10, 10],
        "spend":        [100, 200, 300, 400, 500, 600],
        "inquiries":    [0, 1, 0, 2, 0, 5],
        "draw_count":   [1, 0, 0, 1, 1, 0],
        "draw_amount":  [100, 0, 0, 200, 300, 0],
        "outstanding":  [1000, 1000, 1000, 2000, 2500, 3000],
        "amount_due":   [100] * 6,
        "amount_paid":  [100, 100, 50, 100, 0, 100],
        "social_risk":  [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        "income_shock": [0, 0, 1, 0, 0, 0],
        "market_liquidity": [0.1, 0.0, -0.2, -0.6, -1.0, -0.9],
        "limit":        [9000] * 6,
    }
    u2 = {
        "dpd":          [0] * 6,
        "utilization":  [0.5] * 6,
        "balance":      [800] * 6,
        "inflow":       [4000] * 6,
        "txn_count":    [30] * 6,
        "active_days":  [20] * 6,
        "spend":        [50] * 6,
        "inquiries":    [0] * 6,
        "draw_count":   [0] * 6,
        "draw_amount":  [0] * 6,
        "outstanding":  [0] * 6,
        "amount_due":   [0] * 6,
        "amount_paid":  [0] * 6,
        "social_risk":  [0.2] * 6,
        "income_shock": [0] * 6,
        "market_liquidity": [0.05] * 6,
        "limit":        [0] * 6,
    }
    rows = []
    for uid, start, vals in ((1, 10, u1), (2, 20, u2)):
        for k in range(6):
            rows.append({"user_id": uid, "month": start + k,
                         **{c: vals[c][k] for c in HISTORY_COLUMNS}})
    history = pd.DataFrame(rows)
    users = pd.DataFrame({
        "user_id": [1, 2], "income": [10_000.0, 4_000.0], "age": [30, 45],
        "city_tier": [1, 3], "segment": ["salaried", "student"], "tenure_months": [30, 6],
    })
    return history, users


def test_window_values_by_hand_at_the_observation_month():
    history, users = _tiny_history()
    f = build_features(history, users, windows=(3, 6))
    u1, u2 = f.loc[1], f.loc[2]
    assert list(f.index) == [1, 2]
    assert u1["asof_month"] == 15 and u2["asof_month"] == 25
    expected_u1 = {
        "late_cnt_3m": 2, "late_cnt_6m": 3, "max_dpd_3m": 60, "max_dpd_6m": 60,
        "paid_ratio_6m": 450 / 600,
        "util_mean_3m": 0.5, "util_mean_6m": 0.35, "util_trend_6m": 0.5 - 0.2,
        "debt_to_income": 0.3,
        "draw_cnt_3m": 2, "draw_cnt_6m": 3, "draw_amt_3m": 500, "draw_amt_6m": 600,
        "inq_cnt_1m": 5, "inq_cnt_3m": 7, "inq_cnt_6m": 8,
        "inflow_mean_3m": 6000, "inflow_mean_6m": 5500,
        "inflow_cv_6m": 500 / 5500, "inflow_trend_6m": 1000,
        "min_balance_3m": 100, "min_balance_6m": 100,
        # this month's 100 against the mean of the 3 months before (3000, 4000, 500)
        "balance_drop_1m": 1 - 100 / 2500,
        "income_shock_cnt_12m": 1,
        "txn_mean_3m": 18, "txn_mean_6m": 15, "txn_trend_6m": 18 - 12,
        "active_days_mean_3m": 10, "active_days_mean_6m": 7.5,
        "spend_mean_3m": 500, "spend_mean_6m": 350,
        "social_mean_3m": 0.5, "social_mean_6m": 0.35, "social_max_3m": 0.6,
        "tenure_months": 30, "age": 30, "city_tier": 1, "income": 10_000,
        "liquidity_index": -0.9, "liquidity_change_3m": -0.7,
        "seg_salaried": 1, "seg_student": 0,
    }
    for name, value in expected_u1.items():
        assert u1[name] == pytest.approx(value, abs=1e-6), name
    expected_u2 = {
        "late_cnt_6m": 0, "max_dpd_6m": 0, "paid_ratio_6m": 1.0,  # nothing due: fully paid
        "util_trend_6m": 0, "inflow_cv_6m": 0, "inflow_trend_6m": 0, "txn_trend_6m": 0,
        "balance_drop_1m": 0, "min_balance_3m": 800, "debt_to_income": 0,
        "tenure_months": 6, "seg_student": 1, "seg_salaried": 0,
        "liquidity_index": 0.05, "liquidity_change_3m": 0.0,
    }
    for name, value in expected_u2.items():
        assert u2[name] == pytest.approx(value, abs=1e-6), name


def test_truncated_windows_at_early_asof_months():
    history, users = _tiny_history()
    names = ["late_cnt_3m", "late_cnt_6m", "max_dpd_3m", "util_mean_3m", "util_mean_6m",
             "util_trend_6m", "min_balance_3m", "balance_drop_1m", "inflow_mean_6m",
             "income_shock_cnt_12m", "inq_cnt_6m", "tenure_months", "txn_trend_6m"]

    def at(pos):
        f = build_features(history, users, windows=(3, 6), names=names,
                           asof=np.array([10 + pos, 25]))
        assert f.loc[1, "asof_month"] == 10 + pos
        return f.loc[1]

    first = at(0)  # only the first month is known
    assert first["late_cnt_3m"] == 0 and first["max_dpd_3m"] == 0
    assert first["util_mean_3m"] == pytest.approx(0.1)
    assert first["util_trend_6m"] == 0  # no earlier half-window to compare with
    assert first["balance_drop_1m"] == 0  # no earlier month at all
    assert first["min_balance_3m"] == 1000
    assert first["tenure_months"] == 25  # 30 at month 15, five months earlier
    second = at(1)
    assert second["late_cnt_3m"] == 1 and second["late_cnt_6m"] == 1
    assert second["max_dpd_3m"] == 30
    assert second["util_mean_6m"] == pytest.approx(0.15)
    assert second["balance_drop_1m"] == 0  # the balance rose: no drop
    assert second["inq_cnt_6m"] == 1
    third = at(2)
    assert third["income_shock_cnt_12m"] == 1
    assert third["util_trend_6m"] == 0  # the earlier half-window is still empty
    fourth = at(3)
    # the earlier half-window holds one month only (0.1); the recent one months 1..3
    assert fourth["util_trend_6m"] == pytest.approx(0.3 - 0.1)
    assert fourth["txn_trend_6m"] == pytest.approx(14 - 10)
    assert fourth["min_balance_3m"] == 2000
    fifth = at(4)
    assert fifth["balance_drop_1m"] == pytest.approx(1 - 500 / 3000)
    assert fifth["late_cnt_3m"] == 1  # the dpd-30 month 11 left the 3-month window
    assert fifth["inflow_mean_6m"] == pytest.approx(5400)


def test_tiny_history_must_be_a_dense_sorted_panel():
    history, users = _tiny_history()
    with pytest.raises(DataError, match="not a dense panel"):
        build_features(history.iloc[1:], users)
    with pytest.raises(DataError, match="sorted by"):
        build_features(history.iloc[::-1], users)
