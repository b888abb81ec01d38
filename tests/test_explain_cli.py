"""``toolkit explain RUN_ID`` through the CLI: per-user reports, the logged split, errors."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import build_config
from toolkit.workflows.train import train_experiment

runner = CliRunner()


@pytest.fixture(scope="module")
def logged(small_world, tmp_path_factory):
    path, _, _ = small_world
    store = f"sqlite:///{tmp_path_factory.mktemp('explain-cli') / 'mlflow.db'}"
    cfg = build_config({"model": {"n_estimators": 60}})
    trained = train_experiment(cfg, stem="cli", data=path, uri=store)
    zero = trained.decisions.loc[trained.table.mask("test") & trained.decisions["zero"]]
    users = {m: int(zero.index[zero["mechanism"] == m][0]) for m in ("score", "monitoring")}
    return store, trained, users


def _explain(store, *args):
    return runner.invoke(app, ["explain", *args, "--tracking-uri", store])


def test_user_reports_keep_their_tags_in_english_and_chinese(logged, tmp_path):
    store, trained, users = logged
    run_id = trained.run_ids["xgboost"]
    res = _explain(store, run_id, "--user", str(users["monitoring"]), "--top", "3")
    assert res.exit_code == 0, res.output
    assert f"User {users['monitoring']}: zero limit (mechanism: real-time monitoring, rule: " \
        in res.output
    assert "1. [rule," in res.output  # rich must not swallow the bracketed tag
    # output that is not a terminal gets a line per stage and never a bar
    assert "explain: done in " in res.output and "━" not in res.output
    html = tmp_path / "users.html"
    zh = _explain(store, run_id, "--user", str(users["score"]), "--user",
                  str(users["monitoring"]), "--lang", "zh", "--quiet", "--html", str(html))
    assert zh.exit_code == 0, zh.output
    assert zh.output.startswith(f"用户 {users['score']}：零额度（机制：评分）")
    assert f"用户 {users['monitoring']}：零额度（机制：实时监控，规则：" in zh.output
    assert "explain: done" not in zh.output  # --quiet
    for english in ("monitoring", "liquidity_drain", "inquiry_burst", "approved users"):
        assert english not in zh.output
    page = html.read_text(encoding="utf-8")
    # a report on the two users only: their waterfalls, no population views
    assert page.count("<img ") == 2 and 'id="quality"' not in page
    assert "用户 {}".format(users["score"]) in page


def test_without_users_the_test_split_is_explained_and_logged(logged, tmp_path):
    store, trained, _ = logged
    run_id = trained.run_ids["xgboost"]
    html = tmp_path / "report.html"
    res = _explain(store, run_id, "--outputs", str(tmp_path / "out"), "--html", str(html))
    assert res.exit_code == 0, res.output
    assert html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    client = MlflowClient(store)
    # the finished training run is left as it was; the explanation is a child run of it
    assert not any(k.startswith("explain_") for k in client.get_run(run_id).data.metrics)
    assert client.get_run(run_id).data.tags.get("mlflow.parentRunId") is None
    children = client.search_runs(
        [client.get_run(run_id).info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{run_id}'")
    assert len(children) == 1
    child = children[0]
    assert child.info.status == "FINISHED"
    assert child.data.tags["toolkit.model_family"] == "explain"
    assert child.data.tags["toolkit.explains_run"] == run_id
    metrics = child.data.metrics
    for name in ("explain_top1_group_accuracy", "explain_top1_group_accuracy_interventional",
                 "explain_top1_group_accuracy_scorecard", "explain_mechanism_accuracy"):
        assert name in metrics
    arts = {a.path for a in client.list_artifacts(child.info.run_id, "explanations")}
    assert {"explanations/reasons.parquet", "explanations/report.html"} <= arts
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_chinese_goes_to_a_new_child_run_beside_english_and_the_model_run_is_untouched(
        logged, tmp_path):
    store, trained, _ = logged
    run_id = trained.run_ids["xgboost"]
    client = MlflowClient(store)

    def snapshot():
        run = client.get_run(run_id)
        files = sorted(a.path for a in client.list_artifacts(run_id))
        return run.info.end_time, run.info.status, run.data.metrics, run.data.tags, files

    before = snapshot()
    res = _explain(store, run_id, "--lang", "zh", "--outputs", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    assert snapshot() == before  # no artifact, metric, tag or end time of it changed
    assert "解释质量" in res.output and "中文报告：" in res.output
    child = client.search_runs([client.get_run(run_id).info.experiment_id],
                               f"tags.`mlflow.parentRunId` = '{run_id}'",
                               order_by=["attributes.start_time DESC"])[0]
    arts = {a.path for a in client.list_artifacts(child.info.run_id, "explanations/zh")}
    assert {"explanations/zh/report.html", "explanations/zh/reasons.parquet"} <= arts
    local = tmp_path / "out" / f"explain-{run_id[:8]}" / "explanations"
    assert (local / "report.html").is_file() and (local / "zh" / "report.html").is_file()
    assert 'lang="en"' in (local / "report.html").read_text(encoding="utf-8")
    assert 'lang="zh-CN"' in (local / "zh" / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown run id 'nope'"),
        (["{run}", "--user", "99999999"], "user id 99999999 is not in the data"),
        (["{run}", "--top", "0"], "top_k must be a whole number in 1..10, got 0"),
        (["{run}", "--top", "11"], "top_k must be a whole number in 1..10, got 11"),
        (["{run}", "--lang", "fr"], "fr"),
        (["{run}", "--mode", "foo"], "unknown --mode 'foo'; allowed: path, interventional"),
        (["{scorecard}"], "has no model"),
    ],
)
def test_bad_input_exits_2(logged, args, message):
    store, trained, _ = logged
    args = [a.format(run=trained.run_ids["xgboost"], scorecard=trained.run_ids["scorecard"])
            for a in args]
    res = _explain(store, *args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_tracking_uri_mistakes_are_named(logged, tmp_path):
    _, trained, _ = logged
    run_id = trained.run_ids["xgboost"]
    res = runner.invoke(app, ["explain", run_id, "--tracking-uri", "mlflow.db"])
    assert res.exit_code == 2
    assert "tracking URI 'mlflow.db' is not supported; use sqlite:///path/to/mlflow.db" in \
        res.output
    missing = tmp_path / "nowhere" / "m.db"
    res = runner.invoke(app, ["explain", run_id, "--tracking-uri", f"sqlite:///{missing}"])
    assert res.exit_code == 2
    assert f"no tracking store at '{missing}'" in res.output
    assert not missing.parent.exists()


def test_stage_lines_survive_a_stage_that_raised_repeats_and_unknown_names(monkeypatch):
    """An inner stage that raised never finishes: it ends with its outer stage; a stage run
    twice inside one adds up; finishing a stage never started prints nothing."""
    import io

    from rich.console import Console

    import toolkit.cli.common as common

    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, width=200))
    lines = common._Lines()
    lines.start("train")
    for _ in range(2):
        lines.start("audit")
        lines.finish("audit")
    lines.start("explain")  # raised: never finished
    lines.finish("nope")
    lines.finish("train")
    printed = out.getvalue().splitlines()
    assert [p.split(":")[0] for p in printed] == ["audit", "audit", "train"]
    assert printed[-1].endswith("s with audit, which ran inside it)"), printed[-1]
    assert lines.open == []
