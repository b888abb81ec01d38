"""Where the model table comes from: the experiment's synthetic dataset or an own table.

:func:`prepare_table` is what a run uses (it generates the synthetic world when its folder
is empty); :func:`load_table` only reads, for code that rebuilds what a logged run saw;
:func:`preflight` runs every check of the input before a run is opened or a file written,
so that bad input leaves nothing behind; and :func:`open_table` is the Python entry for an
own table without an experiment file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from toolkit.config import (
    ExperimentConfig,
    SplitConfig,
    TableSchema,
    build_config,
    with_overrides,
)
from toolkit.data.dataset import (
    Dataset,
    check_target,
    load_dataset,
    read_manifest,
    table_parts,
    verify,
)
from toolkit.data.splits import assign_splits, check_split_plan
from toolkit.data.table import ModelTable, from_dataset, from_table, preflight_table
from toolkit.errors import DataError, InputError
from toolkit.files import TargetExists, sweep
from toolkit.policy import LimitPolicy
from toolkit.safety import check_name, check_storage_url, check_tracking_uri, check_writable
from toolkit.synth import default_output, generate
from toolkit.synth.generate import check_disk

Progress = Callable[[int, int], None]


def dataset_dir(cfg: ExperimentConfig, data: str | Path | None = None) -> Path:
    """The dataset folder: ``data`` when given, else ``data/synthetic/<world.name>``."""
    return Path(data) if data is not None else default_output(cfg)


def check_dataset(cfg: ExperimentConfig, data: str | Path | None = None, *,
                  same_world: bool | None = None) -> tuple[Path, bool]:
    """Cheap checks of the experiment's dataset folder, before any work.

    Returns ``(folder, missing)``; raises DataError for a file given as --data, a folder
    that is not a dataset, or a dataset of a different ``[world]`` when ``same_world``
    (default: for the default folder only; a folder named on purpose is taken as it is).
    File hashes are verified later, when the dataset is loaded.
    """
    path = dataset_dir(cfg, data)
    if path.is_file():
        raise DataError(f"--data {str(path)!r} is a file; a synthetic experiment needs a "
                        "dataset folder (a table needs a [data] table = ... section)")
    if not (path / "manifest.json").is_file():
        if path.exists() and any(path.iterdir()):
            raise DataError(f"{str(path)!r} exists but is not a dataset (no manifest.json)")
        return path, True
    stored = _as_current(read_manifest(path).get("config", {}).get("world"))
    wanted = cfg.world.model_dump(mode="json", by_alias=True)
    if same_world is None:
        same_world = data is None
    if same_world and stored is not None and stored != wanted:
        keys = sorted(k for k in wanted if stored.get(k) != wanted[k])
        raise DataError(
            f"dataset {str(path)!r} was generated from a different [world] (differs in "
            f"{', '.join(keys)}); give this experiment its own world.name or regenerate with "
            f"'toolkit generate --config ... --overwrite'"
        )
    return path, False


def _as_current(world: dict | None) -> dict | None:
    """A stored ``[world]`` with the settings added since it was written at their defaults.

    A setting that is off by default leaves the default world's bytes unchanged, so a
    dataset written before the setting existed is the world with it off.  A stored world
    the current settings reject is returned as it is (and differs).
    """
    from pydantic import ValidationError

    from toolkit.config import WorldConfig

    if world is None:
        return None
    try:
        return WorldConfig.model_validate(world).model_dump(mode="json", by_alias=True)
    except ValidationError:
        return world


def load_or_generate(cfg: ExperimentConfig, data: str | Path | None = None, *,
                     progress: Progress | None = None, workers: int = 1) -> Dataset:
    """The experiment's dataset: reuse it when its world config matches, else generate it.

    A dataset whose files do not match its manifest is refused (DataError); one generated
    from a different ``[world]`` is refused too, rather than silently mixing worlds.
    """
    path, missing = check_dataset(cfg, data)
    if missing:
        try:
            generate(config=cfg, out=path, overwrite=path.exists(), progress=progress,
                     workers=workers)
        except TargetExists:
            # another process generated it meanwhile: the same world gives the same bytes,
            # and a different one is refused by the check
            path, missing = check_dataset(cfg, data)
            if missing:
                raise
    return load_dataset(path)


def own_table_path(cfg: ExperimentConfig, data: str | Path | None = None) -> Path:
    """The own table's file: ``data`` when given, else ``[data] table``."""
    return Path(data) if data is not None else Path(cfg.data.table)


def prepare_table(cfg: ExperimentConfig, data: str | Path | None = None, *,
                  progress: Progress | None = None) -> tuple[ModelTable, Path]:
    """The model table and its lineage file (dataset manifest or own table), generating the
    synthetic world first when its folder is empty."""
    if cfg.data.table is not None:
        path = own_table_path(cfg, data)
        return from_table(path, cfg), path
    ds = load_or_generate(cfg, data, progress=progress)
    return from_dataset(ds, cfg), ds.path / "manifest.json"


def open_table(path: str | Path, schema: TableSchema | Mapping[str, Any], *,
               encoding: str | None = None, delimiter: str | None = None,
               split: SplitConfig | Mapping[str, Any] | None = None) -> ModelTable:
    """An own table as the model table ``toolkit run`` builds from ``[data] table = path``
    with this ``[data.schema]`` (and ``[data] encoding``, ``delimiter``, ``[split]``).

    schema: a :class:`~toolkit.config.TableSchema` or its keys as a dict, e.g.
    ``{"target": "bad", "positive_label": 1, "categorical": ["purpose"]}``.
    Every check of the input contract applies (DataError / ConfigError, one line); a
    feature whose name suggests a protected attribute gives a ProtectedAttributeWarning.
    """
    cfg = build_config({
        "data": {"table": str(path), "encoding": encoding, "delimiter": delimiter,
                 "schema": schema.model_dump() if isinstance(schema, TableSchema) else
                 dict(schema)},
        "split": split.model_dump() if isinstance(split, SplitConfig) else dict(split or {}),
        # the decision rule is the experiment's business; any valid one builds the table
        "policy": {"cutoff": 0.5}}, source="open_table")
    return from_table(path, cfg)


def load_table(cfg: ExperimentConfig, data: str | Path) -> ModelTable:
    """The model table of existing data; never generates (DataError when it is missing)."""
    if cfg.data.table is not None:
        return from_table(Path(data), cfg)
    path, missing = check_dataset(cfg, data)
    if missing:
        raise DataError(f"dataset {str(path)!r} does not exist; regenerate it with "
                        "'toolkit generate' from the run's config.json")
    return from_dataset(load_dataset(path), cfg)


def world_of_data(cfg: ExperimentConfig, data: str | Path, *,
                  strict: bool = False) -> ExperimentConfig:
    """``cfg`` with the ``[world]`` of the dataset ``data`` was generated from.

    A ``--data`` folder of another world is what the run really sees, so its world is what
    the params log; with ``strict`` a mismatch is refused instead (DataError).
    """
    stored = read_manifest(data).get("config", {}).get("world")
    wanted = cfg.world.model_dump(mode="json", by_alias=True)
    if not isinstance(stored, dict) or stored == wanted:
        return cfg
    keys = sorted(k for k in set(wanted) | set(stored) if stored.get(k) != wanted.get(k))
    if strict:
        raise DataError(
            f"--data {str(data)!r} was generated from another [world] than the experiment's "
            f"(differs in {', '.join(keys)}); drop --strict to run on it with its own world, "
            "or give the experiment's world")
    try:
        return with_overrides(cfg, world=stored)
    except InputError as err:
        raise DataError(f"--data {str(data)!r}: the [world] in its manifest is not valid "
                        f"({err}); regenerate the dataset") from None


def preflight(cfg: ExperimentConfig, data: str | Path | None = None, *,
              stem: str | None = None, uri: str | None = None, storage: str | None = None,
              outputs: str | Path | None = None, strict: bool = False) -> ExperimentConfig:
    """Every check of a run's input, before a run is opened or a file is written.

    stem: the experiment file's stem (it names runs, studies and output folders, so it must
    be a safe name); uri: the resolved tracking URI; storage: the resolved Optuna storage
    URL (tuning only); outputs: the local output folder, which must be writable.

    Synthetic data: the monitoring rules, the split plan (boundaries and gap leave every
    split labelled months, and the world is large enough to fill them:
    :func:`toolkit.data.splits.check_split_plan`), and either the existing dataset (every
    file hashed, its splits non-empty) or, when it will be generated, a writable target
    with room for it on the disk.  An own table: its file and schema.  Returns the config
    the run must use: for ``--data`` of another world, the world it was generated from
    (refused with ``strict``).  Finally, the leftovers of killed writers in the dataset and
    output folders are removed.
    """
    if stem is not None:
        check_name(stem, "experiment file name")
    if uri is not None:
        check_tracking_uri(uri)
    if storage is not None:
        check_storage_url(storage)
    if outputs is not None:
        check_writable(outputs, "output folder")
    if cfg.data.table is not None:
        schema = cfg.data.table_schema
        if cfg.explain.mode == "interventional" and schema.categorical:
            raise DataError(
                f"[explain] mode = \"interventional\" cannot explain the categorical column"
                f"{'s' if len(schema.categorical) > 1 else ''} "
                f"{', '.join(map(repr, schema.categorical))} (shap has no interventional "
                "algorithm for categorical splits); use mode = \"path\"")
        # every check of toolkit.data.table.check_table: file, encoding, schema, splits
        preflight_table(own_table_path(cfg, data), cfg)
    else:
        LimitPolicy(cfg.policy)
        path, missing = check_dataset(cfg, data)
        if not missing:
            verify(path)
            if data is not None:
                cfg = world_of_data(cfg, path, strict=strict)
        check_split_plan(cfg.split, cfg.world)
        if missing:
            check_target(path, overwrite=path.exists())
            check_disk(cfg, path)
        else:
            _check_dataset_splits(cfg, path)
        sweep(path.parent)
    if outputs is not None:
        sweep(outputs, depth=1)
    return cfg


def _check_dataset_splits(cfg: ExperimentConfig, path: Path) -> None:
    """Every split of an existing dataset has users (its observation months, read alone)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = table_parts(path, "users", read_manifest(path))
    users = pa.concat_tables([pq.read_table(p, columns=["user_id", "obs_month"])
                              for p in parts])
    assign_splits(users["obs_month"].to_numpy(), users["user_id"].to_numpy(), cfg.split,
                  cfg.world)
