"""Dataset directories: written once and atomically, hashed, verified on load.

A dataset directory holds Parquet tables and a ``manifest.json`` with the config, seed,
versions, row counts and the SHA-256 of every file.  A streamed table is a partitioned
dataset: a folder ``<table>/`` with one ``part-NNNNN.parquet`` per generation block, which
pandas, pyarrow and ``dask.dataframe.read_parquet`` all read as one table; the manifest
hashes every part.  Datasets written before partitioning (one ``<table>.parquet`` each)
still verify and load.  It is built in a hidden temporary
folder beside the target and renamed into place only when complete, so a crash or an
interrupt never leaves a half-written dataset where a good one would be.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from toolkit.errors import DataError, InputError
from toolkit.files import staged_folder
from toolkit.provenance import dataset_hash, sha256_file
from toolkit.safety import check_writable

TABLES = ("users", "history", "macro", "outcomes", "truth")
# The zero-padded block number keeps the parts' name order their user order, which is the
# order every reader (ours, pyarrow's and dask's directory listing) puts them in.
PART = "part-{:05d}.parquet"
_PART_NAME = re.compile(r"part-\d{5,}\.parquet")


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
        self._parts: dict[str, int] = {}

    def __enter__(self) -> DatasetWriter:
        # without overwrite, a dataset another process committed meanwhile is never replaced
        self.tmp = self._stage.enter_context(staged_folder(self.out, replace=self.overwrite))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.tmp is not None:  # no commit: the staged folder is removed, not swapped in
            self.tmp = None
            abort = exc or RuntimeError("dataset not committed")
            self._stage.__exit__(type(abort), abort, abort.__traceback__)

    def write_table(self, name: str, df: pd.DataFrame) -> None:
        """Write a whole table at once: a partitioned table of one part."""
        self.append(name, df)

    def append(self, name: str, df: pd.DataFrame) -> Path:
        """Write ``df`` as the next part of the partitioned table ``name``; returns its path.

        Memory follows the part, never the table.
        """
        import pyarrow as pa

        n = self._parts.get(name, 0)
        folder = self.tmp / name
        folder.mkdir(exist_ok=True)
        path = folder / PART.format(n)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
        self._parts[name] = n + 1
        return path

    def parts(self, name: str) -> list[Path]:
        """The parts of table ``name`` written so far, in order (e.g. to read them back)."""
        return [self.tmp / name / PART.format(i) for i in range(self._parts.get(name, 0))]

    def drop(self, name: str) -> None:
        """Remove a working table (one that is no part of the dataset) with all its parts."""
        for path in self.parts(name):
            path.unlink()
        (self.tmp / name).rmdir()
        self._parts.pop(name)

    def commit(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Close streams, hash every file, write the manifest and swap the folder in."""
        files = {p.relative_to(self.tmp).as_posix(): sha256_file(p)
                 for p in sorted(self.tmp.rglob("*")) if p.is_file()}
        manifest = {**manifest, "files": files, "dataset_hash": dataset_hash(files)}
        manifest["manifest_hash"] = manifest_hash(manifest)
        (self.tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        self.tmp = None
        self._stage.close()
        return manifest


@dataclass
class Dataset:
    """A loaded synthetic dataset; tables as DataFrames, ``manifest`` as a dict.

    The monthly history, by far the largest table, is read only when asked for:
    :attr:`history` reads all of it, :meth:`history_of` the rows of some users and
    :func:`history_blocks` one block of users at a time.
    """

    path: Path
    manifest: dict[str, Any]
    users: pd.DataFrame
    macro: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    extra: dict[str, Any] = field(default_factory=dict)
    _history: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def hash(self) -> str:
        return self.manifest["dataset_hash"]

    @property
    def history(self) -> pd.DataFrame:
        """The whole monthly history (read once, then kept)."""
        if self._history is None:
            self._history = read_parts(self.path, "history", self.manifest)
        return self._history

    def history_of(self, user_ids: Sequence) -> pd.DataFrame:
        """The history rows of ``user_ids``, in stored order, without reading the rest."""
        if self._history is not None:
            return self._history[self._history["user_id"].isin(np.asarray(user_ids))]
        import pyarrow as pa

        wanted = pa.array(np.unique(np.asarray(user_ids)))
        pieces = []
        for part in table_parts(self.path, "history", self.manifest):
            pieces.append(pq.read_table(part, filters=[("user_id", "in", wanted)]))
        return _as_frame(pa.concat_tables(pieces))


def table_parts(path: str | Path, name: str, manifest: dict[str, Any]) -> list[Path]:
    """The files of table ``name`` in order: its parts, or the one file of an older dataset."""
    path = Path(path)
    prefix = f"{name}/"
    parts = sorted(k for k in manifest["files"] if k.startswith(prefix))
    return [path / k for k in parts] if parts else [path / f"{name}.parquet"]


def _as_frame(table) -> pd.DataFrame:
    df = table.to_pandas()
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].astype("category")
    return df


def read_part(part: Path) -> pd.DataFrame:
    """One part file as a DataFrame; text columns as ``category``."""
    return _as_frame(pq.read_table(part))


def read_parts(path: str | Path, name: str, manifest: dict[str, Any]) -> pd.DataFrame:
    """Table ``name`` of a dataset as one DataFrame; text columns as ``category``."""
    import pyarrow as pa

    try:
        table = pa.concat_tables([pq.read_table(p) for p in table_parts(path, name, manifest)])
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"dataset {str(path)!r}: {name} cannot be read ("
                        f"{str(err).splitlines()[0][:200]})") from None
    return _as_frame(table)


def release_arrow_memory() -> None:
    """Hand the memory pyarrow freed back to the operating system.

    Its allocator (mimalloc) keeps freed pages for reuse: reading the truth table of 1M
    users (Arrow buffers, then pandas columns, then categories) leaves about 0.35 GiB
    resident that nothing uses, which counts against a stage's peak memory.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def history_blocks(ds: Dataset) -> Iterator[pd.DataFrame]:
    """The history in blocks of whole users, in stored order: one block per part, or per
    row group of an older single-file dataset.

    A row group that ends inside a user's months (a file written by other means) keeps that
    user's rows back for the next block, so no block splits a user.
    """
    if ds._history is not None:
        yield ds._history
        return
    files = table_parts(ds.path, "history", ds.manifest)
    if files[0].name != "history.parquet":  # a partitioned table: each part is whole users
        for part in files:
            yield read_part(part)
        return
    carry = None
    f = pq.ParquetFile(files[0])
    for g in range(f.num_row_groups):
        block = _as_frame(f.read_row_group(g))
        if carry is not None:
            block = pd.concat([carry, block], ignore_index=True)
        uid = block["user_id"].to_numpy()
        # rows of the last user may continue in the next row group
        others = np.flatnonzero(uid != uid[-1])
        cut = int(others[-1]) + 1 if len(others) else 0
        carry = block.iloc[cut:].reset_index(drop=True)
        if cut:
            yield block.iloc[:cut].reset_index(drop=True)
    if carry is not None and len(carry):
        yield carry


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
    for p in sorted(path.rglob("*")):
        st = p.stat()
        out.append((p.relative_to(path).as_posix(), st.st_size, st.st_mtime_ns))
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
    unlisted = [t for t in TABLES if not _listed(manifest, t)]
    if unlisted:
        raise DataError(f"{where}: its manifest lists no {', '.join(unlisted)} table; "
                        f"a dataset has the tables {', '.join(TABLES)}" + regenerate)
    for name, digest in manifest["files"].items():
        f = path / name
        if not _member(name) or not f.is_file():
            raise DataError(f"{where} is missing {name}" + regenerate)
        if sha256_file(f) != digest:
            raise DataError(f"{where} is corrupt: {name} does not match its manifest hash"
                            + regenerate)
    if dataset_hash(manifest["files"]) != manifest.get("dataset_hash"):
        raise DataError(f"{where}: manifest dataset_hash does not match its files"
                        + regenerate)
    for table in TABLES:
        folder = path / table
        if folder.is_dir():
            extra = sorted(p.relative_to(path).as_posix() for p in folder.iterdir()
                           if p.relative_to(path).as_posix() not in manifest["files"])
            if extra:
                raise DataError(f"{where} has {extra[0]}, a file its manifest does not list"
                                + regenerate)
    rows = manifest.get("rows") or {}
    for table in TABLES:
        n = 0
        for part in table_parts(path, table, manifest):
            name = part.relative_to(path).as_posix()
            try:
                n += pq.read_metadata(part).num_rows
            except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
                raise DataError(f"{where}: {name} cannot be read as Parquet ("
                                f"{str(err).splitlines()[0][:200]})" + regenerate) from None
        if isinstance(rows, dict) and table in rows and rows[table] != n:
            raise DataError(f"{where}: table {table} has {n:,} rows, its manifest says "
                            f"{rows[table]!r}" + regenerate)
    _verified[key] = manifest
    return manifest


def _member(name: str) -> bool:
    """A file name a manifest may list: a table file, or a part inside a table's folder."""
    if "\\" in name or name in {"", ".", ".."}:
        return False
    parts = name.split("/")
    if len(parts) == 1:
        return True
    return len(parts) == 2 and parts[0] in TABLES and bool(_PART_NAME.fullmatch(parts[1]))


def _listed(manifest: dict[str, Any], table: str) -> bool:
    return f"{table}.parquet" in manifest["files"] or any(
        k.startswith(f"{table}/") for k in manifest["files"])


def load_dataset(path: str | Path, *, check: bool = True) -> Dataset:
    """Load a dataset directory (the history on demand); verifies hashes unless
    ``check=False``.

    Text columns (``segment``, ``regime`` ...) come back as pandas ``category``.
    """
    path = Path(path)
    manifest = verify(path) if check else read_manifest(path)
    tables = {name: read_parts(path, name, manifest) for name in TABLES if name != "history"}
    release_arrow_memory()
    return Dataset(path=path, manifest=manifest, **tables)
