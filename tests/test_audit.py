"""The audit: fairness by mechanism against a known bias, stability, drift, and the command.

The fairness checks run twice: on decisions made by the platform's own policy over drawn
scores (fast, exact control of the bias), and on small generated worlds whose platform is
biased, where the generator's truth says which mechanism carries the bias.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from toolkit.audit import RULE, audit_table, fairness_audit
from toolkit.audit.drift import drift_audit
from toolkit.audit.fairness import drivers_frame
from toolkit.cli import app
from toolkit.config import AuditConfig, PolicyConfig, build_config
from toolkit.data.dataset import load_dataset, manifest_hash
from toolkit.data.features import Feature, build_features
from toolkit.data.table import ModelTable, from_dataset
from toolkit.errors import ConfigError, DataError, InputError
from toolkit.explain import explain_table
from toolkit.links import sigmoid
from toolkit.models.train import evaluate, fit_xgboost
from toolkit.policy import LimitPolicy
from toolkit.source import check_dataset
from toolkit.synth import generate
from toolkit.vocab import FLIPPED_MECHANISM, FLIPPED_ZERO, MECHANISMS, PROTECTED

runner = CliRunner()

BIASES = {
    "score": {"normal_cutoff": 0.14},
    "policy": {"stressed_cutoff": 0.08},
    "monitoring": {"rule_thresholds": {"inquiry_burst": 2}},
}


# -- fairness on drawn scores: the bias is known exactly --------------------------------------

def _drawn(bias: dict | None, *, proxy: float = 0.0, n: int = 8000, seed: int = 0):
    """Scores, regimes and rule inputs drawn for two groups, judged by the default policy
    (with ``bias`` for group B); group B's scores are shifted by ``proxy`` log-odds."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.5, "B", "A")
    score = rng.normal(-2.6, 0.9, n) + proxy * (group == "B")
    stressed = rng.random(n) < 0.3
    features = pd.DataFrame({"inq_cnt_1m": rng.poisson(0.5, n).astype(float),
                             "balance_drop_1m": rng.beta(1, 8, n), PROTECTED: group})
    policy = PolicyConfig(bias=bias) if bias else PolicyConfig()
    decisions = LimitPolicy(policy).decide(sigmoid(score), stressed, features)
    y = (rng.random(n) < sigmoid(score)).astype(int)
    drivers = drivers_frame(score, stressed, features[["inq_cnt_1m", "balance_drop_1m"]])
    return fairness_audit(group, decisions, drivers, pd_=sigmoid(score), y=y,
                          attribute=PROTECTED)


@pytest.mark.parametrize("mechanism", list(BIASES))
def test_a_biased_gate_is_flagged_and_no_other(mechanism):
    res = _drawn(BIASES[mechanism])
    assert res.flagged == (mechanism,)
    assert res.reference == "A"
    row = res.gates[(res.gates["mechanism"] == mechanism) & (res.gates[PROTECTED] == "B")]
    assert row["excess"].iloc[0] >= 1.25 and row["z"].iloc[0] >= 3
    assert row["material"].iloc[0]
    assert res.metrics[f"audit_fairness_flagged_{mechanism}"] == 1.0
    assert res.metrics[f"audit_fairness_material_{mechanism}"] == 1.0
    assert res.metrics["audit_fairness_gap_unexplained"] > 0


def test_a_mild_bias_is_flagged_and_called_below_the_four_fifths_rule():
    res = _drawn({"normal_cutoff": 0.185}, n=60_000)
    row = res.gates[(res.gates["mechanism"] == "score") & (res.gates[PROTECTED] == "B")]
    assert res.flagged == ("score",)
    assert 1.0 < row["excess"].iloc[0] < 1.25 and row["z"].iloc[0] >= 3
    assert not row["material"].iloc[0]


def test_a_proxy_is_explained_by_the_drivers_and_never_flagged():
    res = _drawn(None, proxy=0.6)
    # the raw rates fail the four-fifths rule ...
    assert res.metrics["audit_fairness_refusal_rate_ratio_score"] < 0.8
    assert res.metrics["audit_fairness_gap"] > 0.05
    # ... and the drivers explain the gap: no mechanism is flagged
    assert res.flagged == ()
    assert abs(res.metrics["audit_fairness_gap_unexplained"]) < 0.01
    assert res.metrics["audit_fairness_gap_explained"] == pytest.approx(
        res.metrics["audit_fairness_gap"], abs=0.01)


def test_without_a_bias_nothing_is_flagged_and_the_ratios_are_fairlearns():
    from fairlearn.metrics import demographic_parity_ratio

    res = _drawn(None)
    assert res.flagged == ()
    rng = np.random.default_rng(0)  # the draws of _drawn, to recompute fairlearn's ratio
    group = np.where(rng.random(8000) < 0.5, "B", "A")
    approved = 1 - res.groups["zero_rate"]
    assert res.metrics["audit_fairness_selection_rate_ratio"] == pytest.approx(
        approved.min() / approved.max())
    ones = np.ones(8000, dtype=bool)
    assert demographic_parity_ratio(ones, ones, sensitive_features=group) == 1.0
    assert "four_fifths" in RULE and "sqrt(E)" in RULE


def test_a_tiny_most_approved_group_is_never_the_reference():
    """13 rows all approved cannot teach the model of the reference's refusals anything but
    a constant: as the reference, every other group would "exceed" it."""
    rng = np.random.default_rng(1)
    n = 4000
    group = np.where(rng.random(n) < 0.5, "B", "A")
    score = rng.normal(-2.6, 0.9, n)
    group[:13], score[:13] = "C", -6.0  # a handful of very safe rows
    stressed = np.zeros(n, dtype=bool)
    features = pd.DataFrame({"inq_cnt_1m": np.zeros(n), "balance_drop_1m": np.zeros(n),
                             PROTECTED: group})
    decisions = LimitPolicy(PolicyConfig()).decide(sigmoid(score), stressed, features)
    drivers = drivers_frame(score, stressed, features[["inq_cnt_1m", "balance_drop_1m"]])
    res = fairness_audit(group, decisions, drivers, pd_=sigmoid(score),
                         y=(rng.random(n) < sigmoid(score)).astype(int), attribute=PROTECTED)
    assert res.groups.loc["C", "approval_rate"] == 1.0
    assert res.reference in {"A", "B"}
    assert res.flagged == ()


# -- the platform's bias: configuration and decisions -----------------------------------------

@pytest.mark.parametrize(
    ("bias", "message"),
    [
        ({"rule_thresholds": {"nope": 3}}, "bias.rule_thresholds names unknown rule 'nope'; "
                                           "allowed: liquidity_drain, inquiry_burst"),
        ({"group": "C", "normal_cutoff": 0.1}, "unknown protected group 'C'; allowed: A, B"),
        ({}, "bias sets neither a cutoff nor a rule threshold"),
        ({"normal_cutoff": 0.1, "stressed_cutoff": 0.15},
         "bias: group B's stressed cutoff 0.15 is looser than its normal cutoff 0.1"),
        ({"normal_cutoff": 1.5}, "bias.normal_cutoff 1.5 is outside (0, 1)"),
    ],
)
def test_a_bad_bias_is_refused_with_its_reason(bias, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_config({"policy": {"bias": bias}})


def test_a_biased_policy_needs_the_protected_column():
    policy = LimitPolicy(PolicyConfig(bias={"normal_cutoff": 0.15}))
    with pytest.raises(InputError, match="policy.bias judges group 'B' by its own settings, so "
                       "the decisions need the protected attribute column 'protected_group'"):
        policy.decide(np.array([0.1]), np.array([False]),
                      pd.DataFrame({"inq_cnt_1m": [0.0], "balance_drop_1m": [0.0]}))


def test_a_monitoring_rule_may_not_read_the_protected_attribute():
    from toolkit.policy import policy_for

    cfg = PolicyConfig(rules=[{"name": "r", "feature": PROTECTED, "threshold": 1}])
    with pytest.raises(InputError, match="monitoring rule 'r' needs feature 'protected_group'"):
        policy_for(cfg, ["inq_cnt_1m", PROTECTED])


def test_the_notice_names_the_threshold_the_group_was_judged_by():
    policy = PolicyConfig(bias={"rule_thresholds": {"inquiry_burst": 2}})
    features = pd.DataFrame({"inq_cnt_1m": [2.0, 5.0], "balance_drop_1m": [0.0, 0.0],
                             PROTECTED: ["B", "A"]}, index=pd.Index([1, 2], name="user_id"))
    dec = LimitPolicy(policy).decide(np.array([0.05, 0.05]), np.array([False, False]),
                                     features)
    assert dec["rule"].tolist() == ["inquiry_burst", "inquiry_burst"]
    assert dec["rule_threshold"].tolist() == [2.0, 4.0]
    from toolkit.explain import build_reasons, reference_values

    dec.index = features.index
    reasons = build_reasons(np.zeros((2, 1)), ["inq_cnt_1m"], features[["inq_cnt_1m"]], dec,
                            reference_values(features[["inq_cnt_1m"]], np.array([True, True])),
                            groups={"inq_cnt_1m": "borrowing_behavior"}, rules=policy.rules,
                            rule_inputs=features, top_k=1)
    texts = reasons.set_index("user_id")["text"]
    assert "rule: at least 2" in texts[1] and "rule: at least 4" in texts[2]


# -- generated worlds whose platform is biased ----------------------------------------------

WORLD_USERS = 5000


def _world(tmp_path_factory, name: str, world: dict, users: int = WORLD_USERS):
    out = tmp_path_factory.mktemp("audit-worlds") / name
    cfg = build_config({"world": {"n_users": users, "block_size": users, **world},
                        "model": {"n_estimators": 80, "nthread": 1}})
    generate(config=cfg, out=out)
    table = from_dataset(load_dataset(out), cfg)
    scorer = fit_xgboost(table, cfg.model)
    _, decisions = evaluate(table, scorer.predict_pd(table.X), cfg.policy, splits=())
    return cfg, table, scorer, decisions


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """One small world per biased mechanism, and one fair world with a strong proxy (large
    enough for every month to hold the rows a drift flag needs)."""
    out = {m: _world(tmp_path_factory, m, {"platform": {"bias": b}})
           for m, b in BIASES.items()}
    out["proxy"] = _world(tmp_path_factory, "proxy",
                          {"protected": {"income_shift": -0.5, "tier_link": 0.15}},
                          users=10_000)
    return out


@pytest.mark.parametrize("mechanism", list(BIASES))
def test_the_audit_names_the_mechanism_the_truth_says_is_biased(worlds, mechanism):
    cfg, table, scorer, decisions = worlds[mechanism]
    res = audit_table(scorer, table, decisions, cfg, retrains=0)
    fair = res.fairness[0]
    assert list(fair.truth.loc[fair.truth["truth_biased"], "mechanism"]) == [mechanism]
    assert fair.flagged == (mechanism,)
    assert res.metrics["audit_fairness_truth_agreement"] == 1.0
    # the part of the gap the drivers leave unexplained is the truth's direct effect's sign
    assert res.metrics["audit_fairness_truth_unexplained_gap"] > 0
    assert res.metrics["audit_fairness_gap_unexplained"] > 0


def test_with_a_fair_platform_no_mechanism_is_flagged_however_strong_the_proxy(worlds):
    cfg, table, scorer, decisions = worlds["proxy"]
    assert FLIPPED_ZERO not in table.truth.columns  # nobody's decision can change
    res = audit_table(scorer, table, decisions, cfg, retrains=0)
    fair = res.fairness[0]
    assert res.metrics["audit_fairness_zero_rate_B"] > res.metrics["audit_fairness_zero_rate_A"]
    assert fair.flagged == ()
    assert not fair.truth["truth_biased"].any()
    assert res.metrics["audit_fairness_truth_agreement"] == 1.0
    assert res.metrics["audit_fairness_truth_unexplained_gap"] == 0.0


def test_the_truth_flips_the_group_and_nothing_else(worlds):
    cfg, table, _, _ = worlds["score"]
    truth = table.truth
    feats = table.features.copy()
    other = np.where(feats[PROTECTED] == "A", "B", "A")
    policy = LimitPolicy(cfg.world.platform)
    stressed = table.stressed
    actual = policy.decide(truth["true_pd"].to_numpy(), stressed, feats)
    flipped = policy.decide(truth["true_pd"].to_numpy(), stressed, feats.assign(
        **{PROTECTED: other}))
    assert (actual["mechanism"].to_numpy() == truth["true_mechanism"].astype(str)).all()
    assert (flipped["zero"].to_numpy() == truth[FLIPPED_ZERO].to_numpy()).all()
    assert (flipped["mechanism"].to_numpy() == truth[FLIPPED_MECHANISM].astype(str)).all()
    changed = truth["true_zero"] != truth[FLIPPED_ZERO]
    assert changed.any()
    # only group B is judged by its own (lower) normal cutoff: only B users lose their line
    assert (feats.loc[changed & truth["true_zero"], PROTECTED] == "B").all()


@pytest.fixture(scope="module")
def fair_twin(tmp_path_factory):
    """The score-biased world's twin with a fair platform (same size and seed)."""
    return _world(tmp_path_factory, "fair", {})


def test_a_biased_platform_leaves_the_world_itself_unchanged(worlds, fair_twin):
    """A bias changes decisions (the limit column and the truth's decisions), not behaviour."""
    biased, fair = worlds["score"][1], fair_twin[1]
    pd.testing.assert_frame_equal(fair.X, biased.X)
    assert (fair.y == biased.y).all()
    same = ["true_pd", "true_logit", "true_top1"]
    pd.testing.assert_frame_equal(fair.truth[same], biased.truth[same])
    assert (fair.truth["true_zero"] != biased.truth["true_zero"]).any()
    history_cols = [c for c in fair.world.history.columns if c != "limit"]
    pd.testing.assert_frame_equal(fair.world.history[history_cols],
                                  biased.world.history[history_cols])


def test_the_protected_attribute_is_never_a_feature_nor_a_reason(worlds):
    cfg, table, scorer, decisions = worlds["monitoring"]
    assert PROTECTED in table.features and PROTECTED not in table.X
    assert PROTECTED not in scorer.features
    assert set(build_features(table.world.history, table.world.users).columns).isdisjoint(
        {PROTECTED})
    res = explain_table(scorer, table, decisions, cfg.explain, policy=cfg.policy, change=False)
    assert PROTECTED not in set(res.reasons["feature"]) | set(res.reasons["group"])
    assert not res.reasons["text"].str.contains("protected").any()
    # a model that scores with it is refused before anything is audited

    class Leaky:
        features = [*scorer.features, PROTECTED]

    with pytest.raises(DataError, match="protected attribute 'protected_group' is a model "
                       "feature; a protected attribute may be audited, never used to score "
                       "or to explain"):
        audit_table(Leaky(), table, decisions, cfg, retrains=0)


def test_the_audit_joins_the_report_in_its_language(worlds, tmp_path):
    import re

    import html5lib

    from toolkit.workflows.explain import report_context
    from toolkit.workflows.fitted import fit_models

    cfg, table, _, _ = worlds["score"]
    cfg = cfg.model_copy(update={"explain": cfg.explain.model_copy(update={"lang": "zh"})})
    fitted = fit_models(cfg, table, scorecard=False)
    audit = audit_table(fitted.scorer, table, fitted.decisions, cfg, retrains=1)
    res = explain_table(fitted.scorer, table, fitted.decisions, cfg.explain, policy=cfg.policy,
                        change=False)
    ctx = report_context(cfg, fitted, stem="unit", run_id="0e1f2e3d")
    ctx = ctx.__class__(**{**ctx.__dict__, "sections": (audit.report_section(),)})
    paths = res.write(tmp_path / "explanations", context=ctx, max_rows=50)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for name, lang in (("report", "en"), ("zh_report", "zh")):
        text = paths[name].read_text(encoding="utf-8")
        tree = html5lib.HTMLParser(strict=True).parse(text)
        section = [el for el in tree.iter() if el.get("id") == "section-audit"]
        assert section, name
        # the audit's part of the page: from its heading to the next section's
        part = text[text.index('id="section-audit"'):]
        part = part[:part.index("<h2", 1)] if "<h2" in part[1:] else part
        assert not re.search(r"\d(?:\.\d+)?[eE][+-]?\d", part)
        heading = "审计：按机制的公平性" if lang == "zh" else "Audit: fairness by mechanism"
        assert heading in part
        if lang == "zh":
            assert "评分" in part and "不利于" in part
            heads = [("".join(th.itertext())) for th in tree.iter(
                "{http://www.w3.org/1999/xhtml}th")]
            assert all(cjk.search(h) or h in {"AUC", "KS", "PSI"} or h.isdigit()
                       or h.startswith("baseline") for h in heads), heads


# -- stability and drift ----------------------------------------------------------------------

def test_stability_compares_each_retrain_with_the_run_and_the_truth(worlds):
    cfg, table, scorer, decisions = worlds["score"]
    res = audit_table(scorer, table, decisions, cfg, retrains=1)
    m = res.metrics
    frame = res.stability.retrains
    assert list(frame["kind"]) == ["original", "seed", "bootstrap"]
    for kind in ("seed", "bootstrap"):
        for name in ("decision_kept", "top1_agreement", "top3_agreement", "notice_changed"):
            assert 0.0 <= m[f"audit_stability_{name}_{kind}"] <= 1.0
    shares = frame["zero_users"].iloc[0]
    assert shares > 0
    # the trivial baseline: two top-1 reasons drawn from the run's own mix agree this often
    assert 0 < m["audit_stability_top1_chance"] < m["audit_stability_top1_agreement_seed"]
    months = res.stability.months.set_index("source")
    assert set(months.index) == {"model", "truth"}
    assert 0.0 <= m["audit_stability_top1_agreement_months_truth"] <= 1.0


def _drift_table(months: int = 6, rows: int = 400, seed: int = 0):
    """An own-table-like model table with months: month 3 shifts a point-in-time feature
    toward risk, month 4 a windowed one, month 5 a point-in-time one away from risk; the
    market series takes one value per month and shifts every month."""
    rng = np.random.default_rng(seed)
    m = np.repeat(np.arange(months), rows)
    n = len(m)
    X = pd.DataFrame({
        "now": rng.normal(size=n) + 1.5 * (m == 3) - 1.5 * (m == 5),
        "window": rng.normal(size=n) + 1.5 * (m == 4),
        "market": m.astype(float) * 3.0,
    }, index=pd.RangeIndex(n, name="row_id"))
    reg = tuple(Feature(name=c, group=c, unit="value", direction=1, actionable=False,
                        description_en=c, description_zh=c, template_en=c, template_zh=c,
                        compute=None, window=12 if c == "window" else 1) for c in X.columns)
    split = np.where(m < 3, "train", "test").astype(object)
    split[m == 2] = "valid"
    y = (rng.random(n) < 0.1).astype(np.int8)
    table = ModelTable(X=X, y=y, split=split, stressed=np.zeros(n, bool),
                       features=X.assign(asof_month=m), truth=None, registry=reg,
                       dataset_hash="", source="")
    return table


def test_drift_flags_only_months_whose_point_in_time_features_moved_toward_risk():
    table = _drift_table()
    scorer = fit_xgboost(table, build_config({"model": {"n_estimators": 5,
                                                        "nthread": 1}}).model)
    res = drift_audit(scorer, table, AuditConfig(month_rows=50))
    assert res.series == ["market"]
    assert "market" not in res.psi.columns
    assert list(res.months.index) == ["2021-01", "2021-02", "2021-03", "2021-04", "2021-05",
                                      "2021-06"]
    assert res.months["flagged"].tolist() == [False, False, False, True, False, False]
    assert res.months.loc["2021-04", "flag_feature"] == "now"
    # the windowed feature's shift is real, and counted when every feature counts
    assert res.psi.loc["2021-05", "window"] > 0.25
    wide = drift_audit(scorer, table, AuditConfig(month_rows=50, drift_features="all",
                                                  drift_direction="both"))
    assert wide.months["flagged"].tolist() == [False, False, False, True, True, True]
    assert res.variants.empty  # no known world: no precision or recall


def test_drift_on_a_world_scores_its_flags_against_the_stressed_months(worlds):
    cfg, table, scorer, decisions = worlds["proxy"]
    res = audit_table(scorer, table, decisions, cfg, retrains=0)
    months = res.drift.months
    stressed = months["stressed"].to_numpy(bool)
    flagged = months["flagged"].to_numpy(bool)
    m = res.metrics
    assert m["audit_drift_stress_months"] == stressed.sum() > 0
    assert m["audit_drift_precision"] == pytest.approx((flagged & stressed).sum()
                                                       / flagged.sum())
    assert m["audit_drift_recall"] == pytest.approx((flagged & stressed).sum()
                                                    / stressed.sum())
    assert m["audit_drift_precision_baseline"] == pytest.approx(stressed.mean())
    # the rule recovers most stressed months, far better than flagging every month
    assert m["audit_drift_precision"] > 0.6 and m["audit_drift_recall"] > 0.6
    assert "every month (trivial baseline)" in set(res.drift.variants["rule"])
    assert set(res.drift.series) == {"liquidity_index", "liquidity_change_3m"}


def test_months_too_small_for_a_psi_are_never_flagged(worlds):
    cfg, table, scorer, decisions = worlds["score"]  # 5,000 users: about 70 rows a month
    res = audit_table(scorer, table, decisions, cfg, retrains=0)
    assert (res.drift.months["rows"] < 100).all()
    assert not res.drift.months["flagged"].any()
    assert res.metrics["audit_drift_recall"] == 0.0


# -- a dataset written before these settings existed ------------------------------------------

def test_a_dataset_without_the_new_world_keys_is_the_same_world(small_world, tmp_path,
                                                              monkeypatch):
    import shutil

    path, manifest, _ = small_world
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "data" / "synthetic" / "default"
    shutil.copytree(path, copy)
    # the manifest a toolkit without these settings wrote: the same files, no such keys
    old = json.loads((copy / "manifest.json").read_text())
    old["config"]["world"].pop("protected")
    old["config"]["world"]["platform"].pop("bias")
    old["manifest_hash"] = manifest_hash(old)
    (copy / "manifest.json").write_text(json.dumps(old))
    world = manifest["config"]["world"]
    assert check_dataset(build_config({"world": world}))[1] is False
    assert load_dataset(copy).hash == manifest["dataset_hash"]
    # a world that differs in a new setting is still told apart
    other = build_config({"world": {**world, "protected": {"income_shift": -0.2}}})
    with pytest.raises(DataError, match=r"was generated from a different \[world\] \(differs "
                       r"in protected\)"):
        check_dataset(other)


# -- the command ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def logged(worlds, tmp_path_factory):
    from toolkit.workflows.train import train_experiment

    cfg, table, _, _ = worlds["policy"]
    store = f"sqlite:///{tmp_path_factory.mktemp('audit-cli') / 'mlflow.db'}"
    trained = train_experiment(cfg, stem="audit", data=table.source, uri=store)
    return store, trained


def test_audit_logs_a_child_run_and_leaves_the_model_run_alone(logged, tmp_path):
    store, trained = logged
    run_id = trained.run_ids["xgboost"]
    html = tmp_path / "audit.html"
    res = runner.invoke(app, ["audit", run_id, "--tracking-uri", store, "--retrains", "1",
                              "--outputs", str(tmp_path / "out"), "--html", str(html)])
    assert res.exit_code == 0, res.output
    assert "Fairness (protected_group): flagged policy tightening (against group B" \
        in res.output
    assert "the audit agrees" in res.output
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Audit: fairness by mechanism" in page
    client = MlflowClient(store)
    assert not any(k.startswith("audit_") for k in client.get_run(run_id).data.metrics)
    children = client.search_runs([client.get_run(run_id).info.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{run_id}'")
    assert len(children) == 1
    child = children[0]
    assert child.info.status == "FINISHED" and child.info.run_name == "audit-xgboost-audit"
    assert child.data.tags["toolkit.audits_run"] == run_id
    assert child.data.metrics["audit_fairness_flagged_policy"] == 1.0
    assert child.data.metrics["audit_fairness_truth_agreement"] == 1.0
    assert {"audit_stability_top1_agreement_seed", "audit_drift_recall"} <= set(
        child.data.metrics)
    arts = {a.path for a in client.list_artifacts(child.info.run_id, "audit")}
    assert {"audit/report.html", "audit/metrics.json", "audit/fairness_gates.csv"} <= arts
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown run id 'nope'"),
        (["{run}", "--retrains", "51"], "--retrains must be a whole number in 0..50, got 51"),
        (["{run}", "--html", "{folder}"], "is a folder; give a file name"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_logs_nothing(logged, tmp_path, args, message):
    store, trained = logged
    run_id = trained.run_ids["xgboost"]
    client = MlflowClient(store)
    exp = client.get_run(run_id).info.experiment_id
    before = len(client.search_runs([exp]))
    args = [a.format(run=run_id, folder=tmp_path) for a in args]
    res = runner.invoke(app, ["audit", *args, "--tracking-uri", store,
                              "--outputs", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert len(client.search_runs([exp])) == before
    assert not (tmp_path / "out").exists()


def test_every_mechanism_is_audited_in_precedence_order(worlds):
    cfg, table, scorer, decisions = worlds["monitoring"]
    res = audit_table(scorer, table, decisions, cfg, retrains=0)
    assert list(dict.fromkeys(res.fairness[0].gates["mechanism"])) == list(MECHANISMS)
    # the gates multiply: a group's approval rate is the product of its pass rates
    gates = res.fairness[0].gates
    for group, part in gates.groupby("protected_group"):
        approval = res.fairness[0].groups.loc[group, "approval_rate"]
        assert np.prod(part["pass_rate"].to_numpy()) == pytest.approx(approval)


def test_recourse_burden_compares_each_group_with_the_reference():
    from toolkit.audit.burden import recourse_burden

    plans = pd.DataFrame({
        "found": [True, True, False, True, True, True],
        "months": [2, 4, 0, 6, 8, 10],
        "cost": [1.0, 3.0, 0.0, 5.0, 5.0, 8.0],
        "mechanism": ["score", "score", "policy", "score", "monitoring", "score"],
    }, index=pd.Index([11, 12, 13, 21, 22, 23], name="user_id"))
    groups = pd.Series(["A", "A", "A", "B", "B", "B", "A"], index=[11, 12, 13, 21, 22, 23, 99])
    table, metrics = recourse_burden(plans, groups, "A")
    overall = table[table["mechanism"] == "all"].set_index("group")
    # months and cost are over found plans only; the found rate is over every refused user
    assert overall.loc["A", "found_rate"] == pytest.approx(2 / 3)
    assert overall.loc["A", "mean_months"] == 3 and overall.loc["B", "mean_months"] == 8
    assert metrics == pytest.approx({"recourse_found_gap": 1 / 3, "recourse_months_gap": 5.0,
                                     "recourse_cost_gap": 4.0})
    score = table[table["mechanism"] == "score"].set_index("group")
    assert score.loc["B", "refused"] == 2 and score.loc["B", "median_months"] == 8
    with pytest.raises(ValueError, match="1 planned users have no group, e.g. user 13"):
        recourse_burden(plans, groups.drop(13), "A")


def test_protected_codes_read_as_whole_numbers_and_missing():
    from toolkit.audit.api import protected_groups

    codes = pd.Series([1.0, 2.0, np.nan, 2.0])  # SEX from a CSV with a gap: floats
    assert list(protected_groups(codes)) == ["1", "2", "missing", "2"]
    assert list(protected_groups(pd.Series(["F", None, "M"]))) == ["F", "missing", "M"]


def test_a_decision_rule_that_refuses_nobody_is_audited_at_its_score_gate():
    rng = np.random.default_rng(2)
    n = 600
    group = np.where(rng.random(n) < 0.5, "B", "A")
    score = rng.normal(-2.6, 0.9, n)
    stressed = np.zeros(n, dtype=bool)
    features = pd.DataFrame({"inq_cnt_1m": np.zeros(n), "balance_drop_1m": np.zeros(n)})
    decisions = LimitPolicy(PolicyConfig(normal_cutoff=0.999)).decide(
        sigmoid(score), stressed, features)
    assert not decisions["zero"].any()
    res = fairness_audit(group, decisions, drivers_frame(score, stressed, features),
                         pd_=sigmoid(score), y=np.zeros(n, dtype=int), attribute=PROTECTED,
                         mechanisms=("score",))
    assert list(res.gates["mechanism"]) == ["score", "score"]
    assert (res.gates["refused"] == 0).all() and res.flagged == ()


def test_a_protected_column_of_many_groups_is_audited_and_drawn():
    """30 states: every group is audited; the figure draws the reference and the largest."""
    from matplotlib.text import Text

    from toolkit.audit.figures import MAX_GROUPS_DRAWN, gates_figure

    rng = np.random.default_rng(3)
    n = 6000
    states = np.array([f"S{k:02d}" for k in range(30)])
    group = states[np.minimum(rng.geometric(0.12, n) - 1, 29)]
    score = rng.normal(-2.6, 0.9, n)
    stressed = np.zeros(n, dtype=bool)
    features = pd.DataFrame({"inq_cnt_1m": np.zeros(n), "balance_drop_1m": np.zeros(n)})
    decisions = LimitPolicy(PolicyConfig()).decide(sigmoid(score), stressed, features)
    res = fairness_audit(group, decisions, drivers_frame(score, stressed, features),
                         pd_=sigmoid(score), y=np.zeros(n, dtype=int), attribute="state")
    assert set(res.gates["state"]) == set(group)
    fig = gates_figure(res.gates, "state", res.reference)
    labels = [t.get_text() for t in fig.axes[0].get_legend().findobj(Text)]
    drawn = {t.split(":")[0] for t in labels if ": observed" in t}
    assert res.reference in drawn and len(drawn) == MAX_GROUPS_DRAWN


def test_a_tiny_group_sets_no_gap_metric_nor_the_headline():
    """14 rows of group C, all refused: listed with their rates, but the gaps between
    groups are those of the groups of 30 rows and more."""
    rng = np.random.default_rng(4)
    n = 4000
    group = np.where(rng.random(n) < 0.5, "B", "A")
    score = rng.normal(-2.6, 0.9, n)
    group[:14], score[:14] = "C", 2.0
    stressed = np.zeros(n, dtype=bool)
    features = pd.DataFrame({"inq_cnt_1m": np.zeros(n), "balance_drop_1m": np.zeros(n)})
    decisions = LimitPolicy(PolicyConfig()).decide(sigmoid(score), stressed, features)
    y = (rng.random(n) < sigmoid(score)).astype(int)
    res = fairness_audit(group, decisions, drivers_frame(score, stressed, features),
                         pd_=sigmoid(score), y=y, attribute=PROTECTED)
    assert res.groups.loc["C", "zero_rate"] == 1.0 and "C" in set(res.gates[PROTECTED])
    ab = res.groups.loc[["A", "B"], "zero_rate"]
    assert res.metrics["audit_fairness_zero_rate_difference"] == pytest.approx(
        ab.max() - ab.min())
    overall = res.decomposition[res.decomposition["part"] == "overall"]
    other = ({"A", "B"} - {res.reference}).pop()
    assert res.metrics["audit_fairness_gap"] == pytest.approx(
        overall.loc[overall[PROTECTED] == other, "gap"].iloc[0])
    assert abs(res.metrics["audit_fairness_gap"]) < 0.1
    gate = res.gates[(res.gates["mechanism"] == "score") & res.gates[PROTECTED].isin(["A", "B"])]
    assert res.metrics["audit_fairness_selection_rate_ratio_score"] == pytest.approx(
        gate["pass_rate"].min() / gate["pass_rate"].max())
