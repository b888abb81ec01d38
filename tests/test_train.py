"""Training pipeline: metric names and tags, reproduce, monotonicity, scorecard baseline,
and bad input (own tables: tests/test_own_table.py)."""

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
        "scorecard/scorecard.json", "scorecard/binning.csv", "scorecard/points.csv"}


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
    users = pd.read_parquet(copy / "users/part-00000.parquet")
    users.loc[0, "income"] += 1
    users.to_parquet(copy / "users/part-00000.parquet", index=False)
    with pytest.raises(DataError, match="users/part-00000.parquet does not match its manifest "
                                        "hash"):
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


def test_scorecard_points_follow_every_registry_direction(trained):
    """More risk as a feature grows (+1) means fewer points in every higher bin, and the
    reverse for -1: in the binning table and along a sweep of each feature's values."""
    _, t = trained
    card, table = t.scorecard, t.table
    directions = {f: d for f, d in zip(table.feature_names, table.monotone, strict=True) if d}
    assert len(directions) >= 40
    pts = card.table()
    rows = table.X.sample(50, random_state=0)
    for name, d in directions.items():
        regular = pts[(pts["feature"] == name) & ~pts["bin"].isin(["Missing", "Special"])]
        assert (np.diff(regular["points"].to_numpy()) * d <= 1e-9).all(), (name, d)
        grid = np.unique(np.quantile(table.X[name], np.linspace(0, 1, 25)))
        sweep = pd.concat([rows] * len(grid), ignore_index=True)
        sweep[name] = np.repeat(grid, len(rows))
        p = card.points(sweep)[name].to_numpy().reshape(len(grid), len(rows))
        assert (np.diff(p, axis=0) * d <= 1e-9).all(), (name, d)
