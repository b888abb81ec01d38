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


def test_toolkit_ui_serves_the_project_store_on_localhost(tmp_path):
    port = _free_port()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    log = open(tmp_path / "ui.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "ui", "--port", str(port),
                             "--tracking-uri", store], cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        client = MlflowClient(f"http://127.0.0.1:{port}")
        assert client.get_experiment_by_name("Default") is not None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert (tmp_path / "mlflow.db").is_file()
