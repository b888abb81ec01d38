"""Lineage: the tags and artifacts every run carries so that it can be traced and re-run.

Tags on every run: ``toolkit.dataset_hash``, ``toolkit.config_hash``, ``toolkit.git_commit``,
``toolkit.version``, ``toolkit.model_family`` (plus ``toolkit.<key>`` for each extra).
Artifacts of a model run: ``config.json`` (the resolved config), ``lineage.json`` (the
experiment, the data path and its hash), the dataset's ``manifest.json``, ``uv.lock`` and the
installed versions under ``environment/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit.provenance import git_commit, lock_file, toolkit_version, versions
from toolkit.tracking.base import Run


def standard_tags(*, dataset_hash: str, config_hash: str, model_family: str,
                  **extra: Any) -> dict[str, str]:
    """The tags every run carries; ``extra`` keys become ``toolkit.<key>``."""
    tags = {
        "toolkit.dataset_hash": dataset_hash,
        "toolkit.config_hash": config_hash,
        "toolkit.git_commit": git_commit(),
        "toolkit.version": toolkit_version(),
        "toolkit.model_family": model_family,
    }
    tags.update({f"toolkit.{k}": str(v) for k, v in extra.items()})
    return tags


def log_environment(run: Run) -> None:
    """Locked dependencies: ``uv.lock`` when the checkout has one, and installed versions."""
    lock = lock_file()
    if lock is not None:
        run.log_file(lock, "environment")
    run.log_dict(versions(), "environment/versions.json")


def log_lineage(run: Run, cfg, *, dataset_hash: str, source: str, lineage: Path,
                stem: str) -> None:
    """What every model run of an experiment carries: params, config, data lineage,
    environment.

    cfg: the :class:`~toolkit.config.ExperimentConfig`; lineage: the dataset's
    ``manifest.json`` or the own table's file; source: ``synthetic`` or the table's kind.
    """
    run.log_params(cfg.flat())
    run.log_dict(cfg.model_dump(mode="json", by_alias=True), "config.json")
    run.log_dict({"experiment": stem, "data": str(lineage.resolve()),
                  "dataset_hash": dataset_hash}, "lineage.json")
    if lineage.name == "manifest.json":
        run.log_file(lineage, "dataset")
    run.log_dataset(lineage, name=f"{stem}:{source}", digest=dataset_hash)
    log_environment(run)
