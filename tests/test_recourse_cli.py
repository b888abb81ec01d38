"""``toolkit recourse RUN_ID`` and the plan under ``toolkit explain --user``, through the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import build_config
from toolkit.recourse import METRIC_NAMES
from toolkit.workflows.train import train_experiment

runner = CliRunner()


@pytest.fixture(scope="module")
def logged(small_world, tmp_path_factory):
    path, _, _ = small_world
    store = f"sqlite:///{tmp_path_factory.mktemp('recourse-cli') / 'mlflow.db'}"
    cfg = build_config({"model": {"n_estimators": 60}, "recourse": {"horizon": 6}})
    trained = train_experiment(cfg, stem="cli", data=path, uri=store)
    d = trained.decisions
    zero = d.loc[trained.table.mask("test") & d["zero"]]
    users = {m: int(zero.index[zero["mechanism"] == m][0]) for m in ("score", "policy")}
    users["approved"] = int(d.index[~d["zero"]][0])
    return store, trained, users


def _recourse(store, *args):
    return runner.invoke(app, ["recourse", *args, "--tracking-uri", store])


def _runs(store):
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("zero-limit")
    return client.search_runs([exp.experiment_id], max_results=500)


def test_a_users_plan_in_english_and_chinese(logged):
    store, trained, users = logged
    run_id = trained.run_ids["xgboost"]
    before = len(_runs(store))
    res = _recourse(store, run_id, "--user", str(users["score"]))
    assert res.exit_code == 0, res.output
    assert f"User {users['score']}: zero limit (score), risk" in res.output
    assert "your limit would be restored by" in res.output or "No plan within 6 months" in \
        res.output
    assert "model PD" in res.output and "true PD" in res.output
    zh = _recourse(store, run_id, "--user", str(users["policy"]), "--lang", "zh")
    assert zh.exit_code == 0, zh.output
    assert f"用户 {users['policy']}：零额度（策略收紧）" in zh.output
    assert "您的违约概率" in zh.output
    assert len(_runs(store)) == before  # --user logs nothing


def test_the_test_split_is_planned_into_a_child_run(logged, tmp_path):
    store, trained, _ = logged
    run_id = trained.run_ids["xgboost"]
    html = tmp_path / "recourse.html"
    res = _recourse(store, run_id, "--outputs", str(tmp_path / "out"), "--html", str(html))
    assert res.exit_code == 0, res.output
    assert "recourse_found_rate" in res.output
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    client = MlflowClient(store)
    assert not any(k.startswith("recourse_") for k in client.get_run(run_id).data.metrics)
    kids = [r for r in _runs(store) if r.data.tags.get("mlflow.parentRunId") == run_id
            and r.data.tags.get("toolkit.model_family") == "recourse"]
    assert len(kids) == 1
    child = kids[0]
    assert child.info.status == "FINISHED"
    assert child.info.run_name == "cli-xgboost-recourse"
    assert child.data.params["recourse.horizon"] == "6"
    metrics = child.data.metrics
    plans = pd.read_parquet(tmp_path / "out" / f"recourse-{run_id[:8]}" / "recourse"
                            / "plans.parquet")
    for name in METRIC_NAMES:
        assert name in metrics
        for mech in set(plans["mechanism"]):
            if plans.loc[plans["mechanism"] == mech, "found"].any():
                assert f"{name}_{mech}" in metrics
    assert metrics["recourse_users"] == len(plans)
    arts = {a.path for a in client.list_artifacts(child.info.run_id, "recourse")}
    assert {"recourse/plans.parquet", "recourse/paths.parquet", "recourse/report.html"} <= arts
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_explain_shows_the_plan_under_the_reasons(logged):
    store, trained, users = logged
    res = runner.invoke(app, ["explain", trained.run_ids["xgboost"], "--user",
                              str(users["score"]), "--user", str(users["approved"]),
                              "--tracking-uri", store])
    assert res.exit_code == 0, res.output
    report = res.output.split(f"User {users['approved']}:")[0]
    assert report.index("Reasons:") < report.index("  Plan: ")
    assert res.output.count("  Plan: ") == 1  # an approved user has no plan
    zh = runner.invoke(app, ["explain", trained.run_ids["xgboost"], "--user",
                             str(users["policy"]), "--lang", "zh", "--tracking-uri", store])
    assert zh.exit_code == 0, zh.output
    assert "  改善建议：您的违约概率" in zh.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown run id 'nope'"),
        (["{run}", "--user", "99999999"], "user id 99999999 is not in the data"),
        (["{run}", "--user", "{approved}"], "user {approved} is not zero-limit (approved with "
                                            "a limit of CNY"),
        (["{run}", "--horizon", "0"], "horizon must be a whole number of months in 1..36, "
                                      "got 0"),
        (["{run}", "--horizon", "-2"], "horizon must be a whole number of months in 1..36, "
                                       "got -2"),
        (["{run}", "--lang", "fr"], "unknown language 'fr'; allowed: en, zh"),
        (["{scorecard}"], "has no model"),
    ],
)
def test_bad_input_exits_2_and_logs_nothing(logged, args, message, tmp_path):
    store, trained, users = logged
    fill = dict(run=trained.run_ids["xgboost"], scorecard=trained.run_ids["scorecard"],
                approved=users["approved"])
    args = [a.format(**fill) for a in args]
    before = len(_runs(store))
    res = _recourse(store, *args, "--outputs", str(tmp_path / "out"))
    assert res.exit_code == 2, res.output
    assert message.format(**fill) in res.output
    assert len([line for line in res.output.splitlines() if line.strip()]) == 1
    assert "Traceback" not in res.output
    assert len(_runs(store)) == before
    assert not (tmp_path / "out").exists()
