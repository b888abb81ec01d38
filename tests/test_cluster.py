"""The same work on a Dask cluster: a LocalCluster of two workers on a small world.

Generation by partition gives the same bytes; features by partition the same table;
training with xgboost.dask, on the in-process histogram bins, the in-process model when
rows are not sampled, and with row sampling one close to it (looser bounds than the
200,000-user check of the README, since a small test split is noisy).  Bad cluster
settings exit 2 in one line and write nothing.
"""

from __future__ import annotations

import pandas as pd
import pytest
from distributed.diagnostics.plugin import SchedulerPlugin
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.compute import active_client, cluster
from toolkit.config import build_config
from toolkit.data.dataset import load_dataset, read_manifest
from toolkit.data.table import from_dataset
from toolkit.synth import generate
from toolkit.workflows.pipeline import run_experiment

runner = CliRunner()
WORLD = {"n_users": 4_000, "block_size": 1_000}
SMALL = {"world": WORLD, "model": {"n_estimators": 80},
         "explain": {"compare": [], "background_size": 100}}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same experiment run in-process and through a LocalCluster of 2 workers."""
    root = tmp_path_factory.mktemp("cluster")
    cfg = build_config(SMALL)
    store = f"sqlite:///{root / 'mlflow.db'}"
    generate(config=cfg, out=root / "here")
    here = run_experiment(cfg, stem="here", data=root / "here", uri=store,
                          outputs=root / "out")
    with cluster("local") as client:
        assert len(client.scheduler_info()["workers"]) == 2  # one per core of this machine
        generate(config=cfg, out=root / "there")
        there = run_experiment(cfg, stem="there", data=root / "there", uri=store,
                               outputs=root / "out")
    assert active_client() is None  # the command's cluster is gone with it
    return root, store, cfg, here, there


def test_generation_by_partition_gives_the_same_bytes(both):
    root, *_ = both
    assert read_manifest(root / "here")["files"] == read_manifest(root / "there")["files"]


def test_features_by_partition_give_the_same_table(both):
    root, _, cfg, *_ = both
    here = from_dataset(load_dataset(root / "here"), cfg)
    with cluster("local"):
        there = from_dataset(load_dataset(root / "there"), cfg)
    assert here.X.equals(there.X) and here.features.equals(there.features)


def test_a_model_trained_on_the_cluster_gives_the_same_answers(both):
    _, _, _, here, there = both
    a, b = here.metrics, there.metrics
    assert abs(a["test_auc"] - b["test_auc"]) < 0.03
    # the shares over every explained test user; the regime breakdowns and the skill (a
    # difference of two shares) are too noisy on 4,000 users for a bound worth stating
    explain = [k for k in a if k.startswith("explain_") and k in b
               and not k.endswith(("_normal", "_stressed"))
               and not any(w in k for w in ("rows", "skill", "regret", "baseline", "additivity"))]
    assert len(explain) >= 8
    for k in explain:
        assert abs(a[k] - b[k]) < 0.1, k
    za, zb = sum(here.mechanism_counts.values()), sum(there.mechanism_counts.values())
    assert abs(za - zb) <= 0.15 * max(za, zb)  # zero-limit test users: 279 against 307 seen


def test_rows_binned_on_the_in_process_cuts_train_the_in_process_model():
    """The property the cluster's training rests on: a booster trained on the rows binned
    on their own in-process cuts is the booster trained on the rows themselves, byte for
    byte, missing values and ties included."""
    import numpy as np
    import xgboost as xgb

    from toolkit.models.train import histogram_cuts, on_cuts

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.lognormal(size=3_000), rng.normal(size=3_000),
                         rng.integers(0, 4, 3_000), np.round(rng.normal(size=3_000), 1)])
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (rng.random(3_000) < 1 / (1 + np.exp(-np.nan_to_num(X[:, 1])))).astype(float)
    binned = on_cuts(X, histogram_cuts(X))
    assert all(len(np.unique(b[~np.isnan(b)])) == len(c) + 1
               for b, c in zip(binned.T, histogram_cuts(X)[0], strict=True))
    params = {"tree_method": "hist", "max_depth": 4, "objective": "binary:logistic",
              "seed": 0}
    here = xgb.train(params, xgb.DMatrix(X, label=y), 30)
    there = xgb.train(params, xgb.DMatrix(binned, label=y), 30)
    assert bytes(here.save_raw("ubj")) == bytes(there.save_raw("ubj"))


def test_without_row_sampling_the_cluster_trains_the_in_process_model(both):
    """With subsample = 1 the model trained with xgboost.dask on two workers is the
    in-process model byte for byte; with row sampling the toolkit says why it is not."""
    from toolkit.errors import ToolkitWarning
    from toolkit.models.train import fit_xgboost

    root, _, cfg, *_ = both
    table = from_dataset(load_dataset(root / "here"), cfg)
    model = cfg.model.model_copy(update={"subsample": 1.0})
    here = fit_xgboost(table, model)
    with cluster("local"):
        there = fit_xgboost(table, model)
        with pytest.warns(ToolkitWarning, match=r"subsample < 1: on a Dask cluster"):
            fit_xgboost(table, cfg.model)
    assert there.best_iteration == here.best_iteration
    assert there.to_bytes() == here.to_bytes()


def test_a_table_with_category_columns_is_refused_on_a_cluster():
    """xgboost.dask gets numeric blocks here: a category column is named, not mistrained."""
    from types import SimpleNamespace

    from toolkit.errors import InputError
    from toolkit.models.train import dask_matrices

    table = SimpleNamespace(categorical=["housing", "purpose"])
    with pytest.raises(InputError, match="this table has the category column\\(s\\) housing, "
                       "purpose: set \\[compute\\] cluster = \"none\""):
        dask_matrices(None, table)


def test_a_cluster_without_workers_is_refused_before_training():
    from types import SimpleNamespace

    from toolkit.errors import InputError
    from toolkit.models.train import dask_matrices

    client = SimpleNamespace(scheduler_info=lambda: {"workers": {}})
    with pytest.raises(InputError, match="^the Dask cluster has no workers to train on; "
                       "start some with 'dask worker <scheduler address>'$"):
        dask_matrices(client, SimpleNamespace(categorical=[]))


def test_a_cluster_run_explains_through_the_cli(both, tmp_path):
    _, store, _, _, there = both
    res = runner.invoke(app, ["explain", there.run_ids["xgboost"], "--tracking-uri", store,
                              "--outputs", str(tmp_path / "out"), "--cluster", "local"])
    assert res.exit_code == 0, res.output
    assert "Dask dashboard: http://" in res.output
    assert (tmp_path / "out" / f"explain-{there.run_ids['xgboost'][:8]}" / "explanations"
            / "reasons.parquet").is_file()


@pytest.mark.parametrize("mode", ["path", "group"])
def test_explanations_on_the_cluster_are_those_made_here(both, monkeypatch, mode):
    """SHAP values spread over the workers in blocks of rows equal those made here: the
    values, the reasons and the truth metrics."""
    from distributed import get_task_stream

    from toolkit.explain.api import explain_table
    from toolkit.workflows.reload import load_logged_run

    _, store, _, here, _ = both
    loaded = load_logged_run(here.run_ids["xgboost"], uri=store)
    fitted, cfg = loaded.fitted, loaded.cfg
    args = (fitted.scorer, fitted.table, fitted.decisions, cfg.explain)
    kw = dict(policy=cfg.policy, mode=mode, change=False)
    mine = explain_table(*args, **kw)
    monkeypatch.setattr("toolkit.compute.ROWS_PER_TASK", 150)  # several blocks per worker
    with cluster("local") as client, get_task_stream(client) as stream:
        theirs = explain_table(*args, **kw)
    assert len(mine.shap) > 4 * 150
    assert sum("_call" in t["key"] for t in stream.data) >= len(mine.shap) // 150
    assert theirs.shap.index.equals(mine.shap.index)
    assert abs(theirs.shap.values - mine.shap.values).max() < 1e-12
    pd.testing.assert_frame_equal(theirs.reasons, mine.reasons)
    assert theirs.metrics.keys() == mine.metrics.keys()
    for k, v in mine.metrics.items():
        assert theirs.metrics[k] == pytest.approx(v, abs=1e-12, nan_ok=True), k


def test_a_bad_cluster_value_on_explain_exits_2(both, tmp_path):
    _, store, _, here, _ = both
    res = runner.invoke(app, ["explain", here.run_ids["xgboost"], "--tracking-uri", store,
                              "--outputs", str(tmp_path / "out"), "--cluster", "lokal"])
    assert res.exit_code == 2
    assert "cluster must be none, local or a scheduler address tcp://host:port, got " \
           "'lokal'" in res.output
    assert not (tmp_path / "out").exists()


def test_generate_on_a_local_cluster_prints_the_dashboard(tmp_path):
    res = runner.invoke(app, ["generate", "--users", "1500", "--set", "world.block_size=500",
                              "--out", str(tmp_path / "ds"), "--cluster", "local", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "Dask dashboard: http://" in res.output
    assert len(read_manifest(tmp_path / "ds")["files"]) == 3 * 4 + 1


@pytest.mark.parametrize("value", ["lokal", "tcp://host", "http://127.0.0.1:8786",
                                   "tcp://127.0.0.1:99999"])
def test_a_bad_cluster_value_is_named_with_what_is_allowed(tmp_path, value):
    res = runner.invoke(app, ["generate", "--users", "200", "--out", str(tmp_path / "ds"),
                              "--cluster", value])
    assert res.exit_code == 2
    assert f"cluster must be none, local or a scheduler address tcp://host:port, got " \
           f"{value!r}" in res.output
    assert not (tmp_path / "ds").exists()


def test_an_unreachable_scheduler_exits_2_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("toolkit.compute.CONNECT_TIMEOUT_S", 1)
    res = runner.invoke(app, ["run", str(_experiment()), "--cluster", "tcp://127.0.0.1:9",
                              "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                              "--set", "world.n_users=200"])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "the Dask scheduler at 'tcp://127.0.0.1:9' is unreachable" \
        in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["recourse", "study", "tune"])
def test_an_unreachable_scheduler_on_recourse_study_and_tune_exits_2(command, tmp_path,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("toolkit.compute.CONNECT_TIMEOUT_S", 1)
    first = ["0123456789abcdef0123456789abcdef"] if command == "recourse" else \
        [str(_experiment()), "--set", "world.n_users=1000"]
    res = runner.invoke(app, [command, *first, "--cluster", "tcp://127.0.0.1:1",
                              "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "the Dask scheduler at 'tcp://127.0.0.1:1' is unreachable" \
        in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_recourse_on_the_cluster_plans_as_here(both, monkeypatch):
    """Users planned in blocks on the workers get the plans and paths planned here."""
    from distributed import get_task_stream

    from toolkit.recourse import recourse_table
    from toolkit.workflows.reload import load_logged_run

    _, store, _, here, _ = both
    loaded = load_logged_run(here.run_ids["xgboost"], uri=store)
    fitted, cfg = loaded.fitted, loaded.cfg

    def plan():
        return recourse_table(fitted.scorer, fitted.table, fitted.decisions, cfg.recourse,
                              policy=cfg.policy, platform=cfg.world.platform)

    mine = plan()
    monkeypatch.setattr("toolkit.recourse.api.USERS_PER_TASK", 40)  # several per worker
    with cluster("local") as client, get_task_stream(client) as stream:
        theirs = plan()
    assert len(mine.plans) > 4 * 40
    assert sum("_call" in t["key"] for t in stream.data) >= len(mine.plans) // 40
    pd.testing.assert_frame_equal(theirs.plans, mine.plans, check_exact=True)
    pd.testing.assert_frame_equal(theirs.paths, mine.paths, check_exact=True)
    assert theirs.metrics == mine.metrics


def test_recourse_through_the_cli_on_a_cluster(both, tmp_path):
    _, store, _, here, _ = both
    run_id = here.run_ids["xgboost"]
    res = runner.invoke(app, ["recourse", run_id, "--tracking-uri", store, "--outputs",
                              str(tmp_path / "out"), "--cluster", "local", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "Dask dashboard: http://" in res.output
    assert (tmp_path / "out" / f"recourse-{run_id[:8]}" / "recourse" / "plans.parquet") \
        .is_file()


class _Clients(SchedulerPlugin):
    """The clients that connected to a scheduler (added to a LocalCluster's, in-process)."""

    def __init__(self):
        self.seen = set()

    def add_client(self, scheduler, client):
        self.seen.add(client)


def test_study_children_in_worker_processes_join_the_cluster(tmp_path):
    import distributed

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    small = ["--set", "world.n_users=1500", "--set", "world.block_size=500",
             "--set", "model.n_estimators=40", "--set", "explain.compare=[]",
             "--set", "explain.background_size=100"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0",
                                  silence_logs=50) as lc:
        clients = _Clients()
        lc.scheduler.add_plugin(clients, name="clients")
        res = runner.invoke(app, ["study", str(_experiment()), "--world-seeds", "1",
                                  "--model-seeds", "2", "--workers", "2", "--worlds",
                                  str(tmp_path / "worlds"), "--tracking-uri", store,
                                  "--cluster", lc.scheduler_address, "--quiet", *small])
        assert res.exit_code == 0, res.output
        # this process, and each child process's own client
        assert len(clients.seen) >= 3
    assert "2 children run" in res.output


TUNE_TOML = """[world]
n_users = 4000
block_size = 1000

[model]
n_estimators = 40
nthread = 1

[tune]
trials = 4

[tune.space]
max_depth = { low = 2, high = 5 }
learning_rate = { low = 0.05, high = 0.3, log = true }
"""


def test_two_tune_workers_share_one_storage_while_trials_train_on_the_cluster(both,
                                                                              tmp_path):
    """``toolkit tune --workers 2 --cluster tcp://...``: both worker processes join the
    cluster, train there, and record their trials in the one sqlite study as in-process
    trials are recorded (Optuna value = the trial run's metric, its state tag)."""
    import distributed
    import optuna
    from optuna.trial import TrialState

    root, store, *_ = both
    exp = tmp_path / "spread.toml"
    exp.write_text(TUNE_TOML)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0",
                                  silence_logs=50) as lc:
        clients = _Clients()
        lc.scheduler.add_plugin(clients, name="clients")
        res = runner.invoke(app, ["tune", str(exp), "--data", str(root / "here"),
                                  "--tracking-uri", store, "--storage", storage,
                                  "--workers", "2", "--cluster", lc.scheduler_address,
                                  "--quiet"])
        assert res.exit_code == 0, res.output
        assert len(clients.seen) >= 2, "the second worker process joined the cluster too"
    assert "warning: tune.pruner = 'median' prunes nothing on a cluster" in res.output
    assert "4 complete, 0 pruned, 0 failed" in res.output
    study = optuna.load_study(study_name="spread", storage=storage)
    assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))
    client = MlflowClient(store)
    for t in study.trials:
        assert t.state == TrialState.COMPLETE
        run = client.get_run(t.user_attrs["toolkit.mlflow_run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.tags["toolkit.trial_state"] == "complete"
        assert run.data.metrics["val_auc"] == pytest.approx(t.value)
        assert run.data.metrics["best_iteration"] == t.user_attrs["best_iteration"]
    parent = study.user_attrs["toolkit.parent_run_id"]
    assert client.get_run(parent).info.status == "FINISHED"
    assert "worker_failures.txt" not in {a.path.rsplit("/", 1)[-1]
                                         for a in client.list_artifacts(parent, "study")}


def test_a_cluster_lost_mid_run_marks_the_stage_failed(tmp_path, monkeypatch):
    from distributed.comm.core import CommClosedError

    import toolkit.data.table as table

    def lost(*args, **kwargs):
        raise CommClosedError("in <TCP (closed)>: Stream is closed")

    monkeypatch.setattr(table, "features_by_block", lost)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = runner.invoke(app, ["run", str(_experiment()), "--tracking-uri", store,
                              "--set", "world.n_users=500", "--set", "world.block_size=250",
                              "--data", str(tmp_path / "ds"),
                              "--outputs", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert "the Dask cluster was lost mid-run (CommClosedError" in res.output
    runs = MlflowClient(store).search_runs(
        [e.experiment_id for e in MlflowClient(store).search_experiments()])
    assert runs and all(r.info.status == "FAILED" for r in runs)
    assert {r.data.tags.get("toolkit.failed_stage") for r in runs} == {"features"}


def _experiment():
    from pathlib import Path

    return Path(__file__).parents[1] / "experiments" / "baseline.toml"
