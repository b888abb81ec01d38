"""Dataset directories: written once and atomically, hashed, verified on load.

A dataset directory holds Parquet tables and a ``manifest.json`` with the config, seed,
versions, row counts and the SHA-256 of every file.  It is built in a hidden temporary
folder beside the target and renamed into place only when complete, so a crash or an
interrupt never leaves a half-written dataset where a good one would be.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from toolkit.errors import DataError, InputError
from toolkit.files import staged_folder
from toolkit.provenance import dataset_hash, sha256_file
from toolkit.safety import check_writable

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
    check_writable(out, "output")


class DatasetWriter:
    """Context manager that builds a dataset in a hidden sibling folder; :meth:`commit`
    hashes it, writes the manifest and swaps it into place.  Leaving the ``with`` block
    without a commit (an error, an interrupt) discards everything written."""

    def __init__(self, out: Path, *, overwrite: bool = False):
        self.out = Path(out)
        check_target(self.out, overwrite=overwrite)
        self.overwrite = overwrite
        self.tmp: Path | None = None
        self._stage = ExitStack()
        self._streams: dict[str, Any] = {}

    def __enter__(self) -> DatasetWriter:
        # without overwrite, a dataset another process committed meanwhile is never replaced
        self.tmp = self._stage.enter_context(staged_folder(self.out, replace=self.overwrite))
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
        manifest["manifest_hash"] = manifest_hash(manifest)
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


def manifest_hash(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest's canonical JSON without its own ``manifest_hash``: an edited
    manifest (a table dropped from ``files``, another ``config``) no longer matches it."""
    body = {k: v for k, v in manifest.items() if k != "manifest_hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a dataset folder, with its fields checked (DataError otherwise)."""
    path = Path(path)
    mf = path / "manifest.json"
    if not mf.is_file():
        raise DataError(f"{str(path)!r} is not a dataset: it has no manifest.json")
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{str(mf)!r} is not valid JSON ({err}); regenerate the dataset") \
            from None
    except OSError as err:
        raise DataError(f"{str(mf)!r} cannot be read ({err.strerror})") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{str(mf)!r} is not a manifest (a JSON object); regenerate the "
                        "dataset")
    missing = [k for k in ("files", "dataset_hash") if k not in manifest]
    if missing:
        raise DataError(f"{str(mf)!r} lacks {', '.join(missing)}; regenerate the dataset")
    files = manifest["files"]
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise DataError(f"{str(mf)!r}: 'files' must map each file name to its SHA-256; "
                        "regenerate the dataset")
    return manifest


_verified: dict[tuple, dict[str, Any]] = {}


def _state(path: Path) -> tuple:
    """What a dataset folder looks like on disk: names, sizes and modification times."""
    out = []
    for p in sorted(path.iterdir()):
        st = p.stat()
        out.append((p.name, st.st_size, st.st_mtime_ns))
    return (str(path.resolve()), tuple(out))


def verify(path: str | Path, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check a dataset against its manifest; raise DataError on any mismatch.

    Required: every table of :data:`TABLES` listed and present, each file's SHA-256 as
    listed, the ``dataset_hash`` of the list, the ``manifest_hash`` of the manifest itself,
    and each table readable as Parquet with the row count the manifest records.  A folder
    verified once is not hashed again in this process unless a file in it changed.
    """
    path = Path(path)
    manifest = manifest or read_manifest(path)
    key = _state(path)
    if _verified.get(key) == manifest:
        return manifest
    where = f"dataset {str(path)!r}"
    regenerate = "; regenerate it with 'toolkit generate --overwrite'"
    if "manifest_hash" not in manifest:
        raise DataError(f"{where} has no manifest_hash (an older toolkit wrote it)"
                        + regenerate)
    if manifest_hash(manifest) != manifest["manifest_hash"]:
        raise DataError(f"{where}: manifest.json was changed after it was written (it does "
                        "not match its manifest_hash)" + regenerate)
    unlisted = [t for t in TABLES if f"{t}.parquet" not in manifest["files"]]
    if unlisted:
        raise DataError(f"{where}: its manifest lists no {', '.join(unlisted)} table; "
                        f"a dataset has the tables {', '.join(TABLES)}" + regenerate)
    for name, digest in manifest["files"].items():
        f = path / name
        if "/" in name or "\\" in name or not f.is_file():
            raise DataError(f"{where} is missing {name}" + regenerate)
        if sha256_file(f) != digest:
            raise DataError(f"{where} is corrupt: {name} does not match its manifest hash"
                            + regenerate)
    if dataset_hash(manifest["files"]) != manifest.get("dataset_hash"):
        raise DataError(f"{where}: manifest dataset_hash does not match its files"
                        + regenerate)
    rows = manifest.get("rows") or {}
    for table in TABLES:
        try:
            n = pq.read_metadata(path / f"{table}.parquet").num_rows
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise DataError(f"{where}: {table}.parquet cannot be read as Parquet ("
                            f"{str(err).splitlines()[0][:200]})" + regenerate) from None
        if isinstance(rows, dict) and table in rows and rows[table] != n:
            raise DataError(f"{where}: {table}.parquet has {n:,} rows, its manifest says "
                            f"{rows[table]!r}" + regenerate)
    _verified[key] = manifest
    return manifest


def load_dataset(path: str | Path, *, check: bool = True) -> Dataset:
    """Load all tables of a dataset directory; verifies hashes unless ``check=False``.

    Text columns (``segment``, ``regime`` ...) come back as pandas ``category``.
    """
    path = Path(path)
    manifest = verify(path) if check else read_manifest(path)
    tables = {}
    for name in TABLES:
        try:
            df = pd.read_parquet(path / f"{name}.parquet")
        except (OSError, ValueError) as err:
            raise DataError(f"dataset {str(path)!r}: {name}.parquet cannot be read ("
                            f"{str(err).splitlines()[0][:200]})") from None
        for col in df.columns:
            if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
                df[col] = df[col].astype("category")
        tables[name] = df
    return Dataset(path=path, manifest=manifest, **tables)
