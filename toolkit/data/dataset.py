"""Dataset directories: written once and atomically, hashed, verified on load.

A dataset directory holds Parquet tables and a ``manifest.json`` with the config, seed,
versions, row counts and the SHA-256 of every file.  It is built in a hidden temporary
folder beside the target and renamed into place only when complete, so a crash or an
interrupt never leaves a half-written dataset where a good one would be.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import DataError, InputError

TABLES = ("users", "history", "macro", "outcomes", "truth")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def dataset_hash(files: dict[str, str]) -> str:
    """One hash for a dataset: SHA-256 of its sorted ``{file: sha256}`` map."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


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
    """Context manager that builds a dataset in a temp folder and renames it into place."""

    def __init__(self, out: Path, *, overwrite: bool = False):
        self.out = Path(out)
        check_target(self.out, overwrite=overwrite)
        self.overwrite = overwrite
        self.tmp: Path | None = None
        self._streams: dict[str, Any] = {}

    def __enter__(self) -> DatasetWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for w in self._streams.values():
            w.close()
        if self.tmp is not None and self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)

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
        """Close streams, hash every file, write the manifest and rename into place."""
        for w in self._streams.values():
            w.close()
        self._streams.clear()
        files = {p.name: sha256_file(p) for p in sorted(self.tmp.iterdir())}
        manifest = {**manifest, "files": files, "dataset_hash": dataset_hash(files)}
        (self.tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if self.out.exists():
            old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
            os.replace(self.out, old)
            os.replace(self.tmp, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.out)
        self.tmp = None
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


def versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape generated bytes and models."""
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("zero-limit-toolkit", "numpy", "pandas", "pyarrow", "xgboost", "shap",
                "optuna", "mlflow", "scikit-learn"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out
