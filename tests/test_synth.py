"""The synthetic world: schema, determinism, realism, truth consistency, bad input."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import build_config
from toolkit.data.dataset import TABLES, load_dataset, read_manifest
from toolkit.data.features import FORBIDDEN, HISTORY_COLUMNS, build_features
from toolkit.data.personas import high_activity_poor_repayment
from toolkit.data.splits import last_labelled_month
from toolkit.links import sigmoid
from toolkit.policy import LimitPolicy
from toolkit.synth import generate
from toolkit.synth.truth import DRIVERS, MACRO_COEF, group_terms, true_logit
from toolkit.vocab import REASON_GROUPS, SEGMENTS

runner = CliRunner()


def test_schema(small_world):
    path, manifest, ds = small_world
    # every table a partitioned dataset: one part per block of 1,000 users (macro: one)
    assert sorted(p.name for p in path.iterdir()) == sorted([*TABLES, "manifest.json"])
    parts = {t: sorted(p.name for p in (path / t).iterdir()) for t in TABLES}
    assert parts["macro"] == ["part-00000.parquet"]
    for t in ("users", "history", "outcomes", "truth"):
        assert parts[t] == [f"part-{i:05d}.parquet" for i in range(4)]
    users = ds.users
    assert list(users.columns) == ["user_id", "segment", "age", "city_tier", "tenure_months",
                                   "income", "latent_creditworthiness", "protected_group",
                                   "obs_month"]
    assert users["user_id"].is_unique
    assert set(users["segment"].cat.categories) <= set(SEGMENTS)
    assert users["city_tier"].between(1, 4).all()
    assert (users["income"] > 0).all()
    T = manifest["config"]["world"]["history_months"]
    assert len(ds.history) == len(users) * T
    assert set(HISTORY_COLUMNS) <= set(ds.history.columns)
    last = ds.history.groupby("user_id")["month"].max()
    assert (last.to_numpy() == users.set_index("user_id").loc[last.index, "obs_month"]).all()
    assert ds.history["utilization"].between(0, 1).all()
    assert ds.history["social_risk"].between(0, 1).all()
    assert (ds.history["limit"] >= 0).all()
    assert set(ds.macro["regime"].cat.categories) <= {"normal", "stressed"}
    out = ds.outcomes
    assert set(out["default_12m"].dropna().unique()) <= {0, 1}
    # censored rows carry no label: exactly the rows whose window passes the calendar's end
    assert (out["default_12m"].isna().to_numpy() == out["censored"].to_numpy()).all()
    assert ((out["default_month"] > 0) == (out["default_12m"] == 1)).all()
    for g in REASON_GROUPS:
        assert f"term_{g}" in ds.truth and f"contrib_{g}" in ds.truth
    assert manifest["rows"]["history"] == len(ds.history)
    assert set(manifest["files"]) == {f"{t}/{p}" for t in TABLES for p in parts[t]}


def test_protected_and_latent_are_never_features(small_world):
    _, _, ds = small_world
    feats = build_features(ds.history, ds.users)
    assert not set(feats.columns) & set(FORBIDDEN)


def _hashes(path):
    return read_manifest(path)["files"]


def test_same_config_and_seed_give_identical_bytes_across_workers(tmp_path):
    cfg = build_config({"world": {"n_users": 2_500, "block_size": 500, "seed": 7}})
    a = generate(config=cfg, out=tmp_path / "a")
    b = generate(config=cfg, out=tmp_path / "b")
    c = generate(config=cfg, out=tmp_path / "c", workers=2)
    assert a["files"] == b["files"] == c["files"]
    assert a["dataset_hash"] == c["dataset_hash"]
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (
        tmp_path / "c" / "manifest.json").read_bytes()
    d = generate(config=cfg, out=tmp_path / "d", seed=8)
    assert d["files"]["history/part-00000.parquet"] != a["files"]["history/part-00000.parquet"]


def test_realism_ranges(realism_world):
    ds = realism_world
    truth, out = ds.truth, ds.outcomes
    default_rate = out["default_12m"].mean()
    assert 0.04 <= default_rate <= 0.12
    zero_rate = truth["true_zero"].mean()
    assert 0.08 <= zero_rate <= 0.25
    mech = truth.loc[truth["true_zero"], "true_mechanism"].value_counts(normalize=True)
    for m in ("score", "policy", "monitoring"):
        assert mech.get(m, 0) >= 0.10, mech
    by_regime = truth.groupby("regime", observed=True)["true_zero"].mean()
    assert by_regime["stressed"] > 2 * by_regime["normal"]
    assert 0.78 <= ds.manifest["oracle_auc"]["all"] <= 0.90
    for split in ("train", "valid", "test"):
        assert 0.75 <= ds.manifest["oracle_auc"][split] <= 0.93


def test_persona_high_activity_poor_repayment_exists(realism_world):
    ds = realism_world
    feats = build_features(ds.history, ds.users, names=["txn_mean_6m", "late_cnt_6m"])
    who = high_activity_poor_repayment(feats, ds.truth)
    assert len(who) >= 10
    assert ds.truth.set_index("user_id").loc[who, "true_zero"].all()
    # the persona's story holds before selecting on the outcome: busy, late payers hit a
    # zero limit more often than the population does
    zero = ds.truth.set_index("user_id")["true_zero"].loc[feats.index].to_numpy(bool)
    busy = feats["txn_mean_6m"] >= feats["txn_mean_6m"].quantile(0.75)
    persona = (busy & (feats["late_cnt_6m"] >= 2)).to_numpy()
    assert zero[persona].mean() > zero.mean()


def test_truth_is_consistent(small_world):
    _, _, ds = small_world
    t = ds.truth
    terms = t[[f"term_{g}" for g in REASON_GROUPS]].to_numpy()
    logit_ = t["intercept"] + terms.sum(axis=1)
    np.testing.assert_allclose(t["true_logit"], logit_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(t["true_pd"], sigmoid(logit_), rtol=0, atol=1e-9)
    contrib = t[[f"contrib_{g}" for g in REASON_GROUPS]].to_numpy()
    np.testing.assert_allclose(contrib, terms - terms.mean(axis=0), atol=1e-9)
    best = np.array(REASON_GROUPS)[contrib.argmax(axis=1)]
    has_adverse = contrib.max(axis=1) > 0
    assert (t["true_top1"].astype(str).to_numpy()[has_adverse] == best[has_adverse]).all()
    # the stored terms are the documented functions of point-in-time drivers
    feats = build_features(ds.history, ds.users, names=list(DRIVERS))
    feats = feats.loc[t["user_id"]]
    np.testing.assert_allclose(group_terms(feats).to_numpy(), terms, atol=1e-9)


def test_true_decisions_follow_the_policy_on_true_pd(small_world):
    path, manifest, ds = small_world
    t = ds.truth.set_index("user_id")
    feats = build_features(ds.history, ds.users)
    t = t.loc[feats.index]
    platform = build_config({"world": manifest["config"]["world"]}).world.platform
    dec = LimitPolicy(platform).decide(t["true_pd"].to_numpy(),
                               (t["regime"] == "stressed").to_numpy(), feats)
    assert (dec["mechanism"].to_numpy() == t["true_mechanism"].astype(str).to_numpy()).all()
    assert (dec["rule"].to_numpy() == t["true_rule"].astype(str).to_numpy()).all()
    np.testing.assert_array_equal(dec["limit"].to_numpy(), t["true_limit"].to_numpy())
    last = ds.history.groupby("user_id")["limit"].last().loc[feats.index]
    np.testing.assert_array_equal(last.to_numpy(), dec["limit"].to_numpy().astype(np.float32))


def test_monthly_limits_use_no_future_months(small_world):
    """The limit stored for an earlier month is recomputed identically after every later
    month of the history has been scrambled."""
    _, manifest, ds = small_world
    T = manifest["config"]["world"]["history_months"]
    k = 5
    hist = ds.history.copy()
    pos = np.tile(np.arange(T), len(ds.users))
    later = pos > T - 1 - k
    rng = np.random.default_rng(1)
    for col in ("txn_count", "inflow", "balance", "dpd", "inquiries", "utilization",
                "draw_count", "social_risk", "income_shock", "amount_due", "amount_paid",
                "market_liquidity"):
        vals = hist[col].to_numpy().copy()
        vals[later] = rng.permutation(vals[later])
        hist[col] = vals
    asof = hist.groupby("user_id")["month"].max().to_numpy() - k
    policy = LimitPolicy()
    needed = list(dict.fromkeys([*DRIVERS, "balance_drop_1m", "inq_cnt_1m", "income"]))
    feats = build_features(hist, ds.users, asof=asof, names=needed)
    macro = ds.macro.set_index("month")
    month = feats["asof_month"].to_numpy()
    pd_ = sigmoid(true_logit(group_terms(feats)))
    dec = policy.decide(pd_, (macro.loc[month, "regime"] == "stressed").to_numpy(), feats)
    stored = ds.history.set_index(["user_id", "month"])["limit"]
    expected = stored.loc[list(zip(feats.index, month, strict=True))].to_numpy()
    np.testing.assert_array_equal(dec["limit"].to_numpy().astype(np.float32), expected)


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    module = importlib.import_module("toolkit.synth.generate")
    real = module.make_block
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "make_block", flaky)
    cfg = build_config({"world": {"n_users": 2_000, "block_size": 500}})
    with pytest.raises(KeyboardInterrupt):
        generate(config=cfg, out=tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []


def _cli(*args):
    return runner.invoke(app, ["generate", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "0"], "n_users must be a whole number from 1 to 100,000,000, got 0"),
        (["--users", "-3"], "n_users must be a whole number from 1 to 100,000,000, got -3"),
    ],
)
def test_cli_bad_user_count(tmp_path, args, message):
    res = _cli(*args, "--out", str(tmp_path / "ds"))
    assert res.exit_code == 2
    assert message in res.output
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[world]\nn_userz = 5\n", "unknown config key 'world.n_userz'"),
        ('[[world.stress_episodes]]\nstart = "2019-01"\nmonths = 4\nseverity = 1.0\n',
         "world.stress_episodes: the episode starting 2019-01 for 4 months lies outside the "
         "calendar 2021-01..2028-12; allowed: episodes from 2021-01 that end by 2028-12"),
        ("[world.segment_mix]\nsalaried = 0.6\nstudent = 0.6\n",
         "segment_mix sums to 1.2; the shares must sum to 1"),
    ],
)
def test_cli_bad_config(tmp_path, toml, message):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(toml)
    res = _cli("--config", str(cfg), "--out", str(tmp_path / "ds"), "--users", "700")
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not (tmp_path / "ds").exists()


def test_cli_refuses_existing_output_without_overwrite(tmp_path):
    target = tmp_path / "ds"
    assert _cli("--users", "600", "--out", str(target)).exit_code == 0
    before = json.loads((target / "manifest.json").read_text())
    res = _cli("--users", "700", "--out", str(target))
    assert res.exit_code == 2
    assert f"output '{target}' already exists; pass --overwrite to replace it" in res.output
    assert json.loads((target / "manifest.json").read_text()) == before
    assert _cli("--users", "700", "--out", str(target), "--overwrite").exit_code == 0
    assert json.loads((target / "manifest.json").read_text())["rows"]["users"] == 700


def test_cli_unwritable_output(tmp_path):
    locked = tmp_path / "file"
    locked.write_text("not a folder")
    res = _cli("--users", "600", "--out", str(locked / "ds"))
    assert res.exit_code == 2
    assert f"output '{locked / 'ds'}' cannot be created: '{locked}' is a file" in res.output


def test_labels_rise_with_the_true_pd_and_censored_rows_have_none(realism_world):
    ds = realism_world
    m = ds.truth.merge(ds.outcomes, on="user_id")
    last = last_labelled_month(build_config({"world": ds.manifest["config"]["world"]}).world)
    assert (m["censored"].to_numpy() == (m["obs_month"].to_numpy() > last)).all()
    assert m["censored"].any() and not m["censored"].all()
    m = m[~m["censored"]]
    bins = pd.qcut(m["true_pd"], 5, labels=False)
    observed = m.groupby(bins)["default_12m"].mean().astype(float).to_numpy()
    assert np.all(np.diff(observed) > 0)


def test_a_stressed_window_raises_the_default_rate(tmp_path):
    """One episode, after some users' observation month: stress inside their performance
    window raises their hazard, so they default more often than their true PD at
    observation says, unlike users whose whole window is calm."""
    cfg = build_config({"world": {"n_users": 6_000, "block_size": 3_000,
                                  "stress_episodes": [{"start": "2026-01", "months": 12,
                                                       "severity": 1.5}]}})
    generate(config=cfg, out=tmp_path / "storm")
    ds = load_dataset(tmp_path / "storm")
    m = ds.truth.merge(ds.outcomes, on="user_id")
    first = 60  # 2026-01
    obs = m["obs_month"].to_numpy()
    excess = m["default_12m"].to_numpy(float) - m["true_pd"].to_numpy()
    windows_in_stress = (obs >= first - 12) & (obs < first)
    calm = obs < first - 12
    assert (m["regime"].astype(str).to_numpy()[windows_in_stress | calm] == "normal").all()
    assert excess[windows_in_stress].mean() > excess[calm].mean() + 0.03


def test_the_market_term_is_the_macro_term_and_contributions_add_up(small_world):
    _, _, ds = small_world
    t = ds.truth
    liquidity = ds.macro.set_index("month").loc[t["obs_month"], "liquidity_index"].to_numpy()
    np.testing.assert_allclose(t["term_market_conditions"],
                               MACRO_COEF * np.maximum(-liquidity, 0.0), atol=1e-6)
    stressed = t["regime"].astype(str).to_numpy() == "stressed"
    assert t["term_market_conditions"][stressed].min() > 0.2
    contrib = t[[f"contrib_{g}" for g in REASON_GROUPS]].to_numpy()
    # one constant (intercept plus the population mean of every term) for all users
    base = t["true_logit"].to_numpy() - contrib.sum(axis=1)
    np.testing.assert_allclose(base, base[0], atol=1e-9)
    top = t[["true_top1", "true_top2", "true_top3"]].astype(str).to_numpy()
    assert (top[stressed] == "market_conditions").any(axis=1).mean() > 0.5
