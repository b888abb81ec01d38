"""Shared fixtures: small synthetic worlds, generated once per test session."""

from __future__ import annotations

import pytest

from toolkit.config import build_config
from toolkit.data.dataset import load_dataset
from toolkit.synth import generate

SMALL_USERS = 4_000
REALISM_USERS = 30_000


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A 4,000-user default world: (path, manifest, Dataset)."""
    out = tmp_path_factory.mktemp("worlds") / "small"
    cfg = build_config({"world": {"n_users": SMALL_USERS, "block_size": 1_000}})
    manifest = generate(config=cfg, out=out)
    return out, manifest, load_dataset(out)


@pytest.fixture(scope="session")
def realism_world(tmp_path_factory):
    """A 30,000-user default world, large enough for rates to settle."""
    out = tmp_path_factory.mktemp("worlds") / "realism"
    cfg = build_config({"world": {"n_users": REALISM_USERS}})
    generate(config=cfg, out=out)
    return load_dataset(out)


E2E_USERS = 3_000
# An own table needs 50 rows of each class in every split: with the default world's
# out-of-time split and default rate, that takes about 8,000 users.
OWN_TABLE_USERS = 8_000
EXPERIMENT_ORDER = ("baseline", "no_tightening", "no_social_data", "stress_heavy", "tuned",
                    "own_table")


@pytest.fixture(scope="session")
def own_world(tmp_path_factory):
    """An 8,000-user default world and its flat export (``toolkit export-table``), the
    source of the own-table tests: ``(world folder, table.csv)``."""
    from typer.testing import CliRunner

    from toolkit.cli import app

    out = tmp_path_factory.mktemp("worlds") / "own"
    generate(config=build_config({"world": {"n_users": OWN_TABLE_USERS}}), out=out)
    table = out.parent / "own_table.csv"
    res = CliRunner().invoke(app, ["export-table", str(table), "--data", str(out)])
    assert res.exit_code == 0, res.output
    return out, table


@pytest.fixture(scope="session")
def e2e(tmp_path_factory, own_world):
    """Every experiment file run with ``toolkit run`` on small worlds into one sqlite store.

    Returns ``{"store": uri, "root": tmp folder, "results": {stem: CliResult},
    "data": default world folder}``.
    """
    from pathlib import Path

    from typer.testing import CliRunner

    from toolkit.cli import app

    root = tmp_path_factory.mktemp("e2e")
    store = f"sqlite:///{root / 'mlflow.db'}"
    runner = CliRunner()
    experiments = Path(__file__).parents[1] / "experiments"
    results = {}
    for stem in EXPERIMENT_ORDER:
        args = ["run", str(experiments / f"{stem}.toml"), "--tracking-uri", store,
                "--outputs", str(root / "outputs"), "--set", f"world.n_users={E2E_USERS}"]
        if stem == "own_table":
            args += ["--data", str(own_world[1])]
        else:
            world = "stress_heavy" if stem == "stress_heavy" else "default"
            args += ["--data", str(root / world)]
        if stem == "tuned":
            args += ["--set", "tune.trials=4", "--set", "model.n_estimators=80"]
        results[stem] = runner.invoke(app, args)
    return {"store": store, "root": root, "results": results, "data": root / "default"}
