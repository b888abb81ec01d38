"""What a stage may do with a run: the :class:`Run` protocol, plain run records, a null run.

Workflows open runs through a store (:mod:`toolkit.tracking.mlflow_store` is the only one
today) and hand the open :class:`Run` to the stages, which only log to it.  A stage never
opens, closes or reopens a run, so a different tracker means a different store module and
nothing else.  :class:`NullRun` accepts everything and keeps nothing, for code paths that
track nothing (a tuning worker without a parent run, notebooks, tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd


@runtime_checkable
class Run(Protocol):
    """An open run.  Metric names are ``{split}_{metric}`` or ``explain_*``; params are the
    flattened config; artifact paths are relative (``figures/roc_ks.png``)."""

    run_id: str

    def log_params(self, params: dict[str, Any]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def set_tags(self, tags: dict[str, Any]) -> None: ...

    def log_dict(self, data: dict, path: str) -> None: ...

    def log_text(self, text: str, path: str) -> None: ...

    def log_frame(self, df: pd.DataFrame, path: str) -> None: ...

    def log_figure(self, fig, path: str) -> None: ...

    def log_file(self, local: str | Path, artifact_dir: str | None = None) -> None: ...

    def log_folder(self, local: str | Path, artifact_dir: str | None = None) -> None: ...

    def log_dataset(self, manifest_path: str | Path, *, name: str, digest: str,
                    context: str = "training") -> None: ...

    def log_xgboost(self, scorer, example: pd.DataFrame) -> dict: ...


class NullRun:
    """A run that records nothing: every logging call is accepted and dropped."""

    run_id = ""

    def __getattr__(self, name: str):
        if name.startswith(("log_", "set_")):
            return _ignore
        raise AttributeError(name)

    def log_xgboost(self, scorer, example) -> dict:
        return {"model_uri": ""}


def _ignore(*_: Any, **__: Any) -> None:
    return None


@dataclass(frozen=True)
class RunRecord:
    """A finished or running run as plain data, read back from a store.

    status: ``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``; name: the run's name.
    """

    run_id: str
    experiment_id: str
    status: str
    name: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
