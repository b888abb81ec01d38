"""Dataset directories: written once and atomically, hashed, verified on load.

A dataset directory holds Parquet tables and a ``manifest.json`` with the config, seed,
versions, row counts and the SHA-256 of every file.  It is built in a hidden temporary
folder beside the target and renamed into place only when complete, so a crash or an
interrupt never leaves a half-written dataset where a good one would be.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import DataError, InputError
from toolkit.files import staged_folder
from toolkit.provenance import dataset_hash, sha256_file

TABLES = ("users", "history", "macro", "outcomes", "truth")


def check_target(out: Path, *, overwrite: bool) -> None:
    """Refuse early (before any work) an existing target without overwrite, or no write access."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"output {str(out)!r} already exists; pass --overwrite to replace it")
    if out.exists() and not out.is_dir():
        raise InputError(f"output {str(out)!r} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise InputError(f"output {str(out)!r} is a folder that is not a dataset (no "
                         "manifest.json); --overwrite replaces only datasets or empty folders")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    try:  # a real probe: os.access says yes to root even on read-only mounts
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=parent))
    except OSError as err:
        raise InputError(
            f"output {str(out)!r} is not writable ({str(parent)!r}: {err.strerror})"
        ) from None


class DatasetWriter:
    """Context manager that builds a dataset in a hidden sibling folder; :meth:`commit`
    hashes it, writes the manifest and swaps it into place.  Leaving the ``with`` block
    without a commit (an error, an interrupt) discards everything written."""

    def __init__(self, out: Path, *, overwrite: bool = False):
        self.out = Path(out)
        check_target(self.out, overwrite=overwrite)
        self.tmp: Path | None = None
        self._stage = ExitStack()
        self._streams: dict[str, Any] = {}

    def __enter__(self) -> DatasetWriter:
        self.tmp = self._stage.enter_context(staged_folder(self.out))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._close_streams()
        if self.tmp is not None:  # no commit: the staged folder is removed, not swapped in
            self.tmp = None
            abort = exc or RuntimeError("dataset not committed")
            self._stage.__exit__(type(abort), abort, abort.__traceback__)

    def _close_streams(self) -> None:
        for w in self._streams.values():
            w.close()
        self._streams.clear()

    def write_table(self, name: str, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), self.tmp / f"{name}.parquet")

    def append(self, name: str, df: pd.DataFrame) -> None:
        """Append ``df`` as one row group of a streamed table (bounded memory)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        if name not in self._streams:
            self._streams[name] = pq.ParquetWriter(self.tmp / f"{name}.parquet", table.schema)
        self._streams[name].write_table(table)

    def close_stream(self, name: str) -> Path:
        """Finish a streamed table early (e.g. to read it back); returns its path."""
        self._streams.pop(name).close()
        return self.tmp / f"{name}.parquet"

    def commit(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Close streams, hash every file, write the manifest and swap the folder in."""
        self._close_streams()
        files = {p.name: sha256_file(p) for p in sorted(self.tmp.iterdir())}
        manifest = {**manifest, "files": files, "dataset_hash": dataset_hash(files)}
        (self.tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        self.tmp = None
        self._stage.close()
        return manifest


@dataclass
class Dataset:
    """A loaded synthetic dataset; tables as DataFrames, ``manifest`` as a dict."""

    path: Path
    manifest: dict[str, Any]
    users: pd.DataFrame
    history: pd.DataFrame
    macro: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return self.manifest["dataset_hash"]


def read_manifest(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    mf = path / "manifest.json"
    if not mf.is_file():
        raise DataError(f"{str(path)!r} is not a dataset: it has no manifest.json")
    try:
        manifest = json.loads(mf.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{str(mf)!r} is not valid JSON ({err}); regenerate the dataset") \
            from None
    missing = [k for k in ("files", "dataset_hash") if k not in manifest]
    if not isinstance(manifest, dict) or missing:
        raise DataError(f"{str(mf)!r} lacks {', '.join(missing) or 'its fields'}; "
                        "regenerate the dataset")
    return manifest


def verify(path: str | Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check every file against the manifest's SHA-256; raise DataError on any mismatch."""
    path = Path(path)
    manifest = manifest or read_manifest(path)
    for name, digest in manifest["files"].items():
        f = path / name
        if not f.is_file():
            raise DataError(f"dataset {str(path)!r} is missing {name}")
        if sha256_file(f) != digest:
            raise DataError(
                f"dataset {str(path)!r} is corrupt: {name} does not match its manifest hash; "
                "regenerate it with --overwrite"
            )
    if dataset_hash(manifest["files"]) != manifest.get("dataset_hash"):
        raise DataError(f"dataset {str(path)!r}: manifest dataset_hash does not match its files")
    return manifest


def load_dataset(path: str | Path, *, check: bool = True) -> Dataset:
    """Load all tables of a dataset directory; verifies hashes unless ``check=False``.

    Text columns (``segment``, ``regime`` ...) come back as pandas ``category``.
    """
    path = Path(path)
    manifest = verify(path) if check else read_manifest(path)
    tables = {}
    for name in TABLES:
        df = pd.read_parquet(path / f"{name}.parquet")
        for col in df.columns:
            if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
                df[col] = df[col].astype("category")
        tables[name] = df
    return Dataset(path=path, manifest=manifest, **tables)
