"""Every experiment file runs end to end (``toolkit run``) on a small world."""

from __future__ import annotations

import pytest
from conftest import EXPERIMENT_ORDER
from mlflow.tracking import MlflowClient


@pytest.mark.parametrize("stem", EXPERIMENT_ORDER)
def test_every_file_states_its_question_in_english_and_chinese(stem):
    from pathlib import Path

    from toolkit.config import research_question

    q = research_question(Path(__file__).parents[1] / "experiments" / f"{stem}.toml")
    assert set(q) == {"en", "zh"}
    assert q["en"].endswith("?") and q["en"][0].isupper() and "#" not in q["en"]
    # wrapped comment lines join without a space in Chinese
    assert q["zh"].endswith("？") and "#" not in q["zh"] and "  " not in q["zh"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in q["zh"])


@pytest.mark.parametrize("stem", EXPERIMENT_ORDER)
def test_experiment_runs(e2e, stem):
    res = e2e["results"][stem]
    assert res.exit_code == 0, res.output
    assert "HTML report:" in res.output
    assert "toolkit ui" in res.output
    reports = list((e2e["root"] / "outputs").glob(f"{stem}-*/explanations/report.html"))
    assert len(reports) == 1
    assert "<table" in reports[0].read_text(encoding="utf-8")


def test_stage_lines_give_each_stage_its_own_time(e2e):
    """Stages nest (recourse and the audit inside the explanation, that inside training):
    an outer stage's line gives its own time and names what ran inside it."""
    import re

    out = e2e["results"]["baseline"].output
    lines = {m.group(1): m for m in re.finditer(
        r"^(\w+): done in ([\d.]+) s(?: \(([\d.]+) s with (.+), which ran inside it\))?$",
        out, re.M)}
    assert set(lines) >= {"generate", "features", "train", "explain", "recourse", "audit",
                          "report"}
    assert lines["explain"].group(4) == "recourse and audit"
    assert lines["train"].group(4) == "explain"
    assert lines["recourse"].group(3) is None
    own = float(lines["explain"].group(2))
    whole = float(lines["explain"].group(3))
    inner = float(lines["recourse"].group(2)) + float(lines["audit"].group(2))
    assert abs(whole - own - inner) <= 0.2  # each figure is rounded to 0.1 s


def test_parent_runs_hold_their_stages(e2e):
    client = MlflowClient(e2e["store"])
    exp = client.get_experiment_by_name("zero-limit")
    runs = client.search_runs([exp.experiment_id], max_results=500)
    by_name = {}
    for r in runs:
        by_name.setdefault(r.info.run_name, []).append(r)
    for stem in EXPERIMENT_ORDER:
        parent = by_name[stem][0]
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["toolkit.model_family"] == "pipeline"
        kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        families = {r.data.tags.get("toolkit.model_family") for r in kids}
        assert families, stem
        if stem != "tuned":
            assert {"xgboost", "scorecard"} <= families, (stem, families)
        assert "test_auc" in parent.data.metrics
        for stage in ("generate", "features", "train", "audit", "explain", "recourse",
                      "report"):
            assert f"stage_{stage}_seconds" in parent.data.metrics
        assert parent.data.metrics["audit_drift_months"] > 0
    base = by_name["baseline"][0].data.metrics
    for name in ("explain_decision_agreement", "explain_mechanism_accuracy",
                 "explain_top1_group_accuracy", "explain_top3_group_recall",
                 "explain_group_rank_corr", "explain_additivity_max_error",
                 "explain_top1_group_accuracy_interventional",
                 "explain_top1_group_accuracy_scorecard"):
        assert name in base, name
    assert base["explain_additivity_max_error"] <= 1e-4
    for name in ("audit_fairness_selection_rate_ratio", "audit_fairness_flagged",
                 "audit_fairness_truth_agreement", "audit_stability_top1_agreement_seed",
                 "audit_stability_notice_changed_bootstrap", "audit_stability_top1_chance",
                 "audit_drift_precision_baseline", "audit_drift_recall"):
        assert name in base, name
    # the default world's platform treats the groups alike, and the audit says so
    assert base["audit_fairness_flagged"] == 0 and base["audit_fairness_truth_agreement"] == 1
    # the audit follows recourse and weighs its plans by group
    assert {"audit_fairness_recourse_found_gap", "audit_fairness_recourse_months_gap",
            "audit_fairness_recourse_cost_gap"} <= set(base)
    # an own table that names a protected column (age, in quantile bands) gets the fairness
    # and drift audits without the truth checks, and no recourse burden (no plans)
    own = by_name["own_table"][0].data.metrics
    assert "audit_fairness_selection_rate_ratio" in own
    assert not any(k.startswith(("audit_fairness_truth", "audit_fairness_recourse"))
                   for k in own)
    assert own["audit_drift_months"] > 1 and "audit_drift_precision" not in own
    report = next((e2e["root"] / "outputs").glob("baseline-*/explanations/report.html"))
    assert 'id="section-audit"' in report.read_text(encoding="utf-8")
    for name in ("recourse_found_rate", "recourse_true_validity", "recourse_median_months",
                 "recourse_mean_cost", "recourse_tightening_robust_rate",
                 "recourse_found_rate_score", "recourse_true_validity_score"):
        assert name in base, name
    own = by_name["own_table"][0]
    assert own.data.tags["toolkit.recourse"].startswith("skipped: an own table has no "
                                                        "monthly history")
    assert not any(k.startswith("recourse_") for k in own.data.metrics)


def test_the_report_carries_the_recourse_section_and_own_tables_say_why_not(e2e):
    from typer.testing import CliRunner

    from toolkit.cli import app

    outputs = e2e["root"] / "outputs"
    report = next(outputs.glob("baseline-*/explanations/report.html")).read_text("utf-8")
    # the recourse section joins the report after the summary, and example users show
    # their plan under their reasons
    assert report.index('id="summary"') < report.index('id="section-recourse"') < \
        report.index('id="mechanism-score"')
    assert "What would restore the limit" in report and "<p>Plan: " in report
    assert next(outputs.glob("baseline-*/recourse/plans.parquet")).is_file()
    assert "plan (score)" in e2e["results"]["baseline"].output
    assert "recourse skipped: an own table" in e2e["results"]["own_table"].output
    client = MlflowClient(e2e["store"])
    exp = client.get_experiment_by_name("zero-limit")
    own = client.search_runs([exp.experiment_id], "attributes.run_name = 'own_table'")[0]
    res = CliRunner().invoke(app, ["recourse", own.info.run_id, "--tracking-uri", e2e["store"]])
    assert res.exit_code == 2, res.output
    assert "recourse needs the monthly history of a synthetic world; an own table has none" \
        in res.output


def test_toolkit_audit_weighs_the_plans_the_run_logged(e2e):
    """``toolkit audit`` on a finished run reads the plans its recourse stage logged, so the
    recourse burden by group is the one the run's own audit stage reported."""
    from typer.testing import CliRunner

    from toolkit.cli import app

    client = MlflowClient(e2e["store"])
    exp = client.get_experiment_by_name("zero-limit")
    parent = client.search_runs([exp.experiment_id], "attributes.run_name = 'baseline'")[0]
    res = CliRunner().invoke(app, ["audit", parent.info.run_id, "--retrains", "0",
                                   "--tracking-uri", e2e["store"]])
    assert res.exit_code == 0, res.output
    assert "Recourse burden (protected_group)" in res.output
    child = client.search_runs([exp.experiment_id], "tags.`toolkit.run_kind` = 'audit'")[0]
    for key in ("audit_fairness_recourse_months_gap", "audit_fairness_recourse_cost_gap"):
        assert child.data.metrics[key] == pytest.approx(parent.data.metrics[key]), key


@pytest.mark.parametrize("stem", ["baseline", "own_table"])
def test_a_whole_run_reproduces(e2e, stem):
    """The model run of a ``toolkit run`` also holds the explanation, recourse and audit
    metrics of the later stages; reproducing re-fits the model and compares what training
    logged."""
    from typer.testing import CliRunner

    from toolkit.cli import app

    client = MlflowClient(e2e["store"])
    exp = client.get_experiment_by_name("zero-limit")
    (parent,) = client.search_runs([exp.experiment_id], f"attributes.run_name = '{stem}'")
    (model,) = client.search_runs(
        [exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}' and "
        "tags.`toolkit.model_family` = 'xgboost'")
    assert any(k.startswith("audit_") for k in model.data.metrics)
    res = CliRunner().invoke(app, ["reproduce", model.info.run_id, "--tracking-uri",
                                   e2e["store"]])
    assert res.exit_code == 0, res.output
    assert "metrics identical:     yes" in res.output
    assert "model bytes identical: yes" in res.output


def test_no_tightening_removes_policy_refusals(e2e):
    client = MlflowClient(e2e["store"])
    exp = client.get_experiment_by_name("zero-limit")

    def metrics(name):
        run = client.search_runs([exp.experiment_id],
                                 f"attributes.run_name = '{name}'")[0]
        return run.data.metrics

    base, loose = metrics("baseline-xgboost"), metrics("no_tightening-xgboost")
    assert loose["test_n_policy"] == 0
    assert base["test_n_policy"] > 0
    assert loose["test_zero_limit_rate"] < base["test_zero_limit_rate"]
    assert loose["test_auc"] == base["test_auc"]  # same world, same model


def test_failed_stage_marks_the_parent_failed(small_world, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import toolkit.workflows.pipeline as pipeline
    from toolkit.cli import app

    def boom(*args, **kwargs):
        raise RuntimeError("explain stage exploded")

    monkeypatch.setattr(pipeline, "explain_stage", boom)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path, _, _ = small_world
    res = CliRunner().invoke(app, ["run", "experiments/baseline.toml", "--tracking-uri", store,
                                   "--data", str(path), "--outputs", str(tmp_path / "out"),
                                   "--set", "model.n_estimators=40"])
    assert res.exit_code == 1
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("zero-limit").experiment_id])
    parent = [r for r in runs if r.info.run_name == "baseline"][0]
    assert parent.info.status == "FAILED"
    assert parent.data.tags["toolkit.failed_stage"] == "explain"
    assert "stage_train_seconds" not in parent.data.metrics  # logged only on success
    assert not list((tmp_path / "out").glob("*/explanations/report.html"))


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["split.valid_end=\"2030-01\""], "split 'test' is empty"),
        (["policy.rules=[{name=\"x\", feature=\"inq_cnt_1mm\", threshold=4}]"],
         "monitoring rule 'x' refers to unknown feature 'inq_cnt_1mm'"),
        (["split.gap_months=30"],
         "split.gap_months=30 leaves the test split no labelled month: it would start at "
         "2028-03, but labels are complete only for observation months up to 2027-12 "
         "(world.performance_months=12); allowed: 0..27"),
        # --data of an existing world runs on that world, so the size is checked on a world
        # still to be generated
        (["world.n_users=400", "world.name=\"fresh\""],
         "world.n_users=400 is too small to fill the three splits: about 44 labelled rows "
         "expected in 'valid', each split needs at least 50; allowed: world.n_users >= 457"),
        (["world.stress_episodes=[{start=\"2028-11\", months=3, severity=1.0}]"],
         "world.stress_episodes: the episode starting 2028-11 for 3 months lies outside the "
         "calendar 2021-01..2028-12; allowed: episodes from 2021-01 that end by 2028-12"),
    ],
)
def test_bad_input_to_run_writes_nothing(small_world, tmp_path, sets, message):
    from typer.testing import CliRunner

    from toolkit.cli import app

    path, _, _ = small_world
    fresh = any(s.startswith("world.name=") for s in sets)
    args = ["run", "experiments/baseline.toml", "--tracking-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}", "--data",
            str(tmp_path / "fresh" if fresh else path), "--outputs", str(tmp_path / "out")]
    for s in sets:
        args += ["--set", s]
    res = CliRunner().invoke(app, args)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert res.exit_code == 2, res.output
    assert message in res.output
    # the progress display aside, the refusal is one line that names the setting
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []
