"""What every notebook starts from, so no notebook copies set-up code.

Environment variables choose the world, so the tests can run the notebooks small:
``TOOLKIT_NB_USERS`` (default 50,000, the default world), ``TOOLKIT_NB_DATA`` (default
``data/synthetic/default`` under the repository root; the study's other worlds go beside
it), ``TOOLKIT_NB_WORLD_SEEDS`` and ``TOOLKIT_NB_MODEL_SEEDS`` (default 5 and 3, the
study's) and ``MLFLOW_TRACKING_URI`` (default ``mlflow.db`` at the repository root).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from toolkit.config import ExperimentConfig, load_config
from toolkit.data.dataset import Dataset
from toolkit.source import load_or_generate


def repo_root() -> Path:
    """The repository root, whether Jupyter runs in it or in notebooks/."""
    cwd = Path.cwd()
    return cwd.parent if cwd.name == "notebooks" else cwd


def _data() -> Path:
    return Path(os.environ.get("TOOLKIT_NB_DATA",
                               repo_root() / "data" / "synthetic" / "default"))


def baseline_world() -> tuple[ExperimentConfig, Dataset]:
    """The baseline experiment's config (sized by ``TOOLKIT_NB_USERS``) and its dataset,
    generated into ``TOOLKIT_NB_DATA`` if missing."""
    users = int(os.environ.get("TOOLKIT_NB_USERS", "50000"))
    cfg = load_config(repo_root() / "experiments" / "baseline.toml",
                      [f"world.n_users={users}"])
    return cfg, load_or_generate(cfg, _data())


def baseline_study() -> tuple[ExperimentConfig, str, pd.DataFrame, pd.DataFrame]:
    """The baseline experiment's study (``toolkit study``) at the notebooks' size:
    ``(config, study run id, metrics per child, summary per metric)``.

    Read back from the store when it holds a finished study of the same settings; run
    otherwise (minutes: every child fits two models and an oracle), its worlds beside
    ``TOOLKIT_NB_DATA``.
    """
    from toolkit.workflows.study import (
        finished_study,
        read_study,
        study_config,
        study_experiment,
    )

    cfg, _ = baseline_world()
    cfg = study_config(cfg, world_seeds=int(os.environ.get("TOOLKIT_NB_WORLD_SEEDS", "5")),
                       model_seeds=int(os.environ.get("TOOLKIT_NB_MODEL_SEEDS", "3")))
    uri = tracking_uri()
    run_id = finished_study(cfg, "baseline", uri)
    if run_id is None:
        run_id = study_experiment(cfg, stem="baseline", uri=uri,
                                  root=_data().parent).parent_run_id
    metrics, summary = read_study(run_id, uri)
    return cfg, run_id, metrics, summary


def variant_world(cfg: ExperimentConfig, name: str, world: dict) -> tuple[ExperimentConfig,
                                                                           Dataset]:
    """The baseline world with ``world`` settings changed (e.g. a biased platform): its
    config and dataset, generated beside the baseline world's folder if missing."""
    from toolkit.config import build_config

    data = cfg.model_dump(mode="json", by_alias=True)
    data["world"] = {**data["world"], **world, "name": name}
    data["policy"] = {**data["policy"], **world.get("platform", {})}
    variant = build_config(data, source=f"notebook world {name}")
    root = repo_root()
    base = Path(os.environ.get("TOOLKIT_NB_DATA", root / "data" / "synthetic" / "default"))
    return variant, load_or_generate(variant, base.parent / name)


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else the repository's ``mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{repo_root() / 'mlflow.db'}")
