"""Tuning: nested MLflow runs, two workers on one study, resume after SIGKILL, the champion
rule, the multi-objective Pareto output, and every bad input with its exact message.

Small world (4,000 users), 60 trees, one thread per model, a handful of trials per study.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid

import numpy as np
import optuna
import pandas as pd
import pytest
from held import launch
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState
from typer.testing import CliRunner

from toolkit import tracking
from toolkit.cli import app
from toolkit.config import build_config
from toolkit.config.tune import OBJECTIVES
from toolkit.errors import ConfigError
from toolkit.safety import redact
from toolkit.source import prepare_table
from toolkit.tune import pick_pareto, top1_stability
from toolkit.tune.study import derived_seed
from toolkit.workflows.champion import champion_alias, champion_decision
from toolkit.workflows.train import train_experiment
from toolkit.workflows.tune import tune_experiment

runner = CliRunner()
WORLD = {"n_users": 4000, "block_size": 1000}
MODEL = {"n_estimators": 60, "learning_rate": 0.1, "nthread": 1}
SPACE = {"max_depth": {"low": 2, "high": 5},
         "learning_rate": {"low": 0.05, "high": 0.3, "log": True},
         "min_child_weight": {"low": 1.0, "high": 20.0, "log": True}}
STORAGE_HELP = ("allowed: a database URL Optuna accepts, e.g. sqlite:///path/to/optuna.db or "
                "postgresql://user@host/db with the password in PGPASSWORD")

EXP_TOML = """# tuning test experiment
[world]
n_users = 4000
block_size = 1000

[model]
n_estimators = 60
learning_rate = 0.1
nthread = 1

[tune]
trials = {trials}

[tune.space]
max_depth = {{ low = {depth_low}, high = 5 }}
learning_rate = {{ low = 0.05, high = 0.3, log = true }}
min_child_weight = {{ low = 1.0, high = 20.0, log = true }}
"""


def config(**tune):
    return build_config({"world": WORLD, "model": MODEL,
                         "tune": {"space": SPACE, **tune}})


def write_exp(folder, stem, *, trials=4, depth_low=2):
    path = folder / f"{stem}.toml"
    path.write_text(EXP_TOML.format(trials=trials, depth_low=depth_low))
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('tune-mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def prepared(small_world):
    path, _, _ = small_world
    return prepare_table(config(), path)


@pytest.fixture(scope="module")
def tuned(small_world, store, prepared):
    path, _, _ = small_world
    result = tune_experiment(config(trials=8), stem="nested", data=path, uri=store,
                             prepared=prepared, resume=False)
    return result


def load(storage, name):
    return optuna.load_study(study_name=name, storage=storage)


def storage_of(store):
    return "sqlite:///" + os.path.join(os.path.dirname(store.removeprefix("sqlite:///")),
                                       "optuna.db")


# -- the nested MLflow structure -----------------------------------------------------------

def test_study_is_a_parent_run_and_every_trial_a_child(tuned, store):
    client = MlflowClient(store)
    study = load(storage_of(store), "nested")
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 8
    parent = client.get_run(tuned.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "nested-tune"
    assert parent.data.tags["toolkit.model_family"] == "xgboost"  # it holds the refit model
    assert parent.data.tags["toolkit.run_kind"] == "tune"
    assert parent.data.tags["toolkit.dataset_hash"] == tuned.table.dataset_hash

    children = tracking.child_runs(tuned.run_id, store)
    assert len(children) == len(study.trials)
    by_number = {int(r["tags.toolkit.trial"]): r for _, r in children.iterrows()}
    for t in study.trials:
        child = client.get_run(by_number[t.number]["run_id"])
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == tuned.run_id
        assert child.info.run_name == f"nested-trial-{t.number}"
        assert child.data.tags["toolkit.trial_state"] == t.state.name.lower()
        assert child.data.tags["toolkit.run_kind"] == "trial"
        assert child.data.tags["toolkit.model_family"] == "tune-trial"
        for name, value in t.params.items():
            assert child.data.params[f"model.{name}"] == str(value)
        assert not any(k.startswith("test_") for k in child.data.metrics)  # test judges refit
        if t.state == TrialState.COMPLETE:
            assert child.data.metrics["val_auc"] == pytest.approx(t.value)
            assert child.data.metrics["valid_auc"] == pytest.approx(t.value)
            assert t.user_attrs["toolkit.mlflow_run_id"] == child.info.run_id


def test_parent_records_best_summary_figures_and_the_refit(tuned, store):
    client = MlflowClient(store)
    parent = client.get_run(tuned.run_id)
    study = load(storage_of(store), "nested")
    m = parent.data.metrics
    assert m["best_val_auc"] == pytest.approx(study.best_value)
    assert tuned.study.best_trial == study.best_trial.number
    # the pick is a tag and an artifact, never a param (a resumed run could not update it)
    assert json.loads(parent.data.tags["toolkit.best_params"]) == study.best_trial.params
    assert parent.data.tags["toolkit.best_trial"] == str(study.best_trial.number)
    assert not any(k.startswith("best.") for k in parent.data.params)
    with open(client.download_artifacts(tuned.run_id, "best_params.json")) as f:
        best = json.load(f)
    assert (best["trial"], best["params"]) == (study.best_trial.number, study.best_trial.params)
    # same data, params and seed: the refit is the best trial's model again
    assert m["valid_auc"] == pytest.approx(study.best_value, abs=1e-12)
    for key in ("test_auc", "test_ks", "explain_top1_group_accuracy", "n_trials_complete"):
        assert key in m
    assert 0.0 <= m["explain_stability_top1"] <= 1.0
    assert m["explain_stability_trials"] == 5
    files = {a.path for a in client.list_artifacts(tuned.run_id)}
    assert {"study", "figures", "best_params.json", "champion.json", "config.json",
            "refit_config.json", "scorer", "explanations"} <= files
    explained = {a.path for a in client.list_artifacts(tuned.run_id, "explanations")}
    assert {"explanations/report.html", "explanations/reasons.parquet"} <= explained
    figures = {a.path for a in client.list_artifacts(tuned.run_id, "figures/optuna")}
    assert figures == {f"figures/optuna/{k}.png" for k in
                       ("optimization_history", "param_importances", "parallel_coordinate")}
    table = pd.read_csv(client.download_artifacts(tuned.run_id, "study/trials.csv"))
    assert sorted(table["number"]) == [t.number for t in study.trials]
    assert "val_auc" in table.columns
    assert tuned.model_version is not None
    assert parent.data.tags["toolkit.champion_decision"] == tuned.study.champion.decision


def test_reproduce_refuses_a_study_run_and_a_trial_run(tuned, store):
    # the study run is tagged model_family=xgboost, but its model is a refit of a trial,
    # not what `toolkit train` would train from its config
    trial_id = tracking.child_runs(tuned.run_id, store).iloc[0]["run_id"]
    for run_id, said in ((tuned.run_id, "is a tuning tune run"), (trial_id, "model_family")):
        res = runner.invoke(app, ["reproduce", run_id, "--tracking-uri", store])
        assert res.exit_code == 2, res.output
        assert f"error: run {run_id!r}" in _err(res) and said in _err(res)


def test_trial_explain_metrics_agree_with_the_explanation_stage(tuned):
    from toolkit.tune.quality import explain_metrics

    # the refit was explained on test by toolkit.explain.explain_table; the trials' path
    # (the configured explainer, group, without fidelity or oracle) must select and score
    # the same rows
    suffix = "_group"
    m = explain_metrics(tuned.scorer, tuned.table, tuned.decisions, "test")
    for name in ("explain_decision_agreement", "explain_mechanism_accuracy",
                 "explain_top1_group_accuracy", "explain_top1_tolerant_accuracy",
                 "explain_top1_clear_accuracy", "explain_top3_group_recall",
                 "explain_group_rank_corr", "explain_group_rows"):
        assert m[name] == pytest.approx(tuned.metrics[name + suffix], nan_ok=True), name
    assert m["explain_group_rows"] > 0
    assert m["explain_additivity_max_error"] <= 1e-4


def test_a_pruned_trial_logs_its_state_and_last_value(prepared, store):
    from toolkit.models.train import dmatrices
    from toolkit.tune.objective import TrialObjective, TrialRuns
    from toolkit.tune.space import resolve_space

    cfg = config()
    table, _ = prepared
    with tracking.start_run(experiment="prune-test", run_name="parent", tags={},
                            uri=store) as parent:
        runs = TrialRuns(uri=store, experiment="prune-test", parent_run_id=parent.run_id,
                         stem="prune", study_name="prune", tags={})
        objective = TrialObjective(table=table, matrices=dmatrices(table), cfg=cfg,
                                   space=resolve_space(cfg.tune.space),
                                   objectives=[OBJECTIVES["val_auc"]], prune=True, nthread=1,
                                   runs=runs)
        # An AUC never reaches 2: this pruner stops the trial after its first round.
        study = optuna.create_study(direction="maximize",
                                    pruner=optuna.pruners.ThresholdPruner(lower=2.0))
        study.optimize(objective, n_trials=1)
    assert study.trials[0].state == TrialState.PRUNED
    child = tracking.child_runs(parent.run_id, store).iloc[0]
    assert child["tags.toolkit.trial_state"] == "pruned"
    assert child["status"] == "FINISHED"
    assert child["metrics.pruned_iteration"] == 0
    assert 0.5 < child["metrics.valid_auc_at_prune"] < 1.0


# -- two workers on one sqlite study -------------------------------------------------------

def test_two_workers_share_one_study_without_repeating_work(small_world, store, prepared,
                                                            tmp_path):
    path, _, _ = small_world
    storage = f"sqlite:///{tmp_path / 'two.db'}"
    result = tune_experiment(config(trials=30, pruner="none"), stem="two", data=path,
                             uri=store, storage=storage, workers=2, prepared=prepared)
    study = load(storage, "two")
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    assert sorted(numbers) == list(range(len(numbers)))
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(params) == len(set(params)), "two workers sampled the same parameters"
    pids = {t.user_attrs["toolkit.worker"]["pid"] for t in study.trials}
    assert len(pids) == 2, "both workers ran trials"
    assert result.study.counts["complete"] >= 30
    assert len({derived_seed(0, s, w) for s in range(3) for w in range(4)}) == 12


# -- resume after SIGKILL ------------------------------------------------------------------

def _kill_mid_trial(args, storage, name, root):
    """Start ``toolkit tune`` as a worker process and SIGKILL it in its third trial, after
    the trial's run has opened and before it trains (the fault-injection point
    ``tune.trial``): two trials are done and one is running, whatever the machine's load."""
    proc = launch(root, "tune.trial#3", *args)
    proc.kill()
    proc.communicate()
    return load(storage, name).get_trials()


def test_resume_after_sigkill_loses_no_trial_and_retries_the_dead_one(small_world, store,
                                                                      tmp_path):
    path, _, _ = small_world
    exp = write_exp(tmp_path, "killed", trials=40)
    storage = f"sqlite:///{tmp_path / 'killed.db'}"
    args = ["tune", str(exp), "--data", str(path), "--tracking-uri", store,
            "--storage", storage]
    before = _kill_mid_trial(args, storage, "killed", tmp_path)
    complete = {t.number: (t.params, t.value) for t in before if t.state == TrialState.COMPLETE}
    stale = next(t for t in before if t.state == TrialState.RUNNING
                 and "toolkit.mlflow_run_id" in t.user_attrs)
    n_done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in before)

    res = runner.invoke(app, [*args, "--resume", "--trials", str(n_done + 2)])
    assert res.exit_code == 0, res.output
    after = load(storage, "killed").get_trials()
    by_number = {t.number: t for t in after}
    for number, (params, value) in complete.items():  # no completed trial lost
        assert by_number[number].state == TrialState.COMPLETE
        assert by_number[number].params == params and by_number[number].value == value
    assert by_number[stale.number].state == TrialState.FAIL
    retries = [t for t in after if t.system_attrs.get("failed_trial") == stale.number]
    assert len(retries) == 1
    assert retries[0].params == stale.params
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in after) \
        == n_done + 2
    assert not any(t.state == TrialState.RUNNING for t in after)
    # the dead trial's MLflow run was ended as killed (its process is gone) and tagged as a
    # failed trial; the study run was reopened and ended
    client = MlflowClient(store)
    dead_run = client.get_run(stale.user_attrs["toolkit.mlflow_run_id"])
    assert dead_run.info.status == "KILLED"
    assert dead_run.data.tags["toolkit.trial_state"] == "fail"
    parent_id = load(storage, "killed").user_attrs["toolkit.parent_run_id"]
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    # the reopened run names the pick of the whole study, not of the killed session
    best = load(storage, "killed").best_trial
    assert json.loads(parent.data.tags["toolkit.best_params"]) == best.params
    assert parent.data.tags["toolkit.best_trial"] == str(best.number)
    assert dead_run.data.tags["mlflow.parentRunId"] == parent_id


# -- the champion rule ---------------------------------------------------------------------

def test_champion_decision_rule():
    same = {"version": "3", "test_auc": 0.80, "dataset_hash": "a" * 64}
    d = champion_decision(test_auc=0.81, dataset_hash="a" * 64, current=same)
    assert (d.promote, d.decision, d.alias) == (True, "promoted", "champion-aaaaaaaa")
    d = champion_decision(test_auc=0.80, dataset_hash="a" * 64, current=same)
    assert (d.promote, d.decision) == (False, "kept")  # a tie keeps the champion
    assert d.message == ("test_auc 0.8000 does not beat champion-aaaaaaaa (version 3, 0.8000) "
                         "on the same dataset; nothing was registered and the alias stays on "
                         "version 3")
    # the alias is per dataset, so a holder on other data means a tampered tag
    d = champion_decision(test_auc=0.99, dataset_hash="a" * 64,
                          current={**same, "dataset_hash": "b" * 64})
    assert (d.promote, d.decision) == (False, "not_compared")
    d = champion_decision(test_auc=0.7, dataset_hash="a" * 64, current=None)
    assert (d.promote, d.decision) == (True, "first")
    d = champion_decision(test_auc=0.7, dataset_hash="a" * 64, current=same, register=False)
    assert (d.promote, d.decision) == (False, "not_registered")
    assert champion_alias("0123456789abcdef") == "champion-01234567"


def test_champion_alias_moves_only_for_a_better_model_on_the_same_data(small_world, store,
                                                                       prepared):
    path, _, _ = small_world
    name = f"champ-{uuid.uuid4().hex[:8]}"
    alias_name = champion_alias(prepared[0].dataset_hash)
    poor_space = {"max_depth": {"choices": [1]}, "n_estimators": {"choices": [1, 2]}}
    client = MlflowClient(store)

    def run(stem, space):
        cfg = build_config({"world": WORLD, "model": MODEL, "tracking": {"model_name": name},
                            "tune": {"trials": 2, "pruner": "none", "space": space}})
        return tune_experiment(cfg, stem=stem, data=path, uri=store, prepared=prepared,
                               explain=lambda fitted, run: None)  # no explanation stage

    def alias():
        return str(client.get_model_version_by_alias(name, alias_name).version)

    poor = run(f"{name}-a", poor_space)
    assert poor.study.champion.decision == "first" and alias() == poor.model_version
    good = run(f"{name}-b", SPACE)
    assert good.metrics["test_auc"] > poor.metrics["test_auc"]
    assert good.study.champion.decision == "promoted" and alias() == good.model_version
    worse = run(f"{name}-c", poor_space)
    assert worse.study.champion.decision == "kept" and alias() == good.model_version
    # only champions are registered: the loser left no version behind
    assert worse.model_version is None
    assert sorted(v.version for v in client.search_model_versions(f"name='{name}'")) == \
        sorted(int(v) for v in (poor.model_version, good.model_version))
    tags = client.get_run(worse.run_id).data.tags
    assert tags["toolkit.champion_decision"] == "kept"
    assert tags["toolkit.champion_message"] == worse.study.champion.message
    assert tags["toolkit.champion_alias"] == alias_name
    # a holder whose run names other data is not compared, even by a model it would lose to
    client.set_tag(good.run_id, "toolkit.dataset_hash", "f" * 64)
    other = run(f"{name}-d", SPACE)
    assert other.study.champion.decision == "not_compared" and alias() == good.model_version


def test_a_tuned_refit_that_loses_to_a_trained_model_is_not_registered(small_world, store,
                                                                      prepared):
    """The case that made a worse tune the champion: `toolkit train` registered versions but
    never held the alias, so the tuner compared against nothing.  Now the trained model
    holds its dataset's alias and the weaker refit leaves it alone."""
    path, _, _ = small_world
    name = f"champ-{uuid.uuid4().hex[:8]}"
    table, lineage = prepared
    cfg = build_config({"world": WORLD, "model": MODEL, "tracking": {"model_name": name}})
    trained = train_experiment(cfg, stem=f"{name}-train", data=path, uri=store,
                               prepared=prepared)
    assert trained.champion.decision == "first"
    tune_cfg = build_config({"world": WORLD, "model": MODEL, "tracking": {"model_name": name},
                             "tune": {"trials": 2, "pruner": "none", "space": {
                                 "max_depth": {"choices": [1]},
                                 "n_estimators": {"choices": [1, 2]}}}})
    tuned = tune_experiment(tune_cfg, stem=f"{name}-tune", data=path, uri=store,
                            prepared=prepared, explain=lambda fitted, run: None)
    assert tuned.metrics["test_auc"] < trained.metrics["test_auc"]
    assert tuned.study.champion.decision == "kept" and tuned.model_version is None
    client = MlflowClient(store)
    holder = client.get_model_version_by_alias(name, champion_alias(table.dataset_hash))
    assert str(holder.version) == trained.model_version
    assert [str(v.version) for v in client.search_model_versions(f"name='{name}'")] == \
        [trained.model_version]
    # a model on other data competes for its own alias, not this one
    other = dataclasses.replace(table, dataset_hash="e" * 64)
    elsewhere = train_experiment(cfg, stem=f"{name}-other", data=path, uri=store,
                                 prepared=(other, lineage))
    assert elsewhere.champion.decision == "first"
    assert elsewhere.champion.alias == "champion-eeeeeeee"
    assert str(client.get_model_version_by_alias(name, champion_alias(table.dataset_hash))
               .version) == trained.model_version


# -- multi-objective -------------------------------------------------------------------------

def _dominates(a, b):
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True))


def test_multi_objective_logs_the_pareto_front_and_refits_the_picked_trial(small_world, store,
                                                                         prepared):
    path, _, _ = small_world
    cfg = config(trials=8, objectives=["val_auc", "val_explain_top1_tolerant_accuracy"],
                 pareto_pick="balanced")
    result = tune_experiment(cfg, stem="pareto", data=path, uri=store, prepared=prepared)
    study = load(storage_of(store), "pareto")
    front = result.study.pareto
    assert len(front) >= 1 and front["picked"].sum() == 1
    assert int(front.index[front["picked"]][0]) == result.study.best_trial
    values = front[["val_auc", "val_explain_top1_tolerant_accuracy"]].to_numpy()
    for i in range(len(values)):  # nobody on the front dominates another front member
        assert not any(_dominates(values[j], values[i]) for j in range(len(values)) if j != i)
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        if t.number not in front.index:
            assert any(_dominates(v, t.values) for v in values)
    picked = study.trials[result.study.best_trial]
    assert result.study.best_values == {"val_auc": picked.values[0],
                                  "val_explain_top1_tolerant_accuracy": picked.values[1]}
    client = MlflowClient(store)
    m = client.get_run(result.run_id).data.metrics
    assert m["best_val_explain_top1_tolerant_accuracy"] == pytest.approx(picked.values[1])
    logged = pd.read_csv(client.download_artifacts(result.run_id, "pareto/front.csv"))
    assert sorted(logged["number"]) == sorted(front.index)
    figures = {a.path for a in client.list_artifacts(result.run_id, "figures/optuna")}
    assert "figures/optuna/pareto_front.png" in figures


def test_pareto_pick_rules():
    objectives = [OBJECTIVES["val_auc"], OBJECTIVES["val_explain_top1_group_accuracy"]]
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    front = [optuna.trial.create_trial(values=v, params={"x": 0.5}, distributions=dist)
             for v in ([0.90, 0.50], [0.85, 0.70], [0.80, 0.72])]
    for i, t in enumerate(front):
        t.number = i
    assert pick_pareto(front, objectives, "best_auc").number == 0
    assert pick_pareto(front, objectives, "best_explain").number == 2
    assert pick_pareto(front, objectives, "balanced").number == 1


def test_top1_stability_counts_rows_identical_in_every_model():
    a = np.array(["repayment_history", "social_network", "", "tenure_profile"])
    b = np.array(["repayment_history", "utilization_debt", "", "tenure_profile"])
    assert top1_stability([a, b, a]) == 0.75
    assert top1_stability([a]) == 1.0
    assert np.isnan(top1_stability([a[:0], b[:0]]))


# -- bad input -------------------------------------------------------------------------------

def _err(res):
    return " ".join(res.output.split())


def test_cli_workers_zero(small_world, store, tmp_path):
    path, _, _ = small_world
    exp = write_exp(tmp_path, "w0")
    res = runner.invoke(app, ["tune", str(exp), "--workers", "0", "--data", str(path),
                              "--tracking-uri", store])
    assert res.exit_code == 2
    assert "error: --workers must be a whole number of at least 1, got 0" in _err(res)


def test_cli_resume_of_a_missing_study(small_world, store, tmp_path):
    path, _, _ = small_world
    exp = write_exp(tmp_path, "ghost")
    db = tmp_path / "ghost.db"
    res = runner.invoke(app, ["tune", str(exp), "--resume", "--storage", f"sqlite:///{db}",
                              "--data", str(path), "--tracking-uri", store])
    assert res.exit_code == 2
    assert (f"error: --resume: there is no study 'ghost' in storage sqlite:///{db}; studies "
            "there: none") in _err(res)
    assert not db.exists()  # saying so wrote nothing


def test_cli_resume_of_a_study_with_another_space(tuned, small_world, store, tmp_path):
    path, _, _ = small_world
    exp = write_exp(tmp_path, "nested", depth_low=3)  # the study 'nested' used 2..5
    res = runner.invoke(app, ["tune", str(exp), "--resume", "--data", str(path),
                              "--tracking-uri", store])
    assert res.exit_code == 2
    assert ("error: study 'nested' was created with a different search space than "
            "[tune.space] (max_depth: study 2..5 (int), config 3..5 (int)); resume it with "
            "the settings it was created with, or set tune.study_name to start a new study"
            ) in _err(res)
    (tmp_path / "same").mkdir()
    same = write_exp(tmp_path / "same", "nested")
    res = runner.invoke(app, ["tune", str(same), "--data", str(path), "--tracking-uri", store])
    assert res.exit_code == 2
    assert (f"error: study 'nested' already exists in storage {storage_of(store)}; pass "
            "--resume to continue it, or set tune.study_name to start a new one") in _err(res)


@pytest.mark.parametrize("url, message", [
    ("sqlite:////no/such/folder/optuna.db",
     "storage 'sqlite:////no/such/folder/optuna.db' cannot be opened: its folder "
     "'/no/such/folder' does not exist; " + STORAGE_HELP),
    ("optuna.db", "storage 'optuna.db' is not a database URL; " + STORAGE_HELP),
    ("nosuchdb://user:secret@host/db",
     "storage 'nosuchdb://user:***@host/db' cannot be opened (Can't load plugin: "
     "sqlalchemy.dialects:nosuchdb); " + STORAGE_HELP),
])
def test_cli_storage_that_cannot_be_opened(small_world, store, tmp_path, url, message):
    path, _, _ = small_world
    exp = write_exp(tmp_path, "nostore")
    res = runner.invoke(app, ["tune", str(exp), "--storage", url, "--data", str(path),
                              "--tracking-uri", store])
    assert res.exit_code == 2
    assert f"error: {message}" in _err(res)
    assert "secret" not in res.output


@pytest.mark.parametrize("space, message", [
    ("depth = { low = 2, high = 5 }",
     "config key 'tune.space': unknown parameter 'depth'; allowed: n_estimators, "
     "learning_rate, max_depth, min_child_weight, subsample, colsample_bytree, reg_lambda, "
     "reg_alpha, early_stopping_rounds, monotone"),
    ("max_depth = { low = 6, high = 3 }",
     "config key 'tune.space': parameter 'max_depth' has an empty range: low=6 is not below "
     "high=3"),
    ("reg_alpha = { low = 0, high = 1, log = true }",
     "config key 'tune.space': parameter 'reg_alpha' is on a log scale, so low must be above "
     "0, got low=0"),
    ("subsample = { low = 0.5, high = 1.5 }",
     "config key 'tune.space': parameter 'subsample': high=1.5 is not allowed for "
     "model.subsample (Input should be less than or equal to 1)"),
])
def test_cli_bad_search_space(small_world, store, tmp_path, space, message):
    path, _, _ = small_world
    exp = tmp_path / "badspace.toml"
    exp.write_text(f"# bad space\n[tune.space]\n{space}\n")
    res = runner.invoke(app, ["tune", str(exp), "--data", str(path), "--tracking-uri", store])
    assert res.exit_code == 2
    assert f"error: {exp}: {message}" in _err(res)


def test_config_rejects_bad_objectives_and_picks():
    with pytest.raises(ConfigError, match="unknown objective 'val_gini'; allowed: val_auc"):
        build_config({"tune": {"objectives": ["val_auc", "val_gini"]}})
    with pytest.raises(ConfigError, match="pareto_pick 'best_explain' needs an explanation"):
        build_config({"tune": {"objectives": ["val_auc", "val_ks"],
                               "pareto_pick": "best_explain"}})
    with pytest.raises(ConfigError, match="parameter 'max_depth' takes whole numbers"):
        build_config({"tune": {"space": {"max_depth": {"low": 2.5, "high": 6}}}})


def test_redact_hides_passwords():
    assert redact("postgresql://me:pw@db.example/optuna") == \
        "postgresql://me:***@db.example/optuna"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert redact("mysql://u@h/d") == "mysql://u@h/d"  # a user name, no secret
    assert redact("https://ghp_token@example.com/x") == "https://***@example.com/x"
    assert redact("see postgresql://a:b@c@h/d and http://h/?token=abc&x=1") == \
        "see postgresql://a:***@h/d and http://h/?token=***&x=1"


def test_a_study_that_stored_cluster_none_still_resumes_in_process():
    """Studies written before the fingerprint left an in-process cluster out stored
    ``compute.cluster = "none"``; that is no difference, while a cluster still is."""
    from toolkit.tune.study import fingerprint_differences

    base = {"space": {}, "objectives": ["auc"], "dataset_hash": "d" * 64,
            "fixed": {"model.seed": 0}}
    old = {**base, "fixed": {"model.seed": 0, "compute.cluster": "none"}}
    assert fingerprint_differences(old, base) == []
    dask = {**base, "fixed": {"model.seed": 0, "compute.cluster": "dask"}}
    assert fingerprint_differences(dask, base) == [
        "other settings outside [tune] (compute.cluster: 'dask' -> None)"]
