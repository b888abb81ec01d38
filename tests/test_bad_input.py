"""Every bad input: exit status 2, one line naming the problem, and nothing written.

A table of bad inputs to every command (experiment files, ``--set`` values, options,
datasets, tracking stores, Optuna storages, output paths).  Each case runs the command as
the console script does, in a work folder holding a small world, an MLflow store with one
training run and the experiment file; the folder's files (names, sizes and SHA-256) are
snapshotted before and after, and the difference must be empty.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import chdir, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from toolkit.cli import main
from toolkit.data.dataset import manifest_hash
from toolkit.provenance import dataset_hash, sha256_file

EXPERIMENT = """# bad-input tests: a small world and a small model
[world]
name = "tiny"
n_users = 700
block_size = 700

[model]
n_estimators = 20
nthread = 1

[scorecard]
enabled = false

[explain]
compare = ["path"]
"""
DATA = "data/synthetic/tiny"


@dataclass(frozen=True)
class Case:
    """One bad input.  ``args`` may name ``{case}`` (a folder for this case's files),
    ``{run}`` (the logged training run) and ``{exp}`` (the experiment file); ``setup``
    creates files in the case folder before the snapshot; ``env`` sets variables."""

    id: str
    args: tuple[str, ...]
    fragment: str
    setup: Callable[[Path, Path], None] | None = None
    env: tuple[tuple[str, str], ...] = ()


def cli(root: Path, args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with chdir(root), redirect_stdout(out), redirect_stderr(out):
        try:
            main(args)
        except SystemExit as done:
            return int(done.code or 0), out.getvalue()
    return 0, out.getvalue()


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root``: folders by name, files by size and SHA-256."""
    out: dict[str, tuple] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            out[rel] = ("dir",)
        else:
            out[rel] = (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def diff(before: dict, after: dict) -> list[str]:
    return sorted(f"{'+' if k not in before else '-' if k not in after else '~'} {k}"
                  for k in set(before) | set(after) if before.get(k) != after.get(k))


# -- setups: files a case needs, made in its own folder ---------------------------------------

def text(name: str, content: str | bytes) -> Callable[[Path, Path], None]:
    def make(case: Path, _root: Path) -> None:
        p = case / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return make


def folder(name: str, *, stray: bool = False) -> Callable[[Path, Path], None]:
    def make(case: Path, _root: Path) -> None:
        (case / name).mkdir(parents=True)
        if stray:
            (case / name / "notes.txt").write_text("not a dataset")
    return make


def exp(extra: str, name: str = "exp.toml") -> Callable[[Path, Path], None]:
    return text(name, EXPERIMENT + extra)


_locked: list[Path] = []


def lock(path: Path) -> None:
    """Make ``path`` read-only, even for root (an immutable file or folder); skip the case
    where the file system cannot."""
    if os.geteuid() != 0:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this file system cannot make a file read-only for root (chattr +i)")
    _locked.append(path)


def unlock_all() -> None:
    while _locked:
        path = _locked.pop()
        if os.geteuid() != 0:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        else:
            subprocess.run(["chattr", "-i", str(path)], check=True)


def readonly(kind: str, name: str) -> Callable[[Path, Path], None]:
    """A read-only ``name``: an empty folder (``dir``), a copy of the work folder's MLflow
    store (``store``), an SQLite file (``sqlite``), or the work folder's own store
    (``own-store``)."""
    def make(case: Path, root: Path) -> None:
        p = root / "mlflow.db" if kind == "own-store" else case / name
        if kind == "dir":
            p.mkdir()
        elif kind == "store":
            shutil.copyfile(root / "mlflow.db", p)
        elif kind == "sqlite":
            with sqlite3.connect(p) as db:
                db.execute("create table t (x)")
        lock(p)
    return make


def _rehash(ds: Path, manifest: dict, *, files: bool = True) -> None:
    """Write ``manifest`` back with hashes recomputed, as someone covering their tracks
    would (the hash formulas are public)."""
    if files:
        manifest["files"] = {n: sha256_file(ds / n) for n in manifest["files"]
                             if (ds / n).is_file()}
        manifest["dataset_hash"] = dataset_hash(manifest["files"])
    manifest["manifest_hash"] = manifest_hash(manifest)
    (ds / "manifest.json").write_text(json.dumps(manifest))


def dataset(change: Callable[[Path, dict], None]) -> Callable[[Path, Path], None]:
    """A copy of the work folder's dataset at ``{case}/ds``, then ``change(ds, manifest)``."""
    def make(case: Path, root: Path) -> None:
        ds = case / "ds"
        shutil.copytree(root / DATA, ds)
        change(ds, json.loads((ds / "manifest.json").read_text()))
    return make


def flip_byte(ds: Path, _m: dict) -> None:
    data = bytearray((ds / "history/part-00000.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (ds / "history/part-00000.parquet").write_bytes(bytes(data))


def drop_table(ds: Path, m: dict) -> None:
    shutil.rmtree(ds / "truth")
    for name in [k for k in m["files"] if k.startswith("truth/")]:
        del m["files"][name]
    _rehash(ds, m)


def files_as_list(ds: Path, m: dict) -> None:
    m["files"] = sorted(m["files"])
    (ds / "manifest.json").write_text(json.dumps(m))


def manifest_list(ds: Path, _m: dict) -> None:
    (ds / "manifest.json").write_text("[1, 2, 3]")


def manifest_garbage(ds: Path, _m: dict) -> None:
    (ds / "manifest.json").write_text("{not json")


def manifest_not_utf8(ds: Path, _m: dict) -> None:
    (ds / "manifest.json").write_bytes(b"\xff\xfe{}")


def no_dataset_hash(ds: Path, m: dict) -> None:
    del m["dataset_hash"]
    (ds / "manifest.json").write_text(json.dumps(m))


def no_manifest_hash(ds: Path, m: dict) -> None:
    del m["manifest_hash"]
    (ds / "manifest.json").write_text(json.dumps(m))


def edited_config(ds: Path, m: dict) -> None:
    m["config"]["world"]["seed"] = 99
    (ds / "manifest.json").write_text(json.dumps(m))


def garbage_parquet(ds: Path, m: dict) -> None:
    (ds / "users/part-00000.parquet").write_bytes(b"this is not parquet at all")
    _rehash(ds, m)


def missing_file(ds: Path, _m: dict) -> None:
    (ds / "history/part-00000.parquet").unlink()


def wrong_rows(ds: Path, m: dict) -> None:
    m["rows"]["users"] = 999
    _rehash(ds, m, files=False)


def foreign_file(ds: Path, m: dict) -> None:
    m["files"]["../escape.parquet"] = m["files"]["users/part-00000.parquet"]
    _rehash(ds, m, files=False)


def other_world(ds: Path, m: dict) -> None:
    m["config"]["world"]["seed"] = 5
    _rehash(ds, m, files=False)


def _sets(*pairs: str) -> tuple[str, ...]:
    out: list[str] = []
    for p in pairs:
        out += ["--set", p]
    return tuple(out)


def run(*more: str) -> tuple[str, ...]:
    return ("run", "{exp}", *more)


SAFE = "is not a safe name; it becomes a folder or file name"
INT = "must be of type int"

CASES: list[Case] = [
    # -- experiment files -----------------------------------------------------------------
    Case("exp-missing", ("run", "{case}/nope.toml"), "experiment file '"),
    Case("exp-folder", ("run", "{case}/dir.toml"), "is a folder; give a .toml file",
         folder("dir.toml")),
    Case("exp-not-utf8", ("run", "{case}/bad.toml"), "not valid UTF-8 text",
         text("bad.toml", b"# \xff\xfe\n[world]\n")),
    Case("exp-not-toml", ("run", "{case}/bad.toml"), "not valid TOML",
         text("bad.toml", "[world\n")),
    Case("exp-unknown-section", ("run", "{case}/exp.toml"),
         "unknown config key 'nosuch'", exp("[nosuch]\nx = 1\n")),
    Case("exp-unknown-key", ("run", "{case}/exp.toml"), "unknown config key 'model.depth'",
         exp("[model.depth]\nx = 1\n")),
    Case("exp-stem-space", ("run", "{case}/my exp.toml"), f"'my exp' {SAFE}",
         exp("", "my exp.toml")),
    Case("exp-stem-brackets", ("run", "{case}/a[1].toml"), f"'a[1]' {SAFE}",
         exp("", "a[1].toml")),
    Case("exp-schema-unknown-key", ("run", "{case}/exp.toml"),
         "allowed keys in [data.schema]: target, positive_label, categorical",
         exp('[data]\ntable = "t.csv"\n[data.schema]\ntarget = "y"\nnope = 1\n')),
    Case("exp-table-without-schema", ("run", "{case}/exp.toml"), "needs a [data.schema]",
         exp('[data]\ntable = "t.csv"\n')),
    Case("exp-tune-not-table", ("run", "{case}/t.toml"), "config key 'tune' must be a table",
         text("t.toml", "tune = 5\n")),
    Case("exp-world-not-table", ("run", "{case}/t.toml"), "config key 'world' must be a table",
         text("t.toml", "world = 3\n")),
    Case("exp-world-name-traversal", ("run", "{case}/exp.toml"), f"'../../x' {SAFE}",
         text("exp.toml", '[world]\nname = "../../x"\n')),
    Case("exp-bool-users", ("run", "{case}/t.toml"), f"'world.n_users' {INT}, got True",
         text("t.toml", "[world]\nn_users = true\n")),
    # -- --set: [world] -----------------------------------------------------------------------
    Case("users-bool", run(*_sets("world.n_users=true")), f"{INT}, got True"),
    Case("users-string", run(*_sets('world.n_users="1000"')), f"{INT}, got '1000'"),
    Case("users-zero", run(*_sets("world.n_users=0")), "from 1 to 100,000,000, got 0"),
    Case("users-negative", run(*_sets("world.n_users=-5")), "from 1 to 100,000,000, got -5"),
    Case("users-huge", run(*_sets("world.n_users=1000000000000")),
         "from 1 to 100,000,000, got 1,000,000,000,000"),
    Case("users-float", run(*_sets("world.n_users=1e20")), f"{INT}, got 1e+20"),
    Case("users-fraction", run(*_sets("world.n_users=2.5")), f"{INT}, got 2.5"),
    Case("users-one", run(*_sets('world.name="small"', "world.n_users=1")),
         "world.n_users=1 is too small"),
    Case("users-too-few", run(*_sets('world.name="small"', "world.n_users=400")),
         "allowed: world.n_users >= 457"),
    Case("users-too-few-random", run(*_sets('world.name="small"', "world.n_users=300",
                                            'split.method="random"')),
         "world.n_users=300 is too small to fill the three splits"),
    Case("seed-negative", run(*_sets("world.seed=-1")), "'world.seed'"),
    Case("seed-bool", run(*_sets("world.seed=true")), f"'world.seed' {INT}"),
    Case("history-short", run(*_sets("world.history_months=3")), "'world.history_months'"),
    Case("history-long", run(*_sets("world.history_months=100")), "'world.history_months'"),
    Case("calendar-huge", run(*_sets("world.calendar_months=1000")), "'world.calendar_months'"),
    Case("calendar-start-month", run(*_sets('world.calendar_start="2021-13"')),
         "'world.calendar_start'"),
    Case("calendar-start-int", run(*_sets("world.calendar_start=2021")),
         "'world.calendar_start' must be of type str"),
    Case("mix-sum", run(*_sets("world.segment_mix={student=0.5}")), "segment_mix sums to 0.5"),
    Case("mix-unknown", run(*_sets("world.segment_mix={alien=1.0}")),
         "unknown segment 'alien'"),
    Case("stress-outside", run(*_sets(
        'world.stress_episodes=[{start="2030-01",months=3,severity=1.0}]')),
        "lies outside the calendar"),
    Case("stress-severity", run(*_sets(
        'world.stress_episodes=[{start="2025-01",months=3,severity=0}]')), "severity"),
    Case("stress-threshold", run(*_sets('world.stress_threshold="low"')),
         "'world.stress_threshold' must be of type float"),
    Case("block-size", run(*_sets("world.block_size=10")), "'world.block_size'"),
    Case("name-traversal", run(*_sets('world.name="../../x"')), f"'../../x' {SAFE}"),
    Case("name-absolute", run(*_sets('world.name="/tmp/x"')), f"'/tmp/x' {SAFE}"),
    Case("name-empty", run(*_sets('world.name=""')), f"'' {SAFE}"),
    Case("name-hidden", run(*_sets('world.name=".hidden"')), f"'.hidden' {SAFE}"),
    Case("name-slash", run(*_sets('world.name="a/b"')), f"'a/b' {SAFE}"),
    Case("name-space", run(*_sets('world.name="a b"')), f"'a b' {SAFE}"),
    Case("name-dotdot", run(*_sets('world.name=".."')), f"'..' {SAFE}"),
    Case("name-long", run(*_sets('world.name="' + "x" * 101 + '"')), SAFE),
    Case("name-int", run(*_sets("world.name=5")), "'world.name' must be of type str"),
    Case("name-markup", run(*_sets('world.name="a[/]b"')), f"'a[/]b' {SAFE}"),
    Case("name-backslash", run(*_sets('world.name="a\\\\b"')), SAFE),
    Case("name-non-ascii", run(*_sets('world.name="世界"')), SAFE),
    Case("platform-cutoff", run(*_sets("world.platform.normal_cutoff=2")), "is outside (0, 1)"),
    # -- --set: [policy] ----------------------------------------------------------------------
    Case("cutoff-high", run(*_sets("policy.normal_cutoff=1.5")), "cutoff 1.5 is outside (0, 1)"),
    Case("cutoff-looser", run(*_sets("policy.stressed_cutoff=0.3")), "is looser than"),
    Case("tighten-int", run(*_sets("policy.tighten_in_stress=1")),
         "'policy.tighten_in_stress' must be of type bool"),
    Case("rule-feature", run(*_sets(
        'policy.rules=[{name="r",feature="nope",threshold=1}]')), "'nope'"),
    Case("rule-op", run(*_sets(
        'policy.rules=[{name="r",feature="inq_cnt_1m",op="==",threshold=1}]')),
        "'policy.rules.0.op'"),
    Case("min-limit", run(*_sets("policy.min_limit=-1")), "'policy.min_limit'"),
    Case("income-multiple", run(*_sets("policy.limit_income_multiple=0")),
         "'policy.limit_income_multiple'"),
    # -- --set: [split] -----------------------------------------------------------------------
    Case("split-method", run(*_sets('split.method="kfold"')), "'split.method'"),
    Case("split-empty-test", run(*_sets('split.train_end="2025-06"',
                                        'split.valid_end="2030-01"')),
         "split 'test' is empty"),
    Case("split-overlap", run(*_sets('split.valid_end="2023-01"')), "split boundaries overlap"),
    Case("split-bad-month", run(*_sets('split.train_end="bad"')), "'split.train_end'"),
    Case("split-fractions", run(*_sets('split.method="random"', "split.valid_fraction=0.6",
                                       "split.test_fraction=0.5")), "leaves no training rows"),
    Case("split-valid-zero", run(*_sets("split.valid_fraction=0")), "'split.valid_fraction'"),
    Case("split-test-one", run(*_sets("split.test_fraction=1")), "'split.test_fraction'"),
    Case("split-seed", run(*_sets("split.seed=-3")), "'split.seed'"),
    Case("split-train-early", run(*_sets('split.train_end="2021-06"')),
         "split 'train' is empty"),
    # -- --set: [features], [model], [scorecard], [explain] -----------------------------------
    Case("drop-group", run(*_sets('features.drop_groups=["nope"]')),
         "unknown reason group 'nope'"),
    Case("drop-features-string", run(*_sets('features.drop_features="x"')),
         "'features.drop_features'"),
    Case("depth-bool", run(*_sets("model.max_depth=true")), f"'model.max_depth' {INT}"),
    Case("depth-zero", run(*_sets("model.max_depth=0")), "'model.max_depth'"),
    Case("depth-fraction", run(*_sets("model.max_depth=2.5")), f"'model.max_depth' {INT}"),
    Case("depth-high", run(*_sets("model.max_depth=13")), "'model.max_depth'"),
    Case("eta-zero", run(*_sets("model.learning_rate=0")), "'model.learning_rate'"),
    Case("eta-string", run(*_sets('model.learning_rate="fast"')),
         "'model.learning_rate' must be of type float"),
    Case("subsample", run(*_sets("model.subsample=1.5")), "'model.subsample'"),
    Case("trees-bool", run(*_sets("model.n_estimators=true")), f"'model.n_estimators' {INT}"),
    Case("trees-zero", run(*_sets("model.n_estimators=0")), "'model.n_estimators'"),
    Case("nthread-zero", run(*_sets("model.nthread=0")), "'model.nthread'"),
    Case("device", run(*_sets('model.device="tpu"')), "'model.device'"),
    Case("monotone-int", run(*_sets("model.monotone=1")),
         "'model.monotone' must be of type bool"),
    Case("early-stop-zero", run(*_sets("model.early_stopping_rounds=0")),
         "'model.early_stopping_rounds'"),
    Case("model-seed", run(*_sets("model.seed=-1")), "'model.seed'"),
    Case("lambda", run(*_sets("model.reg_lambda=-1")), "'model.reg_lambda'"),
    Case("colsample", run(*_sets("model.colsample_bytree=0")), "'model.colsample_bytree'"),
    Case("child-weight", run(*_sets("model.min_child_weight=-1")), "'model.min_child_weight'"),
    Case("model-unknown", run(*_sets("model.nosuch=1")), "unknown config key 'model.nosuch'"),
    Case("bins", run(*_sets("scorecard.n_bins=1")), "'scorecard.n_bins'"),
    Case("card-enabled", run(*_sets('scorecard.enabled="yes"')),
         "'scorecard.enabled' must be of type bool"),
    Case("card-c", run(*_sets("scorecard.C=0")), "'scorecard.C'"),
    Case("card-pdo", run(*_sets("scorecard.pdo=-20")), "'scorecard.pdo'"),
    Case("top-k-zero", run(*_sets("explain.top_k=0")), "'explain.top_k'"),
    Case("top-k-high", run(*_sets("explain.top_k=11")), "'explain.top_k'"),
    Case("lang", run(*_sets('explain.lang="fr"')), "'explain.lang'"),
    Case("mode", run(*_sets('explain.mode="kernel"')), "'explain.mode'"),
    Case("compare", run(*_sets('explain.compare=["nope"]')), "'explain.compare.0'"),
    Case("background", run(*_sets("explain.background_size=5")), "'explain.background_size'"),
    Case("change-months", run(*_sets("explain.change_months=0")), "'explain.change_months'"),
    Case("recourse-horizon-set", run(*_sets("recourse.horizon=0")), "'recourse.horizon'"),
    Case("recourse-margin-set", run(*_sets("recourse.margin=-1")), "'recourse.margin'"),
    Case("recourse-unknown-key", run(*_sets("recourse.levers=1")), "recourse.levers"),
    # -- --set: [tracking] --------------------------------------------------------------------
    Case("model-name-traversal", run(*_sets('tracking.model_name="../evil"')),
         f"'../evil' {SAFE}"),
    Case("model-name-empty", run(*_sets('tracking.model_name=""')), f"'' {SAFE}"),
    Case("experiment-slash", run(*_sets('tracking.experiment="a/b"')), f"'a/b' {SAFE}"),
    Case("experiment-empty", run(*_sets('tracking.experiment=""')), f"'' {SAFE}"),
    Case("register-string", run(*_sets('tracking.register_model="no"')),
         "'tracking.register_model' must be of type bool"),
    Case("config-uri-memory", run(*_sets('tracking.uri="sqlite:///:memory:"')),
         "names no database file"),
    Case("config-uri-bare", run(*_sets('tracking.uri="sqlite:///"')), "names no database file"),
    Case("config-uri-scheme", run(*_sets('tracking.uri="ftp://x"')),
         "tracking URI 'ftp://x' is not supported"),
    # -- --set: [tune] ------------------------------------------------------------------------
    Case("tune-trials-zero", ("tune", "{exp}", *_sets("tune.trials=0")), "'tune.trials'"),
    Case("tune-trials-bool", ("tune", "{exp}", *_sets("tune.trials=true")),
         f"'tune.trials' {INT}"),
    Case("tune-workers-zero", ("tune", "{exp}", *_sets("tune.workers=0")), "'tune.workers'"),
    Case("tune-timeout", ("tune", "{exp}", *_sets("tune.timeout=-1")), "'tune.timeout'"),
    Case("tune-objectives-empty", ("tune", "{exp}", *_sets("tune.objectives=[]")),
         "objectives is empty"),
    Case("tune-objective-unknown", ("tune", "{exp}", *_sets('tune.objectives=["nope"]')),
         "unknown objective 'nope'"),
    Case("tune-objective-repeat", ("tune", "{exp}", *_sets(
        'tune.objectives=["val_auc","val_auc"]')), "objectives repeat a name"),
    Case("tune-space-unknown", ("tune", "{exp}", *_sets("tune.space={depth={low=1,high=3}}")),
         "unknown parameter 'depth'"),
    Case("tune-space-empty-range", ("tune", "{exp}", *_sets(
        "tune.space={max_depth={low=6,high=3}}")), "has an empty range"),
    Case("tune-pruner", ("tune", "{exp}", *_sets('tune.pruner="x"')), "'tune.pruner'"),
    Case("tune-storage-empty", ("tune", "{exp}", *_sets('tune.storage=""')), "must not be empty"),
    Case("tune-study-traversal", ("tune", "{exp}", *_sets('tune.study_name="../s"')),
         f"'../s' {SAFE}"),
    Case("tune-study-space", ("tune", "{exp}", *_sets('tune.study_name="a b"')),
         f"'a b' {SAFE}"),
    Case("tune-pareto-pick", ("tune", "{exp}", *_sets(
        'tune.objectives=["val_auc","val_ks"]', 'tune.pareto_pick="best_explain"')),
        "pareto_pick 'best_explain' needs an explanation objective"),
    Case("tune-own-table-explain", ("tune", "{case}/exp.toml"),
         "needs the synthetic world's truth", exp(
             '[data]\ntable = "t.csv"\n[data.schema]\ntarget = "y"\n[policy]\ncutoff = 0.2\n'
             '[tune]\nobjectives = ["val_auc", "val_explain_top1_group_accuracy"]\n')),
    # -- --set syntax ---------------------------------------------------------------------------
    Case("set-no-equals", run("--set", "world.n_users"), "is not of the form section.key=value"),
    Case("set-empty-part", run("--set", ".x=1"), "is not of the form section.key=value"),
    Case("set-double-dot", run("--set", "world..n=1"), "is not of the form section.key=value"),
    Case("set-unknown", run("--set", "nosuch.key=1"), "unknown config key 'nosuch'"),
    Case("set-conflict", run("--set", "world.n_users=1", "--set", "world.n_users.x=2"),
         "conflicts with another --set"),
    Case("set-word", run("--set", "world.n_users=abc"), f"{INT}, got 'abc'"),
    # -- generate -------------------------------------------------------------------------------
    Case("gen-users-zero", ("generate", "--users", "0"), "from 1 to 100,000,000, got 0"),
    Case("gen-users-word", ("generate", "--users", "abc"), "Invalid value for '--users'"),
    Case("gen-users-one", ("generate", "--users", "1"), "world.n_users=1 is too small"),
    Case("gen-users-huge", ("generate", "--users", "10000000000000"),
         "from 1 to 100,000,000"),
    Case("gen-seed-negative", ("generate", "--seed", "-1"), "'world.seed'"),
    Case("gen-workers-zero", ("generate", "--workers", "0"), "Invalid value for '--workers'"),
    Case("gen-exists", ("generate", "--config", "{exp}"),
         f"output '{DATA}' already exists; pass --overwrite"),
    Case("gen-out-file", ("generate", "--out", "{case}/file", "--overwrite"),
         "exists and is not a directory", text("file", "x")),
    Case("gen-out-not-dataset", ("generate", "--out", "{case}/notds", "--overwrite"),
         "is a folder that is not a dataset", folder("notds", stray=True)),
    Case("gen-out-under-file", ("generate", "--out", "{case}/file/sub"),
         "cannot be created: '", text("file", "x")),
    Case("gen-config-missing", ("generate", "--config", "{case}/nope.toml"), "does not exist"),
    Case("gen-config-folder", ("generate", "--config", "{case}/dir"), "is a folder",
         folder("dir")),
    Case("gen-name-traversal", ("generate", *_sets('world.name="../x"')), f"'../x' {SAFE}"),
    Case("gen-history-bool", ("generate", *_sets("world.history_months=true")),
         f"'world.history_months' {INT}"),
    Case("gen-unknown-option", ("generate", "--bogus"), "No such option: --bogus"),
    Case("gen-overwrite-value", ("generate", "--overwrite", "yes"), "Got unexpected extra"),
    # -- run: --data ---------------------------------------------------------------------------
    Case("data-file", run("--data", "{case}/t.csv"), "is a file; a synthetic experiment",
         text("t.csv", "a,b\n1,2\n")),
    Case("data-not-dataset", run("--data", "{case}/notds"), "exists but is not a dataset",
         folder("notds", stray=True)),
    Case("data-flipped-byte", run("--data", "{case}/ds"),
         "is corrupt: history/part-00000.parquet does not match its manifest hash",
         dataset(flip_byte)),
    Case("data-table-dropped", run("--data", "{case}/ds"), "its manifest lists no truth table",
         dataset(drop_table)),
    Case("data-files-list", run("--data", "{case}/ds"),
         "'files' must map each file name to its SHA-256", dataset(files_as_list)),
    Case("data-manifest-list", run("--data", "{case}/ds"), "is not a manifest",
         dataset(manifest_list)),
    Case("data-manifest-garbage", run("--data", "{case}/ds"), "is not valid JSON",
         dataset(manifest_garbage)),
    Case("data-manifest-not-utf8", run("--data", "{case}/ds"), "is not valid JSON",
         dataset(manifest_not_utf8)),
    Case("data-no-dataset-hash", run("--data", "{case}/ds"), "lacks dataset_hash",
         dataset(no_dataset_hash)),
    Case("data-no-manifest-hash", run("--data", "{case}/ds"), "has no manifest_hash",
         dataset(no_manifest_hash)),
    Case("data-manifest-edited", run("--data", "{case}/ds"),
         "manifest.json was changed after it was written", dataset(edited_config)),
    Case("data-garbage-parquet", run("--data", "{case}/ds"),
         "users/part-00000.parquet cannot be read as Parquet", dataset(garbage_parquet)),
    Case("data-missing-file", run("--data", "{case}/ds"), "is missing history/part-00000.parquet",
         dataset(missing_file)),
    Case("data-wrong-rows", run("--data", "{case}/ds"),
         "table users has 700 rows, its manifest says 999", dataset(wrong_rows)),
    Case("data-foreign-file", run("--data", "{case}/ds"), "is missing ../escape.parquet",
         dataset(foreign_file)),
    Case("data-other-world-strict", run("--data", "{case}/ds", "--strict"),
         "was generated from another [world] than the experiment's (differs in seed)",
         dataset(other_world)),
    Case("data-default-other-world", run(*_sets("world.seed=3")),
         "was generated from a different [world] (differs in seed)"),
    # -- run: tracking stores ------------------------------------------------------------------
    Case("uri-memory", run("--tracking-uri", "sqlite:///:memory:"), "names no database file"),
    Case("uri-bare-sqlite", run("--tracking-uri", "sqlite:///"), "names no database file"),
    Case("uri-two-slashes", run("--tracking-uri", "sqlite://"), "is not supported"),
    Case("uri-ftp", run("--tracking-uri", "ftp://x"), "is not supported"),
    Case("uri-bare-path", run("--tracking-uri", "mlruns"), "'mlruns' is not supported"),
    Case("uri-under-file", run("--tracking-uri", "sqlite:///{case}/file/mlflow.db"),
         "its folder cannot be created", text("file", "x")),
    Case("uri-folder", run("--tracking-uri", "sqlite:///{case}/adir"),
         "is a folder, not a database file", folder("adir")),
    Case("uri-not-sqlite", run("--tracking-uri", "sqlite:///{case}/x.db"),
         "is not an SQLite database", text("x.db", "hello, not a database\n")),
    Case("uri-unreachable", run("--tracking-uri", "http://127.0.0.1:9"), "is unreachable"),
    Case("uri-unreachable-secret", run("--tracking-uri", "http://u:hunter2@127.0.0.1:9"),
         "'http://u:***@127.0.0.1:9' is unreachable"),
    Case("uri-postgres-driver", run("--tracking-uri", "postgresql://u:hunter2@127.0.0.1/db"),
         "'postgresql://u:***@127.0.0.1/db' cannot be used (its driver 'psycopg'"),
    Case("uri-mysql-driver", run("--tracking-uri", "mysql://u:hunter2@127.0.0.1/db"),
         "cannot be used (its driver"),
    Case("uri-mssql-driver", run("--tracking-uri", "mssql://u:hunter2@127.0.0.1/db"),
         "cannot be used (its driver"),
    Case("uri-databricks", run("--tracking-uri", "databricks"), "no Databricks credentials"),
    Case("uri-env-memory", run(), "'sqlite:///:memory:' cannot be used",
         env=(("MLFLOW_TRACKING_URI", "sqlite:///:memory:"),)),
    Case("uri-env-secret", run(), "'postgresql://me:***@127.0.0.1/db' cannot be used",
         env=(("MLFLOW_TRACKING_URI", "postgresql://me:hunter2@127.0.0.1/db"),)),
    # -- run: outputs and arguments ----------------------------------------------------------
    Case("outputs-file", run("--outputs", "{case}/file"), "is a file, not a folder",
         text("file", "x")),
    Case("outputs-under-file", run("--outputs", "{case}/file/sub"), "cannot be created",
         text("file", "x")),
    Case("run-no-argument", ("run",), "Missing argument 'EXPERIMENT'"),
    Case("run-unknown-option", run("--nope"), "No such option: --nope"),
    Case("run-extra-argument", run("extra"), "Got unexpected extra argument"),
    # -- train --------------------------------------------------------------------------------
    Case("train-data-file", ("train", "{exp}", "--data", "{case}/t.csv"), "is a file",
         text("t.csv", "a\n1\n")),
    Case("train-uri-memory", ("train", "{exp}", "--tracking-uri", "sqlite:///:memory:"),
         "names no database file"),
    Case("train-depth-bool", ("train", "{exp}", *_sets("model.max_depth=true")),
         f"'model.max_depth' {INT}"),
    Case("train-corrupt", ("train", "{exp}", "--data", "{case}/ds"), "is corrupt",
         dataset(flip_byte)),
    Case("train-strict", ("train", "{exp}", "--data", "{case}/ds", "--strict"),
         "was generated from another [world]", dataset(other_world)),
    Case("train-model-name", ("train", "{exp}", *_sets('tracking.model_name="a/b"')),
         f"'a/b' {SAFE}"),
    # -- tune ---------------------------------------------------------------------------------
    Case("tune-flag-trials-zero", ("tune", "{exp}", "--trials", "0"),
         "--trials must be a whole number of at least 1, got 0"),
    Case("tune-flag-trials-negative", ("tune", "{exp}", "--trials", "-3"), "got -3"),
    Case("tune-flag-workers-zero", ("tune", "{exp}", "--workers", "0"),
         "--workers must be a whole number of at least 1, got 0"),
    Case("tune-flag-timeout-zero", ("tune", "{exp}", "--timeout", "0"),
         "--timeout must be a number of seconds above 0"),
    Case("tune-flag-timeout-negative", ("tune", "{exp}", "--timeout", "-5"), "got -5.0"),
    Case("tune-flag-trials-word", ("tune", "{exp}", "--trials", "abc"),
         "Invalid value for '--trials'"),
    Case("tune-storage-not-url", ("tune", "{exp}", "--storage", "optuna.db"),
         "storage 'optuna.db' is not a database URL"),
    Case("tune-storage-memory", ("tune", "{exp}", "--storage", "sqlite:///:memory:"),
         "names no database file"),
    Case("tune-storage-bare", ("tune", "{exp}", "--storage", "sqlite:///"),
         "names no database file"),
    Case("tune-storage-no-folder", ("tune", "{exp}", "--storage",
                                    "sqlite:///{case}/missing/optuna.db"),
         "its folder '"),
    Case("tune-storage-driver", ("tune", "{exp}", "--storage",
                                 "postgresql://u:hunter2@127.0.0.1/db"),
         "'postgresql://u:***@127.0.0.1/db' cannot be opened (its driver 'psycopg'"),
    Case("tune-storage-not-sqlite", ("tune", "{exp}", "--storage", "sqlite:///{case}/o.db"),
         "is not an SQLite database", text("o.db", "plain text")),
    Case("tune-storage-dialect", ("tune", "{exp}", "--storage", "nosuchdb://u:hunter2@h/d"),
         "'nosuchdb://u:***@h/d' cannot be opened (Can't load plugin"),
    Case("tune-resume-missing", ("tune", "{exp}", "--resume"), "--resume: there is no study"),
    Case("tune-data-corrupt", ("tune", "{exp}", "--data", "{case}/ds"), "is corrupt",
         dataset(flip_byte)),
    Case("tune-uri-memory", ("tune", "{exp}", "--tracking-uri", "sqlite:///:memory:"),
         "names no database file"),
    # -- explain, reproduce ---------------------------------------------------------------------
    Case("explain-unknown-run", ("explain", "0123456789abcdef0123456789abcdef"),
         "unknown run id '0123456789abcdef0123456789abcdef'"),
    Case("explain-top-zero", ("explain", "{run}", "--top", "0"), "top"),
    Case("explain-top-high", ("explain", "{run}", "--top", "11"), "top"),
    Case("explain-lang", ("explain", "{run}", "--lang", "fr"), "'fr'"),
    Case("explain-mode", ("explain", "{run}", "--mode", "kernel"), "unknown --mode 'kernel'"),
    Case("explain-html-folder", ("explain", "{run}", "--html", "{case}/adir"),
         "--html '", folder("adir")),
    Case("explain-html-under-file", ("explain", "{run}", "--html", "{case}/file/r.html"),
         "cannot be created", text("file", "x")),
    Case("explain-user-word", ("explain", "{run}", "--user", "abc"),
         "user id 'abc' is not in the data; ids here are whole numbers from"),
    Case("explain-unknown-user", ("explain", "{run}", "--user", "99999999"), "99999999"),
    Case("explain-no-store", ("explain", "{run}", "--tracking-uri", "sqlite:///{case}/n.db"),
         "no tracking store at '"),
    Case("explain-outputs-file", ("explain", "{run}", "--outputs", "{case}/file"),
         "is a file, not a folder", text("file", "x")),
    Case("explain-uri-scheme", ("explain", "{run}", "--tracking-uri", "ftp://x"),
         "is not supported"),
    Case("audit-unknown-run", ("audit", "0123456789abcdef0123456789abcdef"),
         "unknown run id '0123456789abcdef0123456789abcdef'"),
    Case("audit-retrains-high", ("audit", "{run}", "--retrains", "51"),
         "--retrains must be a whole number in 0..50, got 51"),
    Case("audit-retrains-negative", ("audit", "{run}", "--retrains", "-1"),
         "--retrains must be a whole number in 0..50, got -1"),
    Case("audit-retrains-word", ("audit", "{run}", "--retrains", "many"),
         "Invalid value for '--retrains'"),
    Case("audit-html-folder", ("audit", "{run}", "--html", "{case}/adir"),
         "--html '", folder("adir")),
    Case("audit-html-under-file", ("audit", "{run}", "--html", "{case}/file/r.html"),
         "cannot be created", text("file", "x")),
    Case("audit-no-store", ("audit", "{run}", "--tracking-uri", "sqlite:///{case}/n.db"),
         "no tracking store at '"),
    Case("audit-outputs-file", ("audit", "{run}", "--outputs", "{case}/file"),
         "is a file, not a folder", text("file", "x")),
    Case("audit-uri-scheme", ("audit", "{run}", "--tracking-uri", "ftp://x"),
         "is not supported"),
    # -- recourse ----------------------------------------------------------------------------
    Case("recourse-unknown-run", ("recourse", "0123456789abcdef0123456789abcdef"),
         "unknown run id '0123456789abcdef0123456789abcdef'"),
    Case("recourse-lang", ("recourse", "{run}", "--lang", "fr"), "'fr'"),
    Case("recourse-horizon-zero", ("recourse", "{run}", "--horizon", "0"),
         "horizon must be a whole number of months in 1..36, got 0"),
    Case("recourse-horizon-high", ("recourse", "{run}", "--horizon", "37"),
         "horizon must be a whole number of months in 1..36, got 37"),
    Case("recourse-horizon-word", ("recourse", "{run}", "--horizon", "year"),
         "Invalid value for '--horizon'"),
    Case("recourse-user-word", ("recourse", "{run}", "--user", "abc"),
         "Invalid value for '--user'"),
    Case("recourse-unknown-user", ("recourse", "{run}", "--user", "99999999"),
         "user id 99999999 is not in the data"),
    Case("recourse-html-folder", ("recourse", "{run}", "--html", "{case}/adir"),
         "--html '", folder("adir")),
    Case("recourse-html-under-file", ("recourse", "{run}", "--html", "{case}/file/r.html"),
         "cannot be created", text("file", "x")),
    Case("recourse-outputs-file", ("recourse", "{run}", "--outputs", "{case}/file"),
         "is a file, not a folder", text("file", "x")),
    Case("recourse-no-store", ("recourse", "{run}", "--tracking-uri", "sqlite:///{case}/n.db"),
         "no tracking store at '"),
    Case("recourse-uri-scheme", ("recourse", "{run}", "--tracking-uri", "ftp://x"),
         "is not supported"),
    Case("reproduce-unknown-run", ("reproduce", "0123456789abcdef0123456789abcdef"),
         "unknown run id"),
    Case("reproduce-no-store", ("reproduce", "{run}", "--tracking-uri",
                                "sqlite:///{case}/n.db"), "no tracking store at '"),
    Case("reproduce-uri-scheme", ("reproduce", "{run}", "--tracking-uri", "ftp://x"),
         "is not supported"),
    # -- ui -------------------------------------------------------------------------------------
    Case("ui-port-high", ("ui", "--port", "99999"), "--port must be in 1..65535, got 99999"),
    Case("ui-port-zero", ("ui", "--port", "0"), "--port must be in 1..65535, got 0"),
    Case("ui-port-negative", ("ui", "--port", "-1"), "--port must be in 1..65535, got -1"),
    Case("ui-port-word", ("ui", "--port", "abc"), "Invalid value for '--port'"),
    Case("ui-uri-scheme", ("ui", "--tracking-uri", "ftp://x"), "is not supported"),
    Case("ui-uri-server", ("ui", "--tracking-uri", "http://u:hunter2@127.0.0.1:5000"),
         "'http://u:***@127.0.0.1:5000' is an mlflow server"),
    Case("ui-store-under-file", ("ui", "--tracking-uri", "sqlite:///{case}/file/m.db"),
         "its folder cannot be created", text("file", "x")),
    Case("ui-store-not-sqlite", ("ui", "--tracking-uri", "sqlite:///{case}/x.db"),
         "is not an SQLite database", text("x.db", "plain text")),
    Case("ui-memory", ("ui", "--tracking-uri", "sqlite:///:memory:"), "names no database file"),
    # -- export-table, policy-compare -----------------------------------------------------------
    Case("export-suffix", ("export-table", "{case}/t.txt"), "must end in .csv or .parquet"),
    Case("export-exists", ("export-table", "{case}/t.csv"), "already exists; pass --overwrite",
         text("t.csv", "a\n")),
    Case("export-folder", ("export-table", "{case}/d.csv", "--overwrite"), "is a folder",
         folder("d.csv")),
    Case("export-under-file", ("export-table", "{case}/file/t.csv"), "cannot be created",
         text("file", "x")),
    Case("export-not-dataset", ("export-table", "{case}/t.csv", "--data", "{case}/notds"),
         "exists but is not a dataset", folder("notds", stray=True)),
    Case("export-missing-data", ("export-table", "{case}/t.csv", "--data", "{case}/none"),
         "does not exist; generate it first"),
    Case("export-config-missing", ("export-table", "{case}/t.csv", "--config",
                                   "{case}/nope.toml"), "does not exist"),
    Case("export-corrupt", ("export-table", "{case}/t.csv", "--data", "{case}/ds"),
         "is corrupt", dataset(flip_byte)),
    Case("export-own-table", ("export-table", "{case}/t.csv", "--config", "{case}/exp.toml"),
         "exports a synthetic world", exp('[data]\ntable = "t.csv"\n[data.schema]\n'
                                          'target = "y"\n[policy]\ncutoff = 0.2\n')),
    Case("policy-missing-data", ("policy-compare", "--data", "{case}/none"), "does not exist"),
    Case("policy-not-dataset", ("policy-compare", "--data", "{case}/notds"),
         "exists but is not a dataset", folder("notds", stray=True)),
    Case("policy-config-missing", ("policy-compare", "--config", "{case}/nope.toml"),
         "does not exist"),
    Case("policy-corrupt", ("policy-compare", "--data", "{case}/ds"), "is corrupt",
         dataset(flip_byte)),
    Case("policy-rule-feature", ("policy-compare", "--config", "{case}/exp.toml"), "'nope'",
         exp('[[policy.rules]]\nname = "r"\nfeature = "nope"\nthreshold = 1\n')),
    # -- read-only stores and folders ---------------------------------------------------------
    Case("ro-store-file", run("--tracking-uri", "sqlite:///{case}/ro.db"), "is not writable",
         readonly("store", "ro.db")),
    Case("ro-store-folder", run("--tracking-uri", "sqlite:///{case}/ro/mlflow.db"),
         "is not writable", readonly("dir", "ro")),
    Case("ro-default-store", run(), "mlflow.db' is not writable", readonly("own-store", "")),
    Case("ro-outputs", run("--outputs", "{case}/ro"), "output folder '", readonly("dir", "ro")),
    Case("ro-generate", ("generate", "--out", "{case}/ro/ds"), "is not writable",
         readonly("dir", "ro")),
    Case("ro-storage-file", ("tune", "{exp}", "--storage", "sqlite:///{case}/ro.db"),
         "is not writable", readonly("sqlite", "ro.db")),
    Case("ro-storage-folder", ("tune", "{exp}", "--storage", "sqlite:///{case}/ro/o.db"),
         "is not writable", readonly("dir", "ro")),
    Case("ro-export", ("export-table", "{case}/ro/t.csv"), "is not writable",
         readonly("dir", "ro")),
    Case("ro-html", ("explain", "{run}", "--html", "{case}/ro/r.html"), "is not writable",
         readonly("dir", "ro")),
    Case("ro-explain-outputs", ("explain", "{run}", "--outputs", "{case}/ro"),
         "is not writable", readonly("dir", "ro")),
    # -- the command line itself ----------------------------------------------------------------
    Case("no-such-command", ("nosuch",), "No such command 'nosuch'"),
    Case("debug-no-such-command", ("--debug", "nosuch"), "No such command 'nosuch'"),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The work folder: experiment file, the world at data/synthetic/tiny, an MLflow store
    with one training run."""
    root = tmp_path_factory.mktemp("bad-input")
    (root / "exp.toml").write_text(EXPERIMENT)
    code, out = cli(root, ["generate", "--config", "exp.toml"])
    assert code == 0, out
    code, out = cli(root, ["train", "exp.toml", "--tracking-uri",
                           f"sqlite:///{root / 'mlflow.db'}"])
    assert code == 0, out
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    (run,) = client.search_runs(ids)
    return root, run.info.run_id


def test_the_table_is_large_and_its_ids_unique():
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(work, case, monkeypatch):
    root, run_id = work
    folder_ = root / "case"
    folder_.mkdir()
    try:
        if case.setup is not None:
            case.setup(folder_, root)
        for key, value in case.env:
            monkeypatch.setenv(key, value)
        if not case.env:
            monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        args = [a.replace("{case}", str(folder_)).replace("{run}", run_id)
                .replace("{exp}", "exp.toml") for a in case.args]
        before = snapshot(root)
        code, out = cli(root, args)
        after = snapshot(root)
    finally:
        unlock_all()
        shutil.rmtree(folder_)
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 2, out
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    assert case.fragment in lines[0], out
    assert "hunter2" not in out
    assert diff(before, after) == []
