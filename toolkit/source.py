"""Where the model table comes from: the experiment's synthetic dataset or an own table.

:func:`prepare_table` is what a run uses (it generates the synthetic world when its folder
is empty); :func:`load_table` only reads, for code that rebuilds what a logged run saw; and
:func:`preflight` refuses bad input before a run is opened, so that it leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from toolkit.config import ExperimentConfig
from toolkit.data.dataset import Dataset, load_dataset, read_manifest
from toolkit.data.splits import check_split_plan
from toolkit.data.table import ModelTable, from_dataset, from_table, read_table, validate_table
from toolkit.errors import DataError
from toolkit.policy import LimitPolicy
from toolkit.synth import default_output, generate

Progress = Callable[[int, int], None]


def dataset_dir(cfg: ExperimentConfig, data: str | Path | None = None) -> Path:
    """The dataset folder: ``data`` when given, else ``data/synthetic/<world.name>``."""
    return Path(data) if data is not None else default_output(cfg)


def check_dataset(cfg: ExperimentConfig, data: str | Path | None = None) -> tuple[Path, bool]:
    """Cheap checks of the experiment's dataset folder, before any work.

    Returns ``(folder, missing)``; raises DataError for a file given as --data, a folder
    that is not a dataset, or (for the default folder) a dataset of a different ``[world]``.
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
    stored = read_manifest(path).get("config", {}).get("world")
    wanted = cfg.world.model_dump(mode="json", by_alias=True)
    if data is None and stored is not None and stored != wanted:
        keys = sorted(k for k in wanted if stored.get(k) != wanted[k])
        raise DataError(
            f"dataset {str(path)!r} was generated from a different [world] (differs in "
            f"{', '.join(keys)}); give this experiment its own world.name or regenerate with "
            f"'toolkit generate --config ... --overwrite'"
        )
    return path, False


def load_or_generate(cfg: ExperimentConfig, data: str | Path | None = None, *,
                     progress: Progress | None = None, workers: int = 1) -> Dataset:
    """The experiment's dataset: reuse it when its world config matches, else generate it.

    A dataset whose files do not match its manifest is refused (DataError); one generated
    from a different ``[world]`` is refused too, rather than silently mixing worlds.
    """
    path, missing = check_dataset(cfg, data)
    if missing:
        generate(config=cfg, out=path, overwrite=path.exists(), progress=progress,
                 workers=workers)
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


def load_table(cfg: ExperimentConfig, data: str | Path) -> ModelTable:
    """The model table of existing data; never generates (DataError when it is missing)."""
    if cfg.data.table is not None:
        return from_table(Path(data), cfg)
    path, missing = check_dataset(cfg, data)
    if missing:
        raise DataError(f"dataset {str(path)!r} does not exist; regenerate it with "
                        "'toolkit generate' from the run's config.json")
    return from_dataset(load_dataset(path), cfg)


def preflight(cfg: ExperimentConfig, data: str | Path | None = None) -> None:
    """Refuse bad input before a run is opened, so that it leaves nothing behind.

    Checks the monitoring rules; that the split boundaries and gap leave every split
    labelled observation months and that the world is large enough to fill them
    (:func:`toolkit.data.splits.check_split_plan`); and the dataset folder or own table with
    its schema.
    """
    if cfg.data.table is not None:
        path = own_table_path(cfg, data)
        validate_table(read_table(path), cfg.data.table_schema, str(path))
        return
    LimitPolicy(cfg.policy)
    check_split_plan(cfg.split, cfg.world)
    check_dataset(cfg, data)
