"""The MLflow store: the only module that imports mlflow.

Conventions (a contract other stages, notebooks and users rely on):

- store: ``--tracking-uri`` > ``MLFLOW_TRACKING_URI`` > ``tracking.uri`` in the config >
  the embedded ``sqlite:///<cwd>/mlflow.db``, always set explicitly (MLflow 3: an implicit
  store may silently switch to the deprecated file store);
- metrics ``{split}_{metric}``, explanation metrics ``explain_*``; params = flattened config;
- tags on every run: ``toolkit.dataset_hash``, ``toolkit.config_hash``, ``toolkit.git_commit``,
  ``toolkit.version``, ``toolkit.model_family``, and the process running it:
  ``toolkit.host``, ``toolkit.pid`` and ``toolkit.process_start``;
- a tuning study is a parent run and each trial a nested child run;
- a run that fails (an error, Ctrl-C, SIGTERM) ends FAILED with ``toolkit.failed_reason``;
  a run whose process died without a word (``kill -9``, power loss) is ended KILLED by the
  next command that opens the store on that host (:func:`close_dead_runs`);
- no secret is stored: every string logged as a param, tag, dict or text has the userinfo of
  its URLs redacted (``postgresql://user:***@host/db``).
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import InputError, Terminated
from toolkit.processes import alive, identity
from toolkit.safety import (
    TRACKING_SCHEMES,
    check_tracking_uri,
    first_line,
    redact,
    redact_value,
    sqlite_path,
)
from toolkit.tracking.base import RunRecord

DEFAULT_DB = "mlflow.db"
HOST_TAG, PID_TAG, START_TAG = "toolkit.host", "toolkit.pid", "toolkit.process_start"


def resolve_uri(uri: str | None = None, config_uri: str | None = None) -> str:
    """The tracking URI to use (see the module docstring for the order)."""
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or config_uri
    if chosen:
        return chosen
    return f"sqlite:///{(Path.cwd() / DEFAULT_DB).resolve()}"


def _artifact_root(uri: str) -> str | None:
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        return (db.parent / "mlartifacts").resolve().as_uri()
    return None


SCHEMES = TRACKING_SCHEMES


def connect(uri: str | None = None, config_uri: str | None = None, *,
            must_exist: bool = False) -> str:
    """Point mlflow at the store and check that it answers; InputError (within seconds)
    if it cannot be used.  It also ends the runs whose process died
    (:func:`close_dead_runs`), so every command that opens the store cleans up after a
    ``kill -9``.

    must_exist: for commands that only read runs, a missing sqlite file is an error rather
    than a new empty store.
    """
    import logging

    import mlflow

    uri = resolve_uri(uri, config_uri)
    check_tracking_uri(uri, must_exist=must_exist)
    shown = redact(uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow's INFO chatter (schema creation, uv detection) buries the toolkit's own output.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if uri.startswith(("http://", "https://")):
        # MLflow retries for minutes by default; a researcher wants an answer now.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as r:
                r.read()
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            raise InputError(
                f"tracking URI {shown!r} is unreachable ({redact(str(reason))}); start the "
                f"server or use --tracking-uri sqlite:///mlflow.db"
            ) from None
    elif uri.startswith("sqlite:///"):
        sqlite_path(uri).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    try:
        close_dead_runs(uri)
    except Exception as err:  # a database the driver reaches but refuses (credentials)
        raise InputError(f"tracking URI {shown!r} cannot be used "
                         f"({redact(first_line(err))})") from None
    return uri


def close_dead_runs(uri: str) -> list[str]:
    """End as KILLED every RUNNING run of this host whose process is gone; returns their ids.

    Runs carry the host, pid and start time of their process; a run without them (logged
    by another tool or an older toolkit) or of another host is left alone.
    """
    import socket

    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    host = socket.gethostname()
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    closed = []
    for i in range(0, len(ids), 50):
        token = None
        while True:
            page = client.search_runs(
                ids[i:i + 50], f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = "
                f"'{host}'", run_view_type=ViewType.ALL, max_results=500, page_token=token)
            for run in page:
                tags = run.data.tags
                if not tags.get(PID_TAG, "").isdigit() or alive(
                        {"host": host, "pid": tags[PID_TAG], "start": tags.get(START_TAG)}):
                    continue  # no process recorded (or a tag edited by hand): not ours
                client.set_tag(run.info.run_id, "toolkit.end_reason",
                               f"process {tags[PID_TAG]} on {host} ended without closing "
                               "the run (killed)")
                client.set_terminated(run.info.run_id, status="KILLED")
                closed.append(run.info.run_id)
            token = page.token
            if not token:
                break
    return closed


def process_tags() -> dict[str, str]:
    """The tags naming the process that runs a run (see :func:`close_dead_runs`)."""
    me = identity()
    return {HOST_TAG: me["host"], PID_TAG: str(me["pid"]), START_TAG: str(me["start"] or "")}


def experiment_id(name: str, uri: str) -> str:
    """Get or create the experiment; with sqlite, artifacts go beside the database."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(name, artifact_location=_artifact_root(uri))


def find_experiment_id(name: str, uri: str) -> str | None:
    """The id of experiment ``name`` in the store, or None (no such experiment, or a sqlite
    store that does not exist yet: it is not created to find out)."""
    from mlflow.tracking import MlflowClient

    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    exp = MlflowClient(uri).get_experiment_by_name(name)
    return None if exp is None else exp.experiment_id


def runs_url(base: str, experiment_id: str) -> str:
    """The MLflow UI address of an experiment's runs list.

    MLflow 3's UI opens an experiment on its GenAI view (traces), which lists no runs of a
    classic training workflow; ``workflowType=machine_learning`` selects the runs list.
    """
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}?workflowType=machine_learning"


class MlflowRun:
    """The :class:`~toolkit.tracking.base.Run` of one MLflow run.

    Every call names this run's id explicitly, so a handle logs to its own run even while a
    nested run is the active one (the parent of ``toolkit run`` is tagged from inside its
    children's stages).
    """

    def __init__(self, run_id: str, uri: str):
        from mlflow.tracking import MlflowClient

        self.run_id = run_id
        self._client = MlflowClient(uri)

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        self._client.log_batch(self.run_id, params=[
            Param(k, "" if v is None else redact(json.dumps(v)) if isinstance(v, list | dict)
                  else redact(str(v))) for k, v in params.items()])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        import math

        import mlflow

        clean = {k: float(v) for k, v in metrics.items()
                 if v is not None and not (isinstance(v, float) and math.isnan(v))}
        # The fluent call with an explicit run id also links the metrics to the run's
        # logged model, which a bare client batch would not.
        mlflow.log_metrics(clean, step=step, run_id=self.run_id)

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        self._client.log_batch(self.run_id,
                               tags=[RunTag(k, redact(str(v))) for k, v in tags.items()])

    def log_dict(self, data: dict, path: str) -> None:
        self._client.log_dict(self.run_id, redact_value(data), path)

    def log_text(self, text: str, path: str) -> None:
        self._client.log_text(self.run_id, redact(text), path)

    def log_frame(self, df: pd.DataFrame, path: str) -> None:
        """A table as an artifact: ``.parquet``, ``.csv`` or ``.html`` by the path's suffix."""
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / Path(path).name
            if f.suffix == ".parquet":
                df.to_parquet(f)
            elif f.suffix == ".html":
                f.write_text(df.to_html(), encoding="utf-8")
            else:
                df.to_csv(f, index=True)
            self.log_file(f, str(Path(path).parent) if "/" in path else None)

    def log_figure(self, fig, path: str) -> None:
        import matplotlib.pyplot as plt

        self._client.log_figure(self.run_id, fig, path)
        plt.close(fig)

    def log_file(self, local: str | Path, artifact_dir: str | None = None) -> None:
        self._client.log_artifact(self.run_id, str(local), artifact_dir)

    def log_folder(self, local: str | Path, artifact_dir: str | None = None) -> None:
        self._client.log_artifacts(self.run_id, str(local), artifact_dir)

    def log_dataset(self, manifest_path: str | Path, *, name: str, digest: str,
                    context: str = "training") -> None:
        """Dataset lineage: an MLflow dataset input with the dataset's manifest as source."""
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        with warnings.catch_warnings():
            # Two registered local sources both claim a file path; either is right here.
            warnings.filterwarnings("ignore", message="The specified dataset source can be "
                                    "interpreted in multiple ways")
            source = resolve_dataset_source(str(Path(manifest_path).resolve()))
        dataset = MetaDataset(source=source, name=name, digest=digest[:32])
        self._client.log_inputs(self.run_id, datasets=[DatasetInput(
            dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])])

    def log_xgboost(self, scorer, example: pd.DataFrame) -> dict:
        """Log the booster natively (ubj) with signature and input example.

        Also stores the exact bytes as ``scorer/model.ubj`` so ``reproduce`` can compare them.
        Nothing is registered here: only a champion candidate is (:func:`register_model`).
        Returns ``{"model_uri"}``.
        """
        import mlflow
        import mlflow.xgboost
        import xgboost
        from mlflow.models import infer_signature

        # A logged model attaches to the active run (MLflow's model API has no run id).
        active = mlflow.active_run()
        if active is None or active.info.run_id != self.run_id:
            raise RuntimeError(f"log_xgboost needs run {self.run_id} to be the active run")
        ex = example[scorer.features].head(5)
        sig = infer_signature(ex, scorer.predict_pd(ex))
        info = mlflow.xgboost.log_model(scorer.booster, name="model", signature=sig,
                                        input_example=ex, model_format="ubj",
                                        pip_requirements=[f"xgboost=={xgboost.__version__}"])
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "model.ubj"
            scorer.save(f)
            self.log_file(f, "scorer")
        return {"model_uri": info.model_uri}


@contextmanager
def start_run(*, experiment: str, run_name: str, tags: dict[str, str],
              uri: str, parent_run_id: str | None = None,
              run_id: str | None = None) -> Iterator[MlflowRun]:
    """Start (or resume, with ``run_id``) a run tagged with this process; a failure inside
    (an error, Ctrl-C, SIGTERM) marks it FAILED with ``toolkit.failed_reason``."""
    import mlflow

    exp_id = experiment_id(experiment, uri)
    kwargs: dict[str, Any] = {}
    if run_id is None:
        kwargs = {"experiment_id": exp_id, "run_name": run_name,
                  "tags": redact_value({**tags, **process_tags()})}
        if parent_run_id is not None:
            kwargs["parent_run_id"] = parent_run_id
            kwargs["nested"] = True
    else:
        kwargs = {"run_id": run_id, "nested": mlflow.active_run() is not None}
    active = mlflow.start_run(**kwargs)
    run = MlflowRun(active.info.run_id, uri)
    try:
        if run_id is not None:  # a resumed run now belongs to this process
            run.set_tags(process_tags())
        yield run
    except BaseException as err:
        try:
            run.set_tags({"toolkit.failed_reason": failure_reason(err)})
        except Exception:  # the store itself may be what failed; the status still matters
            pass
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")


def failure_reason(err: BaseException) -> str:
    """One line on why a run failed: ``SIGTERM``, ``interrupted`` or the error."""
    if isinstance(err, Terminated):
        return f"SIGTERM (signal {err.signum})"
    if isinstance(err, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(err).__name__}: {first_line(err)}"


# -- reading runs back -----------------------------------------------------------------------

def model_run(run_id: str, uri: str, family: str = "xgboost") -> str:
    """The run holding a model: ``run_id`` itself, or for a ``toolkit run`` parent run, its
    child of ``family`` (so the id printed first works everywhere)."""
    run = get_run(run_id, uri)
    if run.tags.get("toolkit.model_family") != "pipeline":
        return run_id
    from mlflow.tracking import MlflowClient

    found = MlflowClient(uri).search_runs(
        [run.experiment_id],
        f"tags.`mlflow.parentRunId` = '{run_id}' and tags.`toolkit.model_family` = '{family}'",
        order_by=["attributes.start_time DESC"], max_results=1)
    if not found:
        raise InputError(f"run {run_id!r} is a pipeline run without a {family} model run")
    return found[0].info.run_id


def get_run(run_id: str, uri: str) -> RunRecord:
    """The run as a plain record, or InputError if there is none with that id."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        run = MlflowClient(uri).get_run(run_id)
    except MlflowException:
        raise InputError(f"unknown run id {run_id!r} in tracking store {redact(uri)}") \
            from None
    return RunRecord(run_id=run.info.run_id, experiment_id=run.info.experiment_id,
                     status=run.info.status, name=run.info.run_name or "",
                     tags=dict(run.data.tags),
                     params=dict(run.data.params), metrics=dict(run.data.metrics))


def download(run_id: str, path: str, uri: str, dst: str | Path) -> Path:
    """Download one artifact of a run into ``dst``; InputError if the run has no such artifact."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return Path(MlflowClient(uri).download_artifacts(run_id, path, str(dst)))
    except (MlflowException, OSError):
        raise InputError(f"run {run_id!r} has no artifact {path!r}") from None


def load_config_dict(run_id: str, uri: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(download(run_id, "config.json", uri, tmp).read_text())


def search_runs(uri: str, experiment: str, filter_string: str = "") -> pd.DataFrame:
    """Runs of an experiment as a DataFrame (metrics.*, params.*, tags.* columns)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment], filter_string=filter_string)


def champion(model_name: str, uri: str, alias: str) -> dict | None:
    """The registered version behind ``alias``, with its run's test AUC and dataset hash;
    None when no version holds it."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    try:
        mv = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    run = client.get_run(mv.run_id) if mv.run_id else None
    return {
        "version": mv.version, "run_id": mv.run_id,
        "test_auc": run.data.metrics.get("test_auc") if run else None,
        "dataset_hash": run.data.tags.get("toolkit.dataset_hash") if run else None,
    }


def register_model(model_name: str, model_uri: str, run_id: str, uri: str) -> str:
    """Register the logged model ``model_uri`` (``models:/m-...``) of ``run_id`` as a new
    version of ``model_name`` (created when missing); returns the version."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        client.create_registered_model(model_name)
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    mv = client.create_model_version(model_name, source=model_uri, run_id=run_id,
                                     model_id=model_id)
    return str(mv.version)


def set_champion(model_name: str, version: str, uri: str, alias: str) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient(uri).set_registered_model_alias(model_name, alias, version)


# -- tuning studies (toolkit.tune) -------------------------------------------------------------

def run_status(run_id: str, uri: str) -> str | None:
    """``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``; None if the store has no such run."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient(uri).get_run(run_id).info.status
    except MlflowException:
        return None


def terminate_run(run_id: str, uri: str, status: str = "FAILED",
                  tags: dict[str, Any] | None = None) -> bool:
    """End a run left behind by a process that died (a killed tuning worker's trial run),
    setting ``tags`` on it first.

    Returns True if the run was running and is now ``status``.  A run already ended as
    KILLED or FAILED (by :func:`close_dead_runs`, say) still gets the tags; a FINISHED run
    is left alone.
    """
    from mlflow.tracking import MlflowClient

    state = run_status(run_id, uri)
    if state in (None, "FINISHED"):
        return False
    client = MlflowClient(uri)
    for k, v in (tags or {}).items():
        client.set_tag(run_id, k, redact(str(v)))
    if state != "RUNNING":
        return False
    client.set_terminated(run_id, status=status)
    return True


def child_runs(parent_run_id: str, uri: str) -> pd.DataFrame:
    """Runs nested directly under ``parent_run_id`` (tag ``mlflow.parentRunId``), any
    experiment, as a DataFrame (``run_id``, ``status``, ``tags.*``, ``params.*``,
    ``metrics.*``)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True,
                              filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'")


def sibling_run(run_id: str, uri: str, family: str) -> str | None:
    """The newest run of ``family`` from the same experiment file, data, config and parent."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    run = get_run(run_id, uri)
    tags = run.tags
    filters = [f"tags.`toolkit.model_family` = '{family}'"]
    for key in ("toolkit.experiment", "toolkit.dataset_hash", "toolkit.config_hash",
                "mlflow.parentRunId"):
        if key in tags:
            filters.append(f"tags.`{key}` = '{tags[key]}'")
    found = client.search_runs([run.experiment_id], " and ".join(filters),
                               order_by=["attributes.start_time DESC"], max_results=1)
    return found[0].info.run_id if found else None
