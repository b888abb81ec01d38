"""Shared fixtures: small synthetic worlds, generated once per test session."""

from __future__ import annotations

import pytest

from toolkit.config import build_config
from toolkit.dataset import load_dataset
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
