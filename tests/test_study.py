"""The multi-seed study: summary statistics by hand, the runs it logs, resume after a kill
(finished children are not redone, the files come out byte for byte the same) and bad
input."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import build_config
from toolkit.workflows.study import (
    Pair,
    child_config,
    pairs,
    study_config,
    study_key,
    summarize,
    world_config,
)

SMALL = {"world": {"n_users": 2500, "block_size": 1000},
         "model": {"n_estimators": 40, "early_stopping_rounds": 40},
         "study": {"world_seeds": 2, "model_seeds": 1, "workers": 1}}


def test_summary_statistics_by_hand():
    frame = pd.DataFrame({
        "world_seed": [0, 0, 1, 1, 2, 2],
        "model_seed": [0, 1, 0, 1, 0, 1],
        "a": [1.0, 3.0, 2.0, 2.0, 6.0, 4.0],
        "b": [1.0, np.nan, 1.0, 1.0, 1.0, 1.0],
    })
    s = summarize(frame)
    assert s.loc["a", "mean"] == 3.0
    assert s.loc["a", "sd"] == pytest.approx(np.std([1, 3, 2, 2, 6, 4], ddof=1))
    # the interval's units are the world means 2, 2, 5: sd sqrt(3), t(0.975, 2) = 4.3027
    half = 4.302652729911275 * math.sqrt(3.0) / math.sqrt(3.0)
    assert s.loc["a", "ci_low"] == pytest.approx(3.0 - half)
    assert s.loc["a", "ci_high"] == pytest.approx(3.0 + half)
    assert s.loc["a", "n"] == 6
    # a missing value is left out; a constant has a zero-width interval
    assert s.loc["b", "n"] == 5 and s.loc["b", "sd"] == 0.0
    assert s.loc["b", "ci_low"] == s.loc["b", "ci_high"] == 1.0
    # one world: its model seeds are the units
    one = summarize(frame[frame["world_seed"] == 0])
    assert one.loc["a", "ci_low"] == pytest.approx(2.0 - 12.706204736 * math.sqrt(2) /
                                                   math.sqrt(2))
    single = summarize(frame.iloc[:1])
    assert single.loc["a", "mean"] == 1.0 and np.isnan(single.loc["a", "sd"])
    assert np.isnan(single.loc["a", "ci_low"])


def test_pairs_worlds_and_children():
    cfg = study_config(build_config({"world": {"seed": 7}, "model": {"seed": 2}}),
                       world_seeds=2, model_seeds=3, workers=2)
    ps = pairs(cfg)
    assert [p.key for p in ps] == ["w7-m2", "w7-m3", "w7-m4", "w8-m2", "w8-m3", "w8-m4"]
    assert world_config(cfg, 7).world.name == "default"  # the experiment's own world
    assert world_config(cfg, 8).world.name == "default-seed8"
    child = child_config(cfg, Pair(8, 4))
    assert (child.world.seed, child.model.seed, child.model.nthread) == (8, 4, 1)
    # workers, threads and tracking do not change which study it is
    other = study_config(cfg, workers=1).model_copy(
        update={"tracking": cfg.tracking.model_copy(update={"experiment": "x"})})
    assert study_key(other, "s") == study_key(cfg, "s") != study_key(cfg, "t")
    assert study_key(study_config(cfg, model_seeds=2), "s") != study_key(cfg, "s")


def _store(root: Path) -> str:
    return f"sqlite:///{root / 'mlflow.db'}"


KILL_SCRIPT = textwrap.dedent("""
    import os, signal
    from toolkit.config import build_config
    from toolkit.workflows.hooks import Hooks
    from toolkit.workflows.study import study_experiment

    class Stop(Hooks):
        def start(self, stage):
            self.stage = stage

        def advance(self, done, total):
            if self.stage == "children" and done == 1:
                os.kill(os.getpid(), signal.SIGKILL)  # the first child is logged: die

    study_experiment(build_config({settings!r}), stem="baseline", uri={uri!r},
                     root={root!r}, hooks=Stop())
""")


@pytest.fixture(scope="module")
def killed_then_resumed(tmp_path_factory):
    """A 2-child study killed after its first child, then resumed from the command line."""
    from toolkit import tracking

    root = tmp_path_factory.mktemp("study")
    uri, worlds = _store(root), root / "worlds"
    script = KILL_SCRIPT.format(settings=SMALL, uri=uri, root=str(worlds))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    before = tracking.search_runs(uri, "zero-limit")
    parent = before[before["tags.toolkit.run_kind"] == "study"]
    children = before[before["tags.toolkit.run_kind"] == "study-child"]
    assert len(parent) == 1 and parent["status"].iloc[0] == "RUNNING"
    assert list(children["status"]) == ["FINISHED"]
    args = ["study", "experiments/baseline.toml", "--tracking-uri", uri, "--worlds", str(worlds),
            "--world-seeds", "2", "--model-seeds", "1", "--workers", "1"]
    for key, value in (("world.n_users", 2500), ("world.block_size", 1000),
                       ("model.n_estimators", 40), ("model.early_stopping_rounds", 40)):
        args += ["--set", f"{key}={value}"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return {"uri": uri, "root": root, "parent": parent["run_id"].iloc[0],
            "first_child": children["run_id"].iloc[0], "output": res.output, "args": args}


def _artifact(uri: str, run_id: str, path: str, dst: Path) -> bytes:
    from toolkit import tracking

    return tracking.download(run_id, path, uri, dst).read_bytes()


def test_resume_reuses_the_parent_and_does_not_redo_finished_children(killed_then_resumed,
                                                                      tmp_path):
    from toolkit import tracking

    k = killed_then_resumed
    assert "resumed: 1 children read back, 1 run" in k["output"]
    runs = tracking.search_runs(k["uri"], "zero-limit")
    parents = runs[runs["tags.toolkit.run_kind"] == "study"]
    assert list(parents["run_id"]) == [k["parent"]]
    assert parents["status"].iloc[0] == "FINISHED"
    children = tracking.child_runs(k["parent"], k["uri"]).sort_values("tags.toolkit.study_pair")
    assert list(children["tags.toolkit.study_pair"]) == ["w0-m0", "w1-m0"]
    assert list(children["status"]) == ["FINISHED", "FINISHED"]
    assert children["run_id"].iloc[0] == k["first_child"]  # read back, not redone
    rec = tracking.get_run(k["parent"], k["uri"])
    assert rec.metrics["study_children"] == 2 and rec.metrics["study_children_reused"] == 1
    for stat in ("mean", "sd", "ci_low", "ci_high"):
        assert f"explain_top1_group_accuracy_{stat}" in rec.metrics
        assert f"explain_top1_tolerant_accuracy_group_{stat}" in rec.metrics
    table = pd.read_csv(tracking.download(k["parent"], "study/metrics.csv", k["uri"], tmp_path))
    assert list(table[["world_seed", "model_seed"]].itertuples(index=False, name=None)) == \
        [(0, 0), (1, 0)]
    acc = table["explain_top1_group_accuracy"]
    assert rec.metrics["explain_top1_group_accuracy_mean"] == pytest.approx(acc.mean())
    assert rec.metrics["explain_top1_group_accuracy_sd"] == pytest.approx(acc.std(ddof=1))
    # the worlds were generated once each, under --worlds
    assert sorted(p.name for p in (k["root"] / "worlds").iterdir()) == \
        ["default", "default-seed1"]


def test_an_uninterrupted_study_with_two_workers_writes_the_same_files(killed_then_resumed,
                                                                       tmp_path):
    k = killed_then_resumed
    store = tmp_path / "fresh"
    store.mkdir()
    args = list(k["args"])
    args[args.index("--tracking-uri") + 1] = _store(store)
    args[args.index("--workers") + 1] = "2"
    res = CliRunner().invoke(app, args)  # the worlds of the killed study are reused
    assert res.exit_code == 0, res.output
    assert "2 children run" in res.output
    parent = res.output.split("study run: ")[1].split()[0]
    for name in ("study/metrics.csv", "study/summary.csv"):
        a = _artifact(k["uri"], k["parent"], name, tmp_path / "a")
        b = _artifact(_store(store), parent, name, tmp_path / "b")
        assert a == b, name


def test_bad_input_writes_nothing(tmp_path):
    from toolkit.synth import generate

    runner = CliRunner()
    uri = _store(tmp_path)
    res = runner.invoke(app, ["study", "experiments/baseline.toml", "--tracking-uri", uri,
                              "--world-seeds", "0"])
    assert res.exit_code == 2
    assert "--world-seeds must be a whole number from 1 to 100, got 0" in res.output
    res = runner.invoke(app, ["study", "experiments/own_table.toml", "--tracking-uri", uri])
    assert res.exit_code == 2
    assert "toolkit study varies world.seed, so it needs the synthetic world" in res.output
    # a folder holding a different world is refused before any run or world is made
    worlds = tmp_path / "worlds"
    other = world_config(build_config({"world": {"n_users": 2000, "block_size": 1000}}), 1)
    generate(config=other, out=worlds / "default-seed1")
    res = runner.invoke(app, ["study", "experiments/baseline.toml", "--tracking-uri", uri,
                              "--worlds", str(worlds), "--world-seeds", "2",
                              "--set", "world.n_users=2100", "--set", "world.block_size=1000"])
    assert res.exit_code == 2
    assert res.output.startswith("error: dataset ")  # no progress bar before the refusal
    assert "default-seed1' was generated from a different [world] (differs in n_users)" \
        in res.output
    assert not (tmp_path / "mlflow.db").exists()
    assert sorted(p.name for p in worlds.iterdir()) == ["default-seed1"]
