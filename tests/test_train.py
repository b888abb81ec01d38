"""Training pipeline: metric names and tags, reproduce, monotonicity, scorecard baseline,
own tables, and bad input."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import build_config
from toolkit.data.dataset import load_dataset
from toolkit.data.table import from_table
from toolkit.errors import DataError, InputError
from toolkit.models.train import monotonicity_violations
from toolkit.workflows.reload import reproduce
from toolkit.workflows.train import train_experiment

runner = CliRunner()
SMALL_MODEL = {"n_estimators": 150, "learning_rate": 0.1}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def trained(small_world, store):
    path, _, _ = small_world
    cfg = build_config({"world": {"n_users": 4000, "block_size": 1000}, "model": SMALL_MODEL})
    return cfg, train_experiment(cfg, stem="unit", data=path, uri=store)


def test_runs_carry_metric_names_params_and_tags(trained, store):
    cfg, t = trained
    client = MlflowClient(store)
    for family in ("xgboost", "scorecard"):
        run = client.get_run(t.run_ids[family])
        assert run.info.run_name == f"unit-{family}"
        assert run.info.status == "FINISHED"
        m = run.data.metrics
        for split in ("train", "valid", "test"):
            for metric in ("auc", "gini", "ks", "brier", "logloss", "ece", "psi", "oracle_auc",
                           "auc_oracle_ratio", "zero_limit_rate", "decision_agreement",
                           "mechanism_agreement", "n_score", "n_policy", "n_monitoring"):
                assert f"{split}_{metric}" in m, f"{split}_{metric}"
        for regime in ("normal", "stressed"):
            for metric in ("auc", "ks", "brier", "logloss", "ece", "default_rate",
                           "oracle_auc", "auc_oracle_ratio"):
                assert f"test_{metric}_{regime}" in m, f"test_{metric}_{regime}"
            assert f"test_logit_bias_{regime}" in m
        assert m["test_gini"] == pytest.approx(2 * m["test_auc"] - 1)
        assert m["test_auc_oracle_ratio"] == pytest.approx(m["test_auc"] / m["test_oracle_auc"])
        tags = run.data.tags
        assert tags["toolkit.model_family"] == family
        assert tags["toolkit.dataset_hash"] == t.table.dataset_hash
        assert tags["toolkit.config_hash"] == cfg.config_hash()
        assert tags["toolkit.version"] == "0.1.0"
        assert tags["toolkit.git_commit"]
        assert run.data.params["model.max_depth"] == str(cfg.model.max_depth)
        assert run.data.params["world.n_users"] == "4000"
        assert run.inputs.dataset_inputs, "dataset lineage must be logged with log_input"
        arts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config.json", "split_summary.csv", "figures", "environment",
                "dataset"} <= arts
    xgb_arts = {a.path for a in client.list_artifacts(t.run_ids["xgboost"], "figures")}
    assert {"figures/roc_ks.png", "figures/calibration.png",
            "figures/feature_importance.png"} <= xgb_arts
    assert {a.path for a in client.list_artifacts(t.run_ids["scorecard"], "scorecard")} == {
        "scorecard/scorecard.json", "scorecard/points.csv"}


def test_model_is_registered(trained, store):
    cfg, t = trained
    client = MlflowClient(store)
    versions = client.search_model_versions(f"name='{cfg.tracking.model_name}'")
    assert t.model_version in {str(v.version) for v in versions}


def test_reproduce_gives_identical_metrics_and_bytes(trained, store):
    _, t = trained
    for family in ("xgboost", "scorecard"):
        rep = reproduce(t.run_ids[family], uri=store)
        assert rep.identical_metrics, rep.differences
        assert rep.identical_model


def test_monotone_constraints_hold_on_a_grid(trained):
    _, t = trained
    viol = monotonicity_violations(t.scorer, t.table.X, t.table.monotone)
    assert viol, "the model must have constrained features"
    assert sum(viol.values()) == 0, {k: v for k, v in viol.items() if v}


def test_xgboost_beats_the_scorecard_and_approaches_the_oracle(trained):
    _, t = trained
    assert t.metrics["test_auc"] > 0.75
    assert t.metrics["test_auc_oracle_ratio"] > 0.9
    assert t.scorecard_metrics["test_auc"] > 0.7


def test_scorecard_points_sum_to_score(trained):
    _, t = trained
    X = t.table.X.head(50)
    np.testing.assert_allclose(t.scorecard.points(X).sum(axis=1), t.scorecard.score(X),
                               atol=1e-8)
    # higher score means lower PD
    order = np.argsort(t.scorecard.score(X))
    assert np.all(np.diff(t.scorecard.predict_pd(X)[order]) <= 1e-12)


def test_unreachable_tracking_uri_is_a_clear_error(small_world):
    path, _, _ = small_world
    cfg = build_config({"model": SMALL_MODEL})
    with pytest.raises(InputError, match=r"tracking URI 'http://127.0.0.1:9' is unreachable"):
        train_experiment(cfg, stem="x", data=path, uri="http://127.0.0.1:9")


def test_tampered_dataset_is_refused(small_world, tmp_path, store):
    path, _, _ = small_world
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    users = pd.read_parquet(copy / "users.parquet")
    users.loc[0, "income"] += 1
    users.to_parquet(copy / "users.parquet", index=False)
    with pytest.raises(DataError, match="users.parquet does not match its manifest hash"):
        load_dataset(copy)
    res = runner.invoke(app, ["train", "experiments/baseline.toml", "--data", str(copy),
                              "--tracking-uri", store])
    assert res.exit_code == 2
    assert "does not match its manifest hash" in res.output


def test_cli_bad_toml_names_key_and_type(tmp_path, store):
    f = tmp_path / "exp.toml"
    f.write_text("# bad\n[model]\nlearning_rate = \"fast\"\n")
    res = runner.invoke(app, ["train", str(f), "--tracking-uri", store])
    assert res.exit_code == 2
    assert "config key 'model.learning_rate' must be of type float, got 'fast'" in res.output


# -- bring your own table -------------------------------------------------------------------

@pytest.fixture(scope="module")
def exported(small_world, tmp_path_factory):
    path, _, _ = small_world
    out = tmp_path_factory.mktemp("table") / "table.csv"
    res = runner.invoke(app, ["export-table", str(out), "--data", str(path)])
    assert res.exit_code == 0, res.output
    return out


def _own_cfg(table, **schema):
    base = {"target": "default_12m", "categorical": ["segment"], "drop": ["user_id", "month"],
            "split_column": "split", "monotone": {"late_cnt_6m": 1},
            "groups": {"late_cnt_6m": "repayment_history", "segment": "tenure_profile"}}
    base.update(schema)
    return build_config({"data": {"table": str(table), "schema": base}, "model": SMALL_MODEL})


def test_own_table_split_by_month_keeps_the_gap(exported, tmp_path):
    from toolkit.calendar import month_index

    cfg = _own_cfg(exported, split_column=None, month_column="month", drop=["user_id", "split"])
    df = pd.read_csv(exported)
    table = from_table(exported, cfg)
    # the same out-of-time split the synthetic run uses, gap included
    np.testing.assert_array_equal(table.split, df["split"].to_numpy().astype(object))
    months = df["month"].map(lambda m: month_index(m, cfg.world.calendar_start)).to_numpy()
    v_end = month_index(cfg.split.valid_end, cfg.world.calendar_start)
    assert months[table.split == "test"].min() > v_end + cfg.world.performance_months
    assert "month" not in table.feature_names and "split" not in table.feature_names
    wider = _own_cfg(exported, split_column=None, month_column="month",
                     drop=["user_id", "split"])
    wider = wider.model_copy(update={"split": wider.split.model_copy(update={"gap_months": 15})})
    assert (from_table(exported, wider).split == "gap").sum() > (table.split == "gap").sum()
    bad = tmp_path / "bad.csv"
    df.assign(month=df["month"].where(df.index != 3, "March")).to_csv(bad, index=False)
    with pytest.raises(DataError) as err:
        from_table(bad, cfg)
    assert str(err.value) == ("month column 'month' has value 'March'; allowed: months of "
                              "the form YYYY-MM")


def test_own_table_trains_and_logs(exported, store):
    cfg = _own_cfg(exported)
    t = train_experiment(cfg, stem="own", uri=store)
    assert t.metrics["test_auc"] > 0.7
    assert "test_oracle_auc" not in t.metrics
    assert any(c.startswith("segment=") for c in t.table.feature_names)
    assert t.table.groups["segment=student"] == "tenure_profile"
    run = MlflowClient(store).get_run(t.run_ids["xgboost"])
    assert run.data.tags["toolkit.dataset_hash"] == t.table.dataset_hash


def _write(df, tmp_path, name="t.csv"):
    f = tmp_path / name
    df.to_csv(f, index=False)
    return f


@pytest.mark.parametrize(
    ("mutate", "schema", "message"),
    [
        (lambda d: d.drop(columns=["default_12m"]), {},
         "has no target column 'default_12m'"),
        (lambda d: d.assign(default_12m=np.arange(len(d)) % 3), {},
         "target 'default_12m' must be binary"),
        (lambda d: d, {"drop": ["user_id", "nonexistent"]},
         "schema names unknown column 'nonexistent'"),
        (lambda d: d.assign(empty=np.nan), {}, "column 'empty' of table"),
        (lambda d: d.head(400), {}, "each class needs at least 50"),
    ],
)
def test_own_table_validation(exported, tmp_path, mutate, schema, message):
    df = mutate(pd.read_csv(exported))
    f = _write(df, tmp_path)
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        from_table(f, _own_cfg(f, **schema))


def test_own_table_duplicate_columns(exported, tmp_path):
    text = exported.read_text().splitlines()
    header = text[0].split(",")
    header[1] = header[2]
    f = tmp_path / "dup.csv"
    f.write_text("\n".join([",".join(header), *text[1:]]) + "\n")
    with pytest.raises(DataError, match=f"duplicate column names: {header[2]}"):
        from_table(f, _own_cfg(f))


def test_own_table_with_an_empty_split_is_refused(exported, tmp_path):
    df = pd.read_csv(exported)
    df["split"] = df["split"].replace("valid", "train")
    f = _write(df, tmp_path)
    with pytest.raises(InputError, match="split 'valid' is empty in table"):
        from_table(f, _own_cfg(f))


def test_rule_on_a_missing_feature_is_an_error_not_silently_dropped(exported, tmp_path):
    df = pd.read_csv(exported).drop(columns=["inq_cnt_1m"])
    f = _write(df, tmp_path)
    cfg = _own_cfg(f)
    table = from_table(f, cfg)
    from toolkit.models.train import evaluate

    with pytest.raises(InputError, match="monitoring rule 'inquiry_burst' needs feature "
                                         "'inq_cnt_1m', which the data lacks"):
        evaluate(table, np.full(len(table.X), 0.1), cfg.policy)


def test_the_scorecard_sibling_comes_from_the_same_experiment_file(trained, store,
                                                                    small_world):
    from toolkit import tracking

    cfg, t = trained
    path, _, _ = small_world
    # the same config and data under another experiment file, logged later
    other = train_experiment(cfg, stem="unit-other", data=path, uri=store)
    assert tracking.sibling_run(t.run_ids["xgboost"], store, "scorecard") == \
        t.run_ids["scorecard"]
    assert tracking.sibling_run(other.run_ids["xgboost"], store, "scorecard") == \
        other.run_ids["scorecard"]


def test_censored_rows_never_reach_training_or_label_metrics(trained):
    """Censored rows (window not complete by the calendar's end) are scored, but no fit and
    no label-based metric ever sees them: scrambling them changes neither."""
    import dataclasses

    from toolkit.models.train import dmatrices, evaluate, fit_xgboost

    cfg, t = trained
    table = t.table
    censored = ~table.labelled
    assert censored.any() and (table.split[censored] == "test").all()
    assert (table.y[censored] == -1).all()
    dtrain, dvalid = dmatrices(table)
    assert dtrain.num_row() == table.labelled_mask("train").sum()
    assert dvalid.num_row() == table.labelled_mask("valid").sum()
    rng = np.random.default_rng(0)
    X = table.X.copy()
    X.iloc[np.flatnonzero(censored)] = rng.permutation(X.to_numpy()[censored]) * 3.0
    scrambled = dataclasses.replace(table, X=X)
    assert fit_xgboost(scrambled, cfg.model).to_bytes() == t.scorer.to_bytes()
    pd_all = t.scorer.predict_pd(table.X)
    noisy = pd_all.copy()
    noisy[censored] = rng.uniform(0, 1, censored.sum())
    a, _ = evaluate(table, pd_all, cfg.policy)
    b, _ = evaluate(table, noisy, cfg.policy)
    for key in a:
        if any(k in key for k in ("auc", "_ks", "brier", "logloss", "ece", "default_rate",
                                  "labelled_rows")):
            assert a[key] == b[key], key
    assert a["test_labelled_rows"] == (~censored & (table.split == "test")).sum()
    assert a["test_rows"] > a["test_labelled_rows"]


def test_training_reports_every_boosting_round_and_trains_the_same_model(trained):
    from toolkit.models.train import fit_xgboost

    cfg, t = trained
    seen = []
    scorer = fit_xgboost(t.table, cfg.model, progress=lambda done, total: seen.append(
        (done, total)))
    rounds = len(seen) - 1  # one call per round, then one at the end
    assert [d for d, _ in seen[:-1]] == list(range(1, rounds + 1))
    assert {total for _, total in seen[:-1]} == {cfg.model.n_estimators}
    assert seen[-1] == (rounds, rounds) and rounds >= scorer.best_iteration + 1
    assert scorer.to_bytes() == t.scorer.to_bytes()  # watching changes nothing
