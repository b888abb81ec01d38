"""Faults: SIGTERM and SIGKILL at known stages of generate, train, explain, tune and run.

Each command runs as a real process that stops at a fault-injection point
(``TOOLKIT_HOLD_AT``, see :mod:`toolkit.processes`) and reports it through a pipe; the test
then sends the signal.  Afterwards: the exit status, the status of every run, no
half-written dataset, no staging leftover once the next command has started, no completed
trial lost, and a rerun that succeeds.

One small world (700 users in four blocks) and small models, shared by the module.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from held import WAIT, launch
from inproc import cli
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from toolkit.data.dataset import verify
from toolkit.files import leftovers, sweep

EXPERIMENT = """# fault tests: a small world and small models, so every stage is reached quickly
[world]
name = "fault"
n_users = 700
block_size = 175

[model]
n_estimators = 40
learning_rate = 0.2
nthread = 1

[scorecard]
enabled = false

[explain]
compare = ["path"]
"""
TUNE = """
[tune]
trials = 3
pruner = "none"
"""
def stop(proc: subprocess.Popen, sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=WAIT)
    return proc.returncode, out.decode(errors="replace")


def runs(store: str) -> list:
    client = MlflowClient(store)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000)


def running(store: str) -> list[str]:
    return [r.info.run_id for r in runs(store) if r.info.status == "RUNNING"]


def stray(root: Path) -> list[Path]:
    """Staging leftovers anywhere under ``root`` (``.<name>.tmp-`` / ``.old-``)."""
    return [p for p in root.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A work folder with the experiment files, the world and one finished training run."""
    root = tmp_path_factory.mktemp("faults")
    (root / "fault.toml").write_text(EXPERIMENT)
    (root / "fault_tune.toml").write_text(EXPERIMENT + TUNE)
    store = f"sqlite:///{root / 'mlflow.db'}"
    code, out = cli(root, "generate", "--config", "fault.toml")
    assert code == 0, out
    code, out = cli(root, "train", "fault.toml", "--tracking-uri", store)
    assert code == 0, out
    model_run = next(r.info.run_id for r in runs(store)
                     if r.data.tags.get("toolkit.model_family") == "xgboost")
    return {"root": root, "store": store, "model_run": model_run}


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _ends(pid: int) -> bool:
    """Whether process ``pid`` (not our child) ends within the guard time."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], WAIT)
        return bool(ready)
    finally:
        os.close(fd)


# -- generate ------------------------------------------------------------------------------

def test_sigterm_during_generate_leaves_no_dataset_and_no_leftover(work):
    root = work["root"]
    proc = launch(root, "generate.block", "generate", "--config", "fault.toml",
                  "--out", "data/synthetic/g-term")
    code, out = stop(proc, signal.SIGTERM)
    assert code == 143, out
    assert "error: terminated by SIGTERM" in out
    assert not (root / "data/synthetic/g-term").exists()
    assert stray(root) == []


def test_sigkill_during_generate_with_workers_then_the_next_start_cleans_up(work):
    root = work["root"]
    args = ("generate", "--config", "fault.toml", "--out", "data/synthetic/g-kill",
            "--workers", "2")
    proc = launch(root, "generate.block", *args)
    pool = _children(proc.pid)
    assert len(pool) == 2, pool
    code, _ = stop(proc, signal.SIGKILL)
    assert code == -signal.SIGKILL
    # the pool workers end with their parent instead of waiting forever
    assert all(_ends(pid) for pid in pool)
    assert not (root / "data/synthetic/g-kill").exists()  # never half-written in place
    assert [p.name.split(".tmp-")[0] for p in stray(root)] == [".g-kill"]
    code, out = cli(root, *args)
    assert code == 0, out
    assert stray(root) == []
    verify(root / "data/synthetic/g-kill")


# -- train ---------------------------------------------------------------------------------

def test_sigterm_during_train_marks_the_run_failed_with_its_stage(work):
    root, store = work["root"], work["store"]
    before = {r.info.run_id for r in runs(store)}
    proc = launch(root, "log", "train", "fault.toml", "--tracking-uri", store)
    code, out = stop(proc, signal.SIGTERM)
    assert code == 143, out
    new = [r for r in runs(store) if r.info.run_id not in before]
    assert len(new) == 1
    assert new[0].info.status == "FAILED"
    assert new[0].data.tags["toolkit.failed_stage"] == "log"
    assert new[0].data.tags["toolkit.failed_reason"].startswith("SIGTERM")
    assert new[0].data.tags["toolkit.pid"] == str(proc.pid)
    assert running(store) == []


def test_sigkill_during_train_is_marked_killed_by_the_next_command(work):
    root, store = work["root"], work["store"]
    before = {r.info.run_id for r in runs(store)}
    proc = launch(root, "log", "train", "fault.toml", "--tracking-uri", store)
    assert stop(proc, signal.SIGKILL)[0] == -signal.SIGKILL
    (dead,) = [r.info.run_id for r in runs(store) if r.info.run_id not in before]
    assert running(store) == [dead]  # nothing ended it: its process is gone
    code, out = cli(root, "train", "fault.toml", "--tracking-uri", store)
    assert code == 0, out
    killed = MlflowClient(store).get_run(dead)
    assert killed.info.status == "KILLED"
    assert killed.info.end_time is not None
    assert f"process {proc.pid} " in killed.data.tags["toolkit.end_reason"]
    assert running(store) == []


# -- explain -------------------------------------------------------------------------------

def test_sigterm_during_explain_fails_its_child_run_never_the_model_run(work):
    root, store, model = work["root"], work["store"], work["model_run"]
    proc = launch(root, "explain", "explain", model, "--tracking-uri", store)
    code, out = stop(proc, signal.SIGTERM)
    assert code == 143, out
    client = MlflowClient(store)
    assert client.get_run(model).info.status == "FINISHED"
    children = [r for r in runs(store) if r.data.tags.get("mlflow.parentRunId") == model]
    assert [r.info.status for r in children] == ["FAILED"]
    assert children[0].data.tags["toolkit.failed_stage"] == "explain"
    assert running(store) == []
    assert stray(root) == []


def test_sigkill_while_writing_explanations_then_the_rerun_cleans_up(work):
    root, store, model = work["root"], work["store"], work["model_run"]
    before = {r.info.run_id for r in runs(store)}
    proc = launch(root, "write:explanations", "explain", model, "--tracking-uri", store)
    assert stop(proc, signal.SIGKILL)[0] == -signal.SIGKILL
    folder = root / "outputs" / f"explain-{model[:8]}"
    assert not (folder / "explanations").exists()  # complete but never renamed in
    assert len(stray(root)) == 1
    code, out = cli(root, "explain", model, "--tracking-uri", store)
    assert code == 0, out
    assert stray(root) == []
    assert (folder / "explanations" / "report.html").is_file()
    statuses = sorted(r.info.status for r in runs(store) if r.info.run_id not in before)
    assert statuses == ["FINISHED", "KILLED"]
    assert MlflowClient(store).get_run(model).info.status == "FINISHED"


# -- tune ----------------------------------------------------------------------------------

def _trials(root: Path, name: str):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{root / 'optuna.db'}") \
        .get_trials(deepcopy=False)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_tune_interrupted_in_its_third_trial_resumes_without_losing_a_trial(work, sig):
    root, store = work["root"], work["store"]
    name = f"fault_tune_{sig.name.lower()}"
    args = ("tune", "fault_tune.toml", "--tracking-uri", store, "--set",
            f'tune.study_name="{name}"')
    before = {r.info.run_id for r in runs(store)}
    proc = launch(root, "tune.trial#3", *args)
    code, out = stop(proc, sig)
    assert code == (143 if sig == signal.SIGTERM else -signal.SIGKILL), out
    held = _trials(root, name)
    complete = {t.number: (t.params, t.value) for t in held if t.state == TrialState.COMPLETE}
    assert len(complete) == 2
    cut = held[2]
    new = {r.info.run_id: r for r in runs(store) if r.info.run_id not in before}
    study_run = next(r for r in new.values() if r.data.tags.get("toolkit.run_kind") == "tune")
    if sig == signal.SIGTERM:  # handled like Ctrl-C: the trial failed, its runs are closed
        assert cut.state == TrialState.FAIL
        assert study_run.info.status == "FAILED"
        assert study_run.data.tags["toolkit.failed_stage"] == "search"
        assert running(store) == []
    else:
        assert cut.state == TrialState.RUNNING
        assert len(running(store)) == 2  # the study's run and the trial's

    code, out = cli(root, *args, "--resume")
    assert code == 0, out
    after = {t.number: t for t in _trials(root, name)}
    for number, (params, value) in complete.items():  # no completed trial lost
        assert after[number].state == TrialState.COMPLETE
        assert (after[number].params, after[number].value) == (params, value)
    assert after[cut.number].state == TrialState.FAIL
    assert sum(t.state == TrialState.COMPLETE for t in after.values()) == 3
    assert not any(t.state == TrialState.RUNNING for t in after.values())
    assert running(store) == []
    trial_run = MlflowClient(store).get_run(cut.user_attrs["toolkit.mlflow_run_id"])
    assert trial_run.info.status == ("FAILED" if sig == signal.SIGTERM else "KILLED")
    assert MlflowClient(store).get_run(study_run.info.run_id).info.status == "FINISHED"


# -- run (the whole pipeline) --------------------------------------------------------------

def test_sigterm_during_run_marks_the_parent_failed_at_its_stage(work):
    root, store = work["root"], work["store"]
    before = {r.info.run_id for r in runs(store)}
    proc = launch(root, "train", "run", "fault.toml", "--tracking-uri", store)
    code, out = stop(proc, signal.SIGTERM)
    assert code == 143, out
    (parent,) = [r for r in runs(store) if r.info.run_id not in before]
    assert parent.info.status == "FAILED"
    assert parent.data.tags["toolkit.failed_stage"] == "train"
    assert running(store) == []


def test_sigkill_while_run_generates_its_world_then_the_rerun_completes(work):
    root, store = work["root"], work["store"]
    args = ("run", "fault.toml", "--tracking-uri", store, "--set", 'world.name="fault_run"')
    before = {r.info.run_id for r in runs(store)}
    proc = launch(root, "generate.block", *args)
    assert stop(proc, signal.SIGKILL)[0] == -signal.SIGKILL
    (parent,) = [r.info.run_id for r in runs(store) if r.info.run_id not in before]
    assert running(store) == [parent]
    assert not (root / "data/synthetic/fault_run").exists()
    assert len(stray(root)) == 1
    code, out = cli(root, *args)
    assert code == 0, out
    assert stray(root) == []
    verify(root / "data/synthetic/fault_run")
    assert MlflowClient(store).get_run(parent).info.status == "KILLED"
    assert running(store) == []


# -- the sweep itself ----------------------------------------------------------------------

def test_sweep_removes_leftovers_of_dead_writers_only_and_puts_a_set_aside_target_back(
        tmp_path):
    from toolkit.files import _host

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = _host()
    (tmp_path / f".ds.tmp-{dead.pid}-{host}-0123abcd").mkdir()
    (tmp_path / f".report.html.tmp-{dead.pid}-{host}-0123abcd").write_text("half")
    aside = tmp_path / f".kept.old-{dead.pid}-{host}-0123abcd"
    aside.mkdir()
    (aside / "manifest.json").write_text("{}")
    mine = tmp_path / f".other.tmp-{os.getpid()}-{host}-0123abcd"  # a live writer's
    mine.mkdir()
    other = "000000" if host != "000000" else "111111"
    elsewhere = tmp_path / f".x.tmp-{dead.pid}-{other}-0123abcd"  # another host's
    elsewhere.mkdir()
    assert len(leftovers(tmp_path)) == 3
    sweep(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["kept", mine.name, elsewhere.name])
    assert (tmp_path / "kept" / "manifest.json").read_text() == "{}"
