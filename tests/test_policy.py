"""The zero-limit policy: truth reproduced, each mechanism, the counterfactual, bad input, CLI."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import MonitoringRule, PolicyConfig, build_config
from toolkit.data.features import build_features
from toolkit.errors import ConfigError, InputError
from toolkit.links import logit
from toolkit.policy import LimitPolicy, compare_policies
from toolkit.vocab import DECISIONS as MECHANISMS

runner = CliRunner()


def _platform(manifest: dict) -> PolicyConfig:
    """The policy the dataset's platform used (the defaults when the manifest has none)."""
    cfg = manifest.get("config", {})
    stored = cfg.get("world", {}).get("platform") or cfg.get("policy")
    return PolicyConfig(**stored) if stored else PolicyConfig()


def _truth_inputs(ds):
    """Features at the observation month, and the truth aligned to them."""
    feats = build_features(ds.history, ds.users)
    truth = ds.truth.set_index("user_id").loc[feats.index]
    stressed = (truth["regime"].astype(str) == "stressed").to_numpy()
    return feats, truth, truth["true_pd"].to_numpy(), stressed


@pytest.fixture(scope="module")
def realism(realism_world):
    return (realism_world, *_truth_inputs(realism_world))


# -- truth reproduced ------------------------------------------------------------------------

def test_policy_reproduces_true_decisions_from_true_pd(small_world):
    _, manifest, ds = small_world
    feats, truth, pd_, stressed = _truth_inputs(ds)
    dec = LimitPolicy(_platform(manifest)).decide(pd_, stressed, feats)
    assert len(dec) == len(feats)
    np.testing.assert_array_equal(dec["mechanism"].to_numpy().astype(str),
                                  truth["true_mechanism"].astype(str).to_numpy())
    np.testing.assert_array_equal(dec["rule"].to_numpy().astype(str),
                                  truth["true_rule"].astype(str).to_numpy())
    np.testing.assert_array_equal(dec["zero"].to_numpy(), truth["true_zero"].to_numpy())
    np.testing.assert_array_equal(dec["cutoff"].to_numpy(), truth["true_cutoff"].to_numpy())
    np.testing.assert_array_equal(dec["limit"].to_numpy(), truth["true_limit"].to_numpy())


def test_mechanism_counts_match_the_truth_on_the_default_dataset(realism):
    ds, feats, truth, pd_, stressed = realism
    dec = LimitPolicy(_platform(ds.manifest)).decide(pd_, stressed, feats)
    ours = dec["mechanism"].value_counts().reindex(list(MECHANISMS), fill_value=0)
    true = truth["true_mechanism"].astype(str).value_counts().reindex(list(MECHANISMS),
                                                                      fill_value=0)
    assert ours.to_dict() == true.to_dict()
    assert (ours > 0).all(), "the default world shows every mechanism"
    assert ours.sum() == len(ds.users)


# -- each mechanism on hand-built rows -------------------------------------------------------

def _rows(**cols):
    n = len(next(iter(cols.values())))
    base = {"balance_drop_1m": np.zeros(n), "inq_cnt_1m": np.zeros(n),
            "income": np.full(n, 8000.0)}
    return pd.DataFrame({**base, **{k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}})


def test_monitoring_beats_score_and_names_the_first_rule():
    feats = _rows(balance_drop_1m=[0.9, 0.9, 0.0, 0.2, 0.9],
                  inq_cnt_1m=[0, 5, 4, 3, 0])
    pd_ = np.array([0.9, 0.01, 0.5, 0.01, 0.15])
    dec = LimitPolicy().decide(pd_, np.array([False, False, True, False, True]), feats)
    assert list(dec["mechanism"]) == ["monitoring", "monitoring", "monitoring", "approved",
                                      "monitoring"]
    # both rules fire on row 1: the first rule of the config is named
    assert list(dec["rule"]) == ["liquidity_drain", "liquidity_drain", "inquiry_burst", "",
                                 "liquidity_drain"]
    assert list(dec["zero"]) == [True, True, True, False, True]
    assert (dec.loc[dec["zero"], "limit"] == 0).all()


def test_policy_only_when_stressed_and_tightening():
    feats = _rows(income=[8000.0] * 4)
    pd_ = np.full(4, 0.15)  # passes the normal cutoff 0.20, fails the stressed 0.12
    stressed = np.array([True, False, True, False])
    dec = LimitPolicy().decide(pd_, stressed, feats)
    assert list(dec["mechanism"]) == ["policy", "approved", "policy", "approved"]
    assert list(dec["cutoff"]) == [0.12, 0.20, 0.12, 0.20]
    loose = LimitPolicy(PolicyConfig(tighten_in_stress=False)).decide(pd_, stressed, feats)
    assert list(loose["mechanism"]) == ["approved"] * 4
    assert list(loose["cutoff"]) == [0.20] * 4
    # the stressed cutoff itself fails: a PD fails a cutoff when pd >= cutoff
    at_cut = LimitPolicy().decide(np.array([0.12, 0.1199]), np.array([True, True]),
                                  _rows(income=[8000.0] * 2))
    assert list(at_cut["mechanism"]) == ["policy", "approved"]


def test_score_when_pd_fails_the_normal_cutoff_in_any_regime():
    feats = _rows(income=[8000.0] * 5)
    pd_ = np.array([0.20, 0.20, 0.95, 0.1999, 0.1999])
    stressed = np.array([False, True, True, False, True])
    dec = LimitPolicy().decide(pd_, stressed, feats)
    assert list(dec["mechanism"]) == ["score", "score", "score", "approved", "policy"]
    assert (dec["normal_cutoff"] == 0.20).all()


def test_approved_limit_is_positive_and_grows_with_income():
    income = np.array([2000.0, 5000.0, 8000.0, 20000.0, 60000.0])
    feats = _rows(income=income)
    dec = LimitPolicy().decide(np.full(5, 0.05), np.zeros(5, dtype=bool), feats)
    assert (dec["mechanism"] == "approved").all()
    limit = dec["limit"].to_numpy()
    assert (limit >= PolicyConfig().min_limit).all()
    assert np.all(np.diff(limit) > 0)
    assert np.all(limit % 100 == 0), "limits are whole hundreds of CNY"
    # less headroom below the cutoff, a smaller line
    by_pd = LimitPolicy().decide(np.array([0.01, 0.05, 0.10, 0.15]), np.zeros(4, dtype=bool),
                                 _rows(income=[20000.0] * 4))["limit"].to_numpy()
    assert np.all(np.diff(by_pd) < 0) and (by_pd > 0).all()


def test_distance_logit_sign_and_value(small_world):
    _, manifest, ds = small_world
    feats, truth, pd_, stressed = _truth_inputs(ds)
    dec = LimitPolicy(_platform(manifest)).decide(pd_, stressed, feats)
    d = dec["distance_logit"].to_numpy()
    cutoff = dec["cutoff"].to_numpy()
    np.testing.assert_allclose(d, np.log(pd_ / (1 - pd_)) - np.log(cutoff / (1 - cutoff)),
                               atol=1e-9)
    mech = dec["mechanism"].to_numpy()
    assert (d[np.isin(mech, ["score", "policy"])] >= 0).all()
    assert (d[mech == "approved"] < 0).all()
    # hand-made: on the cutoff the distance is 0 and the PD fails
    edge = LimitPolicy().decide(np.array([0.20, 0.10, 0.30]), np.zeros(3, dtype=bool),
                                _rows(income=[8000.0] * 3))
    assert edge["distance_logit"].iloc[0] == 0 and edge["mechanism"].iloc[0] == "score"
    assert edge["distance_logit"].iloc[1] < 0 < edge["distance_logit"].iloc[2]
    assert logit(0.5) == 0


# -- counterfactual --------------------------------------------------------------------------

def test_never_tightening_turns_exactly_the_policy_users_into_approved(realism):
    ds, feats, truth, pd_, stressed = realism
    configured = _platform(ds.manifest)
    never = configured.model_copy(update={"tighten_in_stress": False})
    summary, changed = compare_policies(pd_, stressed, feats,
                                        {"configured": configured, "never_tighten": never})
    assert list(summary.index) == ["configured", "never_tighten"]
    assert summary.loc["never_tighten", "policy"] == 0
    policy_users = truth.index[truth["true_mechanism"].astype(str) == "policy"]
    assert len(policy_users) > 0
    assert set(changed.index) == set(policy_users)
    assert (changed["configured"] == "policy").all()
    assert (changed["never_tighten"] == "approved").all()
    for m in ("score", "monitoring"):
        assert summary.loc["configured", m] == summary.loc["never_tighten", m]
    assert (summary.loc["never_tighten", "approved"]
            == summary.loc["configured", "approved"] + len(policy_users))
    n = len(feats)
    assert summary.loc["configured", "zero_limit_rate"] == pytest.approx(
        truth["true_zero"].mean())
    assert (summary.loc["configured", "zero_limit_rate"]
            - summary.loc["never_tighten", "zero_limit_rate"]) == pytest.approx(
        len(policy_users) / n)
    # policy zeros only happen in stressed months
    assert stressed[feats.index.isin(policy_users)].all()


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["normal_cutoff", "stressed_cutoff"])
def test_cutoff_outside_unit_interval(key):
    with pytest.raises(ConfigError) as err:
        build_config({"policy": {key: 1.5}})
    assert "cutoff 1.5 is outside (0, 1)" in str(err.value)
    assert f"policy.{key}" in str(err.value)
    with pytest.raises(ValidationError, match=re.escape("cutoff 1.5 is outside (0, 1)")):
        PolicyConfig(**{key: 1.5})


def test_cutoff_of_zero_is_outside_too():
    with pytest.raises(ConfigError, match=re.escape("cutoff 0.0 is outside (0, 1)")):
        build_config({"policy": {"stressed_cutoff": 0.0}})


def test_rule_on_unknown_feature():
    cfg = PolicyConfig(rules=(MonitoringRule(name="salary_gap", feature="salary_gap_3m",
                                             threshold=1.0),))
    with pytest.raises(InputError) as err:
        LimitPolicy(cfg)
    msg = str(err.value)
    assert "monitoring rule 'salary_gap' refers to unknown feature 'salary_gap_3m'" in msg
    assert "allowed" in msg


def test_rule_on_a_column_the_features_lack():
    with pytest.raises(InputError) as err:
        LimitPolicy().decide(np.array([0.1]), np.array([False]),
                             pd.DataFrame({"inq_cnt_1m": [0.0], "income": [5000.0]}))
    assert str(err.value) == "features lack column 'balance_drop_1m' used by rule 'liquidity_drain'"


def test_pd_and_regime_of_different_lengths():
    with pytest.raises(InputError, match=r"pd has shape \(2,\) but stressed has shape \(3,\)"):
        LimitPolicy().decide(np.array([0.1, 0.2]), np.zeros(3, dtype=bool), _rows(income=[1.0] * 2))


# -- CLI: toolkit policy-compare -------------------------------------------------------------

def _numbers_after(label: str, text: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if label in ln)
    return re.findall(r"\d[\d,]*(?:\.\d+)?%?", line.split(label, 1)[1])


def test_cli_policy_compare(small_world):
    path, manifest, ds = small_world
    res = runner.invoke(app, ["policy-compare", "--data", str(path)])
    assert res.exit_code == 0, res.output
    out = res.output
    policy_users = int((ds.truth["true_mechanism"].astype(str) == "policy").sum())
    assert policy_users > 0
    assert f"zero-limit users caused by policy alone: {policy_users:,}" in out
    n = len(ds.users)
    counts = ds.truth["true_mechanism"].astype(str).value_counts()
    configured = _numbers_after("configured", out)
    never = _numbers_after("never tighten", out)
    # columns: zero-limit rate, then one per decision (approved first)
    assert configured[0] == f"{ds.truth['true_zero'].mean():.1%}"
    assert configured[1:] == [f"{int(counts.get(m, 0)):,}" for m in MECHANISMS]
    assert never[1 + MECHANISMS.index("policy")] == "0"
    assert never[1] == f"{int(counts['approved']) + policy_users:,}"
    assert never[0] == f"{(ds.truth['true_zero'].sum() - policy_users) / n:.1%}"


def test_cli_policy_compare_with_a_config_that_never_tightens(small_world, tmp_path):
    path, _, _ = small_world
    cfg = tmp_path / "loose.toml"
    cfg.write_text("# no tightening\n[policy]\ntighten_in_stress = false\n")
    res = runner.invoke(app, ["policy-compare", "--data", str(path), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "zero-limit users caused by policy alone: 0" in res.output


def test_cli_policy_compare_missing_dataset(tmp_path):
    res = runner.invoke(app, ["policy-compare", "--data", str(tmp_path / "nowhere")])
    assert res.exit_code == 2
    assert "nowhere" in res.output and "toolkit generate" in res.output


def test_cli_policy_compare_bad_cutoff(small_world, tmp_path):
    path, _, _ = small_world
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[policy]\nnormal_cutoff = 1.5\n")
    res = runner.invoke(app, ["policy-compare", "--data", str(path), "--config", str(cfg)])
    assert res.exit_code == 2
    assert "cutoff 1.5 is outside (0, 1)" in res.output


def test_cli_policy_compare_rule_on_unknown_feature(small_world, tmp_path):
    path, _, _ = small_world
    cfg = tmp_path / "rule.toml"
    cfg.write_text('[[policy.rules]]\nname = "odd"\nfeature = "odd_feature"\nthreshold = 1\n')
    res = runner.invoke(app, ["policy-compare", "--data", str(path), "--config", str(cfg)])
    assert res.exit_code == 2
    assert "monitoring rule 'odd' refers to unknown feature 'odd_feature'" in res.output
