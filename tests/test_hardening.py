"""Hardening beyond the bad-input table and the fault suite: secrets never stored, writers
that cannot replace each other, the disk-space estimate, ``--data`` of another world, the
exit status of a bug (and ``--debug``), environment errors as exit 2, workers that end with
their parent, and markup in user strings."""

from __future__ import annotations

import errno
import importlib
import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from inproc import cli
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from toolkit import tracking
from toolkit.config import build_config
from toolkit.errors import DataError, InputError
from toolkit.files import TargetExists, staged_folder
from toolkit.safety import redact
from toolkit.source import preflight
from toolkit.synth import generate

SECRET = "hunter2"




def last(out: str) -> str:
    """The last line of a command's output (a failure during work follows its progress)."""
    return out.strip().splitlines()[-1]


def test_no_secret_reaches_params_tags_or_artifacts(tmp_path):
    url = f"postgresql://optuna:{SECRET}@db.example/optuna"
    cfg = build_config({"tune": {"storage": url},
                        "tracking": {"uri": f"https://me:{SECRET}@mlflow.example"}})
    uri = tracking.connect(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with tracking.start_run(experiment="secrets", run_name="s", uri=uri,
                            tags={"toolkit.storage": url}) as run:
        run.log_params(cfg.flat())
        run.log_dict(cfg.model_dump(mode="json", by_alias=True), "config.json")
        run.log_text(f"worker failed on {url}", "study/worker_failures.txt")
        run.set_tags({"toolkit.note": f"see {url}"})
    client = MlflowClient(uri)
    stored = client.get_run(run.run_id)
    config = json.loads(Path(client.download_artifacts(run.run_id, "config.json",
                                                       str(tmp_path))).read_text())
    failures = Path(client.download_artifacts(run.run_id, "study/worker_failures.txt",
                                              str(tmp_path))).read_text()
    everything = json.dumps([stored.data.params, stored.data.tags, config, failures])
    assert SECRET not in everything
    assert stored.data.params["tune.storage"] == "postgresql://optuna:***@db.example/optuna"
    assert stored.data.params["tracking.uri"] == "https://me:***@mlflow.example"
    assert config["tune"]["storage"] == "postgresql://optuna:***@db.example/optuna"
    assert stored.data.tags["toolkit.pid"] == str(os.getpid())
    assert stored.data.tags["toolkit.host"]
    assert stored.data.tags["toolkit.process_start"]


def test_redact_covers_every_url_in_a_text():
    text = (f"mysql://u:{SECRET}@h/d, https://tok{SECRET}@example.com/x, "
            f"postgresql://h/db?password={SECRET}&sslmode=require")
    shown = redact(text)
    assert SECRET not in shown
    assert shown == ("mysql://u:***@h/d, https://***@example.com/x, "
                     "postgresql://h/db?password=***&sslmode=require")


def test_two_writers_of_one_dataset_cannot_replace_each_other(tmp_path):
    target = tmp_path / "ds"
    a, b = staged_folder(target, replace=False), staged_folder(target, replace=False)
    first, second = a.__enter__(), b.__enter__()
    (first / "who").write_text("first")
    (second / "who").write_text("second")
    a.__exit__(None, None, None)  # the first writer finishes while the second still writes
    with pytest.raises(TargetExists, match="was created by another process while this one "
                                           "was writing it; nothing was replaced"):
        b.__exit__(None, None, None)
    assert (target / "who").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_a_world_that_does_not_fit_on_the_disk_is_refused_before_writing(tmp_path,
                                                                        monkeypatch):
    import shutil

    module = importlib.import_module("toolkit.synth.generate")
    real = shutil.disk_usage
    monkeypatch.setattr(module.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=1 << 20))
    with pytest.raises(InputError, match=r"world.n_users=50,000 needs about 120.2 MB of disk "
                                         r"at '.*', but only 1.0 MB is free there"):
        generate(config=build_config({}), out=tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []


def test_data_of_another_world_runs_with_its_own_world_unless_strict(small_world):
    path, manifest, _ = small_world
    cfg = build_config({"world": {"n_users": 4000, "block_size": 1000, "seed": 9}})
    assert cfg.world.seed == 9
    used = preflight(cfg, path)
    assert used.world.model_dump(mode="json") == manifest["config"]["world"]
    assert used.world.seed == 0 and used.flat()["world.seed"] == 0
    with pytest.raises(DataError, match=r"was generated from another \[world\] than the "
                                        r"experiment's \(differs in seed\)"):
        preflight(cfg, path, strict=True)


def test_a_bug_exits_1_with_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch):
    module = importlib.import_module("toolkit.synth.generate")

    def broken(*_a, **_k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(module, "make_block", broken)
    code, out = cli(tmp_path, "generate", "--users", "700", "--out", "ds")
    assert code == 1
    assert last(out) == ("error: unexpected ZeroDivisionError: division by zero (a bug in "
                           "the toolkit; rerun with --debug for the traceback and report it)")
    code, out = cli(tmp_path, "--debug", "generate", "--users", "700", "--out", "ds")
    assert code == 1
    assert "Traceback (most recent call last)" in out and "in broken" in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error, message", [
    (OSError(errno.ENOSPC, "No space left on device", "data/x.parquet"),
     "error: No space left on device: 'data/x.parquet'"),
    (MemoryError(), "error: out of memory; use a smaller world (world.n_users)"),
], ids=["disk-full", "memory"])
def test_environment_errors_exit_2(tmp_path, monkeypatch, error, message):
    module = importlib.import_module("toolkit.synth.generate")

    def fail(*_a, **_k):
        raise error

    monkeypatch.setattr(module, "make_block", fail)
    code, out = cli(tmp_path, "generate", "--users", "700", "--out", "ds")
    assert code == 2
    assert last(out).startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_a_database_error_inside_mlflow_exits_2(tmp_path, monkeypatch):
    module = importlib.import_module("toolkit.synth.generate")

    def fail(*_a, **_k):
        try:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        except sqlite3.OperationalError as err:
            raise MlflowException(f"(sqlite3.OperationalError) {err}") from err

    monkeypatch.setattr(module, "make_block", fail)
    code, out = cli(tmp_path, "generate", "--users", "700", "--out", "ds")
    assert code == 2
    assert last(out) == ("error: the database refused: attempt to write a readonly "
                           "database")


def test_the_command_restores_the_sigterm_handler_it_replaced(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    cli(tmp_path, "generate", "--users", "0")
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_worker_ends_when_its_parent_is_killed():
    worker = ("from toolkit.processes import exit_with_parent; import time; "
              "exit_with_parent(); print('ready', flush=True); time.sleep(600)")
    parent = ("import subprocess, sys; "
              f"p = subprocess.Popen([sys.executable, '-c', {worker!r}]); "
              "print(p.pid, flush=True); p.wait()")
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    assert proc.stdout.readline().strip() == "ready"
    fd = os.pidfd_open(child)
    try:
        proc.kill()
        proc.wait()
        ready, _, _ = select.select([fd], [], [], 60)  # a guard, not a measurement
        assert ready, "the worker outlived its parent"
    finally:
        os.close(fd)
        proc.stdout.close()


def test_markup_in_an_output_path_is_printed_as_text(tmp_path):
    code, out = cli(tmp_path, "generate", "--users", "700", "--out", "a[/]b[bold]")
    assert code == 0, out
    assert "wrote a[/]b[bold]" in out
    assert (tmp_path / "a[" / "]b[bold]" / "manifest.json").is_file()


def test_preflight_cleans_the_leftovers_of_a_killed_run(small_world, tmp_path):
    from toolkit.files import _host

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    outputs = tmp_path / "outputs"
    stale = outputs / "exp-0123abcd" / f".explanations.tmp-{dead.pid}-{_host()}-0123abcd"
    stale.mkdir(parents=True)
    (stale / "report.html").write_text("half")
    path, _, _ = small_world
    preflight(build_config({"world": {"n_users": 4000, "block_size": 1000}}), path,
              outputs=outputs)
    assert list(outputs.iterdir()) == []


def test_every_check_runs_before_a_store_is_created(small_world, tmp_path):
    """The tracking store is the first thing a run writes; bad input never gets there."""
    from toolkit.workflows.train import train_experiment

    path, _, _ = small_world
    store = tmp_path / "mlflow.db"
    cfg = build_config({"world": {"n_users": 4000, "block_size": 1000},
                        "split": {"method": "random", "valid_fraction": 0.5,
                                  "test_fraction": 0.5}})
    with pytest.raises(InputError, match="leaves no training rows"):
        train_experiment(cfg, stem="x", data=path, uri=f"sqlite:///{store}")
    with pytest.raises(InputError, match="experiment file name 'a b' is not a safe name"):
        train_experiment(build_config({}), stem="a b", data=path, uri=f"sqlite:///{store}")
    assert not store.exists()
