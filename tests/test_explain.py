"""The explanation stage on a small world: additivity, mechanism-aware reasons, change
attribution, truth metrics, the HTML report and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from toolkit.config import build_config
from toolkit.data.features import build_features
from toolkit.data.table import from_dataset
from toolkit.errors import InputError
from toolkit.explain import (
    METRIC_NAMES,
    REASON_COLUMNS,
    ExplanationResult,
    approved_background,
    explain_change,
    explain_rows,
    explain_scorecard,
    explain_table,
    group_contributions,
    interventional_shap,
    measure,
    path_shap,
    reference_values,
)
from toolkit.explain.quality import SHARE_METRICS
from toolkit.links import logit, sigmoid
from toolkit.models.scorecard import fit_scorecard
from toolkit.models.train import evaluate, fit_oracle_xgboost, fit_xgboost
from toolkit.vocab import REASON_GROUPS


@pytest.fixture(scope="module")
def fitted(small_world):
    """(config, table, scorer, decisions) for a 150-tree model on the 4,000-user world."""
    _, _, ds = small_world
    cfg = build_config({"model": {"n_estimators": 150, "early_stopping_rounds": 150,
                                  "max_depth": 4}})
    table = from_dataset(ds, cfg)
    scorer = fit_xgboost(table, cfg.model)
    _, decisions = evaluate(table, scorer.predict_pd(table.X), cfg.policy)
    return cfg, table, scorer, decisions


@pytest.fixture(scope="module")
def result(fitted) -> ExplanationResult:
    cfg, table, scorer, decisions = fitted
    return explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy)


# --- SHAP values ------------------------------------------------------------------------

def test_path_shap_is_additive_and_equals_shap_tree_explainer(fitted):
    import shap

    _, table, scorer, _ = fitted
    X = table.X.iloc[:400]
    sv = path_shap(scorer, X)
    assert sv.values.shape == (400, X.shape[1]) and sv.base.shape == (400,)
    assert sv.additivity_max_error <= 1e-4
    recomputed = np.abs(sv.values.sum(axis=1) + sv.base - scorer.margin(X)).max()
    assert recomputed <= 1e-4
    assert np.isclose(sv.additivity_max_error, recomputed, atol=1e-9)
    expl = shap.TreeExplainer(scorer.booster)(X[scorer.features])
    assert np.abs(expl.values - sv.values).max() == 0.0
    assert np.abs(np.asarray(expl.base_values) - sv.base).max() == 0.0
    assert list(sv.index) == list(X.index)


def test_interventional_shap_is_additive_against_approved_background(fitted):
    _, table, scorer, decisions = fitted
    bg = approved_background(table.X, decisions, 50, seed=1)
    assert not decisions.loc[bg.index, "zero"].any()
    X = table.X.iloc[:120]
    sv = interventional_shap(scorer, X, bg, chunk_rows=50)
    assert sv.mode == "interventional"
    assert sv.additivity_max_error <= 1e-4
    # the base value is the mean margin of the background
    assert np.allclose(sv.base, scorer.margin(bg).mean(), atol=1e-5)
    threaded = interventional_shap(scorer, X, bg, chunk_rows=50, n_jobs=2)
    assert np.array_equal(threaded.values, sv.values)


def test_result_additivity_and_contract(result, fitted):
    cfg, table, _, _ = fitted
    assert result.mode == cfg.explain.mode == "group"  # the default explainer
    assert result.metrics["explain_additivity_max_error_group"] <= 1e-4
    assert {f"{m}_group" for m in METRIC_NAMES} <= set(result.metrics)
    G = result.group_contributions
    assert list(G.columns) == list(REASON_GROUPS)
    # group sums keep additivity: groups + base = margin
    err = np.abs(G.sum(axis=1).to_numpy() + result.shap.base - result.shap.margin).max()
    assert err <= 1e-4
    assert result.feature_contributions.shape == (len(G), table.X.shape[1])
    assert tuple(result.reasons.columns) == REASON_COLUMNS
    # only zero-limit users get reasons; each gets 1..top_k, ranked 1, 2, ...
    zero_ids = set(result.zero_users)
    assert set(result.reasons["user_id"]) == zero_ids
    counts = result.reasons.groupby("user_id")["rank"].agg(["min", "max", "count"])
    assert (counts["min"] == 1).all() and (counts["count"] == counts["max"]).all()
    assert counts["count"].max() <= result.top_k


# --- mechanism-aware reasons on users whose answer is known by construction ---------------

def _refs(table, decisions):
    return reference_values(table.features, ~decisions["zero"].to_numpy())


def _safe_user(table, scorer, decisions):
    approved = np.flatnonzero(~decisions["zero"].to_numpy() & ~table.stressed)
    margin = scorer.margin(table.X.iloc[approved])
    return table.X.index[approved[np.argmin(margin)]]


def test_monitoring_reason_names_rule_and_evidence(fitted):
    cfg, table, scorer, decisions = fitted
    uid = _safe_user(table, scorer, decisions)
    feats = table.features.loc[[uid]].copy()
    feats["inq_cnt_1m"] = 6.0  # an inquiry burst: the rule (at least 4) must fire
    reasons, dec, _ = explain_rows(
        scorer, feats[table.feature_names], stressed=np.array([False]),
        references=_refs(table, decisions), groups=table.groups, policy=cfg.policy,
        rule_inputs=feats, registry=table.registry)
    assert dec["mechanism"].iloc[0] == "monitoring" and dec["rule"].iloc[0] == "inquiry_burst"
    first = reasons.iloc[0]
    assert (first["rank"], first["kind"], first["feature"]) == (1, "rule", "inq_cnt_1m")
    assert first["value"] == 6.0
    assert first["text"].startswith("6 loan inquiries at other lenders")
    assert "(rule: at least 4;" in first["text"]
    assert (reasons["kind"].iloc[1:] == "secondary").all()
    assert len(reasons) <= 4
    zh, _, _ = explain_rows(
        scorer, feats[table.feature_names], stressed=np.array([False]),
        references=_refs(table, decisions), groups=table.groups, policy=cfg.policy,
        rule_inputs=feats, registry=table.registry, lang="zh")
    assert "规则：至少4" in zh["text"].iloc[0] and "贷款查询6次" in zh["text"].iloc[0]


def test_rule_on_a_missing_feature_is_an_error_not_dropped(fitted):
    cfg, table, scorer, decisions = fitted
    uid = _safe_user(table, scorer, decisions)
    feats = table.features.loc[[uid]].drop(columns=["inq_cnt_1m"])
    with pytest.raises(InputError, match=r"'inquiry_burst' needs feature 'inq_cnt_1m'"):
        explain_rows(
            scorer, table.X.loc[[uid]], stressed=np.array([False]),
            references=_refs(table, decisions), groups=table.groups, policy=cfg.policy,
            rule_inputs=feats, registry=table.registry)


def test_policy_reason_gives_both_cutoffs_and_distances(fitted):
    cfg, table, scorer, decisions = fitted
    ok = ~decisions["zero"].to_numpy() & (decisions["rule"] == "").to_numpy()
    uid = table.X.index[np.flatnonzero(ok)[0]]
    p = float(scorer.predict_pd(table.X.loc[[uid]])[0])
    # cutoffs chosen around this user's PD: passes the normal one, fails the tightened one
    policy = cfg.policy.model_copy(update={"normal_cutoff": min(0.95, p * 1.5),
                                           "stressed_cutoff": p / 2})
    reasons, dec, sv = explain_rows(
        scorer, table.X.loc[[uid]], stressed=np.array([True]),
        references=_refs(table, decisions), groups=table.groups, policy=policy,
        rule_inputs=table.features.loc[[uid]], registry=table.registry)
    assert dec["mechanism"].iloc[0] == "policy"
    first = reasons.iloc[0]
    assert (first["rank"], first["kind"]) == (1, "policy")
    assert math.isclose(first["value"], p, rel_tol=1e-6)
    assert math.isclose(first["reference"], p / 2)
    d_force = logit(p) - logit(p / 2)
    d_normal = logit(p) - logit(min(0.95, p * 1.5))
    assert math.isclose(first["contribution"], d_force, abs_tol=1e-6)
    text = first["text"]
    assert f"{p / 2:.0%}" in text and f"{min(0.95, p * 1.5):.0%}" in text
    assert f"{d_force:+.2f}" in text and f"{d_normal:+.2f}" in text
    assert f"{100 * (p - p / 2):+.1f} percentage points" in text
    assert (reasons["kind"].iloc[1:] == "secondary").all()
    assert list(reasons["rank"]) == list(range(1, len(reasons) + 1))


def test_score_reasons_rank_the_adverse_group_that_was_made_bad(fitted):
    cfg, table, scorer, decisions = fitted
    # an approved user with no adverse group to speak of, as close to the cutoff as possible
    approved = np.flatnonzero(~decisions["zero"].to_numpy() & ~table.stressed)
    sv0 = path_shap(scorer, table.X.iloc[approved])
    G0 = group_contributions(sv0, table.groups).to_numpy()
    clean = approved[G0.max(axis=1) < 0.25]
    uid = table.X.index[clean[np.argmax(scorer.margin(table.X.iloc[clean]))]]
    X = table.X.loc[[uid]].copy()
    # ruin only the repayment history of the safest approved user
    for col in X.columns:
        if table.groups[col] == "repayment_history":
            if col.startswith("late_cnt"):
                X[col] = float(col.split("_")[-1].rstrip("m"))
            elif col.startswith("max_dpd"):
                X[col] = 120.0
            elif col.startswith("paid_ratio"):
                X[col] = 0.1
    feats = table.features.loc[[uid]].copy()
    feats[X.columns] = X
    # the cutoff sits below the ruined user's PD (and above the clean one's): a score refusal
    p_before, p_after = scorer.predict_pd(table.X.loc[[uid]])[0], scorer.predict_pd(X)[0]
    assert p_after > 1.5 * p_before
    cut = float(np.sqrt(p_before * p_after))
    policy = cfg.policy.model_copy(update={"normal_cutoff": cut, "stressed_cutoff": cut})
    reasons, dec, sv = explain_rows(
        scorer, X, stressed=np.array([False]), references=_refs(table, decisions),
        groups=table.groups, policy=policy, rule_inputs=feats, registry=table.registry,
        top_k=3)
    assert dec["mechanism"].iloc[0] == "score"
    assert (reasons["kind"] == "score").all() and 1 <= len(reasons) <= 3
    assert reasons["group"].iloc[0] == "repayment_history"
    assert table.groups[reasons["feature"].iloc[0]] == "repayment_history"
    assert (reasons["contribution"] > 0).all()
    assert reasons["contribution"].is_monotonic_decreasing
    # the named feature is the strongest of its group
    rep = [j for j, f in enumerate(sv.features) if table.groups[f] == "repayment_history"]
    assert reasons["feature"].iloc[0] == sv.features[rep[np.argmax(sv.values[0, rep])]]


def test_reasons_follow_the_policy_mechanism_on_the_test_split(result):
    r = result.reasons
    first = r[r["rank"] == 1].set_index("user_id")
    mech = result.decisions.loc[first.index, "mechanism"]
    expected = mech.map({"monitoring": "rule", "policy": "policy", "score": "score"})
    assert (first["kind"] == expected).all()
    rule_rows = r[r["kind"] == "rule"]
    assert rule_rows["text"].str.contains(r"\(rule: ", regex=True).all()


def test_top_k_and_language_switch(fitted, result):
    cfg, table, scorer, decisions = fitted
    two = explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy, top_k=2,
                        lang="zh", change=False)
    assert two.reasons.groupby("user_id").size().max() <= 2
    assert two.reasons["text"].str.contains(r"[\u4e00-\u9fff]", regex=True).all()
    zh = result.reasons_in("zh")
    assert len(zh) == len(result.reasons)
    assert zh["text"].str.contains(r"[\u4e00-\u9fff]", regex=True).all()
    uid = result.zero_users[0]
    assert "原因" in result.user_report(uid, lang="zh")
    assert "Reasons" in result.user_report(uid)


# --- change explanations ----------------------------------------------------------------

def test_change_attribution_is_exact(fitted, result):
    cfg, table, scorer, decisions = fitted
    ch = result.changes
    assert len(ch) > 0
    deltas = ch[[c for c in ch.columns if c.startswith("delta_")]].to_numpy()
    assert np.abs(deltas.sum(axis=1) - ch["margin_change"].to_numpy()).max() <= 2e-4
    assert (ch["attribution_error"] <= 2e-4).all()
    assert (ch["limit_before"] > 0).all()
    assert decisions.loc[ch.index, "zero"].all()
    assert (ch["month_now"] - ch["month_before"] == cfg.explain.change_months).all()
    # margin before equals the model on features rebuilt at the earlier month
    ds_hist, users = table.world.history, table.world.users
    some = ch.index[:20]
    sub = ds_hist[ds_hist["user_id"].isin(some)]
    order = pd.unique(sub["user_id"].to_numpy())
    before = build_features(sub, users, asof=ch.loc[order, "month_before"].to_numpy())
    assert np.allclose(scorer.margin(before.loc[some]), ch.loc[some, "margin_before"],
                       atol=1e-6)
    # the policy part is the change of the cutoff in force
    pol = logit(ch["cutoff_before"].to_numpy()) - logit(ch["cutoff_now"].to_numpy())
    assert np.allclose(ch["policy_part"], pol)
    assert np.allclose(ch["distance_change"], ch["margin_change"] + ch["policy_part"])
    assert (ch["cutoff_changed"] == (ch["regime_before"] != ch["regime_now"])).all()


def test_change_in_interventional_mode_is_exact(fitted, result):
    cfg, table, scorer, decisions = fitted
    bg = approved_background(table.X, decisions, 40, seed=0)
    users = result.changes.index[:30]
    ch = explain_change(scorer, table, decisions, users, k=3, policy=cfg.policy,
                        values=lambda X: interventional_shap(scorer, X, bg))
    assert len(ch) == len(users)
    deltas = ch[[c for c in ch.columns if c.startswith("delta_")]].to_numpy()
    assert np.abs(deltas.sum(axis=1) - ch["margin_change"].to_numpy()).max() <= 2e-4


# --- metrics against the truth ----------------------------------------------------------

@pytest.fixture(scope="module")
def oracle(fitted):
    cfg, table, _, _ = fitted
    return fit_oracle_xgboost(table, cfg.model)


def test_oracle_model_fits_the_true_log_odds(fitted, oracle):
    _, table, scorer, _ = fitted
    test = table.mask("test")
    true = table.truth["true_logit"].to_numpy()[test]
    fit = oracle.margin(table.X[test])
    # far closer to the truth than the model fit to noisy labels
    assert np.corrcoef(fit, true)[0, 1] > 0.95
    assert np.corrcoef(scorer.margin(table.X[test]), true)[0, 1] < \
        np.corrcoef(fit, true)[0, 1]


def test_metrics_of_every_variant(fitted, result, oracle):
    cfg, table, scorer, decisions = fitted
    sticks = {"oracle": oracle}
    res = {"": explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy,
                             mode="path", change=False, **sticks)}
    for mode in ("interventional", "group"):
        res[f"_{mode}"] = explain_table(scorer, table, decisions, cfg.explain,
                                        policy=cfg.policy, mode=mode, change=False, **sticks)
    card = fit_scorecard(*table.part("train"), cfg.scorecard)
    res["_scorecard"] = explain_scorecard(card, table, policy=cfg.policy)
    for suffix, r in res.items():
        assert len(r.decisions) == int(table.mask("test").sum())  # every test row explained
        for name in METRIC_NAMES:
            if suffix == "_scorecard" and name == "explain_oracle_top1":
                assert np.isnan(r.metrics[f"{name}{suffix}"])  # no scorecard oracle
                continue
            v = r.metrics[f"{name}{suffix}"]
            assert np.isfinite(v), (name, suffix)
        assert r.metrics[f"explain_additivity_max_error{suffix}"] <= 1e-4
        for name in SHARE_METRICS:
            v = r.metrics.get(f"{name}{suffix}", np.nan)
            assert np.isnan(v) or 0.0 <= v <= 1.0, (name, suffix)
        assert -1.0 <= r.metrics[f"explain_group_rank_corr{suffix}"] <= 1.0
        assert r.metrics[f"explain_top1_regret{suffix}"] >= 0.0
        # the selection is the truth's: the same rows for every explainer and model
        assert r.metrics[f"explain_group_rows{suffix}"] == \
            res[""].metrics["explain_group_rows"]
        assert r.metrics[f"explain_top1_baseline{suffix}"] == \
            res[""].metrics["explain_top1_baseline"]
    # the group explainer against the whole population is the exact attribution itself
    assert res["_group"].metrics["explain_fidelity_top1_group"] == 1.0
    assert res["_group"].metrics["explain_top1_group_accuracy_group"] == \
        res["_group"].metrics["explain_alignment_top1_group"]
    # alignment is the model's, whichever explainer is measured
    assert res["_interventional"].metrics["explain_alignment_top1_interventional"] == \
        res[""].metrics["explain_alignment_top1"]
    # the model's explanations beat the constant answer on the truth
    assert res[""].metrics["explain_top1_group_accuracy"] > 0.4
    assert res["_group"].metrics["explain_top1_skill_group"] > 0.0
    # scorecard contributions are exactly additive
    assert res["_scorecard"].metrics["explain_additivity_max_error_scorecard"] < 1e-9


def test_group_metrics_do_not_move_with_the_margins(fitted):
    """Shifting every margin by -1 changes which rows the model refuses, not one SHAP value:
    with the truth's row selection, no group metric moves."""
    cfg, table, scorer, decisions = fitted
    _, shifted = evaluate(table, sigmoid(scorer.margin(table.X) - 1.0), cfg.policy)
    assert (shifted["zero"] != decisions["zero"]).sum() > 10
    a = measure(scorer, table, decisions, cfg.explain, fidelity=False)
    b = measure(scorer, table, shifted, cfg.explain, fidelity=False)
    group = [k for k in a if k.startswith(("explain_top", "explain_group", "explain_clear"))]
    assert len(group) > 20
    assert {k: a[k] for k in group} == {k: b[k] for k in group}
    # the default explainer (group) measures against the whole population, which no
    # decision changes; only the decision metrics move
    assert a["explain_decision_agreement_group"] != b["explain_decision_agreement_group"]


def test_interventional_and_group_take_the_configured_background(fitted):
    cfg, table, scorer, decisions = fitted
    users = table.X.index[decisions["zero"].to_numpy()][:20]
    approved = ~decisions["zero"].to_numpy() & (table.split == "train")
    for mode in ("interventional", "group"):
        pop = explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy,
                            users=users, mode=mode, change=False)
        appr = explain_table(scorer, table, decisions,
                             cfg.explain.model_copy(update={"background": "approved"}),
                             policy=cfg.policy, users=users, mode=mode, change=False)
        # the base value is the mean margin of the background: the whole population
        # (every row fits in the default sample of this small world) or the approved users
        assert np.allclose(pop.shap.base, scorer.margin(table.X).mean(), atol=1e-5)
        assert np.allclose(appr.shap.base, scorer.margin(table.X[approved]).mean(), atol=1e-5)
        assert appr.shap.additivity_max_error <= 1e-4


def test_progress_counts_rows_and_changes_nothing(fitted, result):
    cfg, table, scorer, decisions = fitted
    seen = []
    res = explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy,
                        change=False, progress=lambda done, total: seen.append((done, total)))
    n = len(result.decisions)
    assert n > 500  # more than one block of rows
    assert seen[-1] == (n, n) and all(t == n for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    np.testing.assert_array_equal(res.shap.values, result.shap.values)
    pd.testing.assert_frame_equal(res.reasons, result.reasons)


# --- writing (the report itself: tests/test_report.py) -----------------------------------

def test_write_replaces_the_folder_as_a_whole(result, tmp_path, monkeypatch):
    import toolkit.explain.report as report

    target = tmp_path / "explanations"
    target.mkdir()
    (target / "stale.txt").write_text("old run")
    (target / "reasons.parquet").write_bytes(b"old")

    def broken(*args, **kwargs):
        raise RuntimeError("render failed")

    # a failure after the tables are written: no temp folder, the old folder untouched
    monkeypatch.setattr(report, "render_report", broken)
    with pytest.raises(RuntimeError, match="render failed"):
        result.write(target, figures=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explanations"]
    assert sorted(p.name for p in target.iterdir()) == ["reasons.parquet", "stale.txt"]
    assert (target / "reasons.parquet").read_bytes() == b"old"
    # and no partial folder where none was
    with pytest.raises(RuntimeError, match="render failed"):
        result.write(tmp_path / "fresh", figures=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explanations"]

    monkeypatch.undo()
    paths = result.write(target, figures=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["explanations"]
    assert not (target / "stale.txt").exists()
    assert {p.parent for p in paths.values()} == {target}
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in paths.values())
    assert len(pd.read_parquet(paths["reasons"])) == len(result.reasons)


# --- bad input --------------------------------------------------------------------------

def test_bad_input_is_refused(fitted):
    cfg, table, scorer, decisions = fitted
    with pytest.raises(InputError, match="not in the data"):
        explain_table(scorer, table, decisions, cfg.explain, users=[-5])
    with pytest.raises(InputError, match=r"user id 99999999 is not in the data") as err:
        explain_table(scorer, table, decisions, cfg.explain,
                      users=pd.Index([table.X.index[0], 99999999]))
    assert "np." not in str(err.value)
    with pytest.raises(InputError, match=r"got 11$"):
        explain_table(scorer, table, decisions, cfg.explain, top_k=np.int64(11))
    for k in (0, 11):
        with pytest.raises(InputError, match="1..10"):
            explain_table(scorer, table, decisions, cfg.explain, top_k=k)
    with pytest.raises(InputError, match="allowed: en, zh"):
        explain_table(scorer, table, decisions, cfg.explain, lang="fr")
    with pytest.raises(InputError, match="allowed: path, interventional"):
        explain_table(scorer, table, decisions, cfg.explain, mode="kernel")
    with pytest.raises(InputError, match="unknown split"):
        explain_table(scorer, table, decisions, cfg.explain, split="holdout")


def test_single_user_report(fitted):
    cfg, table, scorer, decisions = fitted
    zero = table.X.index[decisions["zero"].to_numpy()][:1]
    approved = table.X.index[~decisions["zero"].to_numpy()][:1]
    res = explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy,
                        users=[*zero, *approved])
    assert "zero limit" in res.user_report(zero[0])
    assert "approved" in res.user_report(approved[0])
    with pytest.raises(InputError):
        res.user_report(-1)
