"""What every notebook starts from, so no notebook copies set-up code.

Environment variables choose the world, so the tests can run the notebooks small:
``TOOLKIT_NB_USERS`` (default 50,000, the default world), ``TOOLKIT_NB_DATA`` (default
``data/synthetic/default`` under the repository root) and ``MLFLOW_TRACKING_URI`` (default
``mlflow.db`` at the repository root).
"""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.config import ExperimentConfig, load_config
from toolkit.data.dataset import Dataset
from toolkit.source import load_or_generate


def repo_root() -> Path:
    """The repository root, whether Jupyter runs in it or in notebooks/."""
    cwd = Path.cwd()
    return cwd.parent if cwd.name == "notebooks" else cwd


def baseline_world() -> tuple[ExperimentConfig, Dataset]:
    """The baseline experiment's config (sized by ``TOOLKIT_NB_USERS``) and its dataset,
    generated into ``TOOLKIT_NB_DATA`` if missing."""
    root = repo_root()
    users = int(os.environ.get("TOOLKIT_NB_USERS", "50000"))
    data = Path(os.environ.get("TOOLKIT_NB_DATA", root / "data" / "synthetic" / "default"))
    cfg = load_config(root / "experiments" / "baseline.toml", [f"world.n_users={users}"])
    return cfg, load_or_generate(cfg, data)


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else the repository's ``mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{repo_root() / 'mlflow.db'}")
