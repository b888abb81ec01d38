"""A real ``mlflow server`` on 127.0.0.1: train over HTTP, read back, load and score."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from toolkit.config import build_config
from toolkit.workflows.train import train_experiment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, limit: float = 90.0) -> None:
    # Polling a server we started is not a timing assertion: it only bounds the wait.
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("mlflow server did not become healthy")


@pytest.fixture()
def server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_train_against_a_server_and_score_with_the_registered_model(small_world, server):
    path, _, ds = small_world
    cfg = build_config({"model": {"n_estimators": 80}, "tracking": {"experiment": "srv"}})
    trained = train_experiment(cfg, stem="server", data=path, uri=server)

    client = MlflowClient(server)
    exp = client.get_experiment_by_name("srv")
    runs = client.search_runs([exp.experiment_id], "tags.`toolkit.model_family` = 'xgboost'")
    assert [r.info.run_id for r in runs] == [trained.run_ids["xgboost"]]
    assert runs[0].data.metrics["test_auc"] == trained.metrics["test_auc"]

    mlflow.set_tracking_uri(server)
    booster = mlflow.xgboost.load_model(
        f"models:/{cfg.tracking.model_name}/{trained.model_version}")
    X = trained.table.X.head(200)
    import xgboost as xgb

    served = booster.predict(xgb.DMatrix(X.to_numpy(np.float64), feature_names=list(X.columns)))
    np.testing.assert_allclose(served, trained.scorer.predict_pd(X), rtol=1e-6)


def test_toolkit_ui_serves_the_store_and_prints_the_runs_list(tmp_path):
    from toolkit import tracking

    port = _free_port()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    uri = tracking.connect(store)
    with tracking.start_run(experiment="zero-limit", run_name="listed", tags={}, uri=uri):
        pass
    exp_id = MlflowClient(store).get_experiment_by_name("zero-limit").experiment_id
    log_path = tmp_path / "ui.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "ui", "--port", str(port),
                             "--tracking-uri", store], cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        client = MlflowClient(f"http://127.0.0.1:{port}")
        assert [r.info.run_name for r in client.search_runs([exp_id])] == ["listed"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    # the address opens the runs list, not MLflow 3's traces view of the experiment
    expected = (f"runs of experiment 'zero-limit': http://127.0.0.1:{port}/#/experiments/"
                f"{exp_id}?workflowType=machine_learning")
    assert expected in log_path.read_text()


def test_toolkit_ui_refuses_a_server_and_a_bad_port(tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    res = CliRunner().invoke(app, ["ui", "--tracking-uri", "http://127.0.0.1:1"])
    assert res.exit_code == 2
    assert "is an mlflow server" in res.output
    res = CliRunner().invoke(app, ["ui", "--port", "70000", "--tracking-uri",
                                   f"sqlite:///{tmp_path / 'm.db'}"])
    assert res.exit_code == 2 and "--port must be in 1..65535, got 70000" in res.output
    assert not (tmp_path / "m.db").exists()
