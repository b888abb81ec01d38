"""Tracking: a run handle protocol, plain run records, a null run, lineage, and the MLflow
store (the only module that imports mlflow).

    from toolkit import tracking
    uri = tracking.connect(None)
    with tracking.start_run(experiment="zero-limit", run_name="x", tags={}, uri=uri) as run:
        run.log_metrics({"test_auc": 0.88})

Workflows open runs; stages receive a :class:`Run` and only log to it.
"""

from toolkit.tracking.base import NullRun, Run, RunRecord
from toolkit.tracking.lineage import log_environment, log_lineage, standard_tags
from toolkit.tracking.mlflow_store import (
    DEFAULT_DB,
    SCHEMES,
    MlflowRun,
    champion,
    child_runs,
    connect,
    download,
    experiment_id,
    find_experiment_id,
    get_run,
    load_config_dict,
    model_run,
    register_model,
    resolve_uri,
    run_status,
    runs_url,
    search_runs,
    set_champion,
    sibling_run,
    start_run,
    terminate_run,
)

__all__ = [
    "DEFAULT_DB", "SCHEMES", "MlflowRun", "NullRun", "Run", "RunRecord", "champion",
    "child_runs", "connect", "download", "experiment_id", "find_experiment_id", "get_run",
    "load_config_dict", "log_environment", "log_lineage", "model_run", "register_model",
    "resolve_uri", "run_status", "runs_url", "search_runs", "set_champion", "sibling_run",
    "standard_tags", "start_run", "terminate_run",
]
