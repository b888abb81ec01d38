"""Partitioned datasets and features built block by block.

A dataset's tables are folders of parts, one per generation block; features are built one
block of users at a time and must equal, to the byte, those built from the whole panel.
Datasets written before partitioning (one file per table) still verify and load.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolkit.config import build_config
from toolkit.data.dataset import (
    TABLES,
    history_blocks,
    load_dataset,
    manifest_hash,
    read_manifest,
    verify,
)
from toolkit.data.features import build_features
from toolkit.data.table import features_by_block, from_dataset
from toolkit.errors import DataError
from toolkit.provenance import dataset_hash, sha256_file


def _same_bytes(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert list(a.columns) == list(b.columns)
    assert a.index.to_numpy().tobytes() == b.index.to_numpy().tobytes()
    for col in a.columns:
        assert a[col].to_numpy().tobytes() == b[col].to_numpy().tobytes(), col


def test_features_by_block_equal_the_whole_panel_to_the_byte(small_world):
    path, _, _ = small_world
    ds = load_dataset(path)
    blocks = list(history_blocks(ds))
    assert len(blocks) == 4  # the parts, never the whole panel
    by_block = features_by_block(ds)
    whole = build_features(load_dataset(path).history, ds.users)
    _same_bytes(by_block, whole)


def test_a_table_never_holds_the_whole_history(small_world):
    path, _, _ = small_world
    ds = load_dataset(path)
    table = from_dataset(ds, build_config({"world": {"n_users": 4_000, "block_size": 1_000}}))
    assert ds._history is None  # features were built without reading the whole panel
    ids = table.X.index[[5, 17, 3_999]]
    rows = table.world.history_of(ids)
    assert ds._history is None
    whole = load_dataset(path).history
    _same_bytes(rows.reset_index(drop=True),
                whole[whole["user_id"].isin(ids)].reset_index(drop=True))


@pytest.mark.parametrize("drop", [(), ("util_mean_3m", "age")])
def test_the_model_table_holds_the_feature_matrix_once(small_world, drop):
    """X is the model's columns of the features, the same memory, not a copy."""
    path, _, _ = small_world
    cfg = build_config({"world": {"n_users": 4_000, "block_size": 1_000},
                        "features": {"drop_features": list(drop)}})
    table = from_dataset(load_dataset(path), cfg)
    whole = build_features(load_dataset(path).history, table.world.users)
    assert not set(drop) & set(table.X.columns)
    assert set(table.features.columns) >= set(whole.columns)  # dropped ones still there
    for col in table.X.columns:
        assert np.shares_memory(table.X[col].to_numpy(), table.features[col].to_numpy())
    _same_bytes(table.X, whole[list(table.X.columns)])
    _same_bytes(table.features[list(whole.columns)], whole)


def _single_file_copy(src, dst, *, row_group_size=None):
    """The dataset as an older toolkit wrote it: one file per table, one row group per
    block (or ``row_group_size`` rows), and a manifest hashing those files."""
    dst.mkdir()
    manifest = read_manifest(src)
    for t in TABLES:
        parts = sorted((src / t).iterdir())
        table = pa.concat_tables([pq.read_table(p) for p in parts])
        size = row_group_size or max(pq.read_metadata(parts[0]).num_rows, 1)
        pq.write_table(table, dst / f"{t}.parquet", row_group_size=size)
    files = {f"{t}.parquet": sha256_file(dst / f"{t}.parquet") for t in TABLES}
    manifest = {**manifest, "files": files, "dataset_hash": dataset_hash(files)}
    manifest["manifest_hash"] = manifest_hash(manifest)
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


@pytest.mark.parametrize("row_group_size", [None, 1_237])
def test_single_file_datasets_still_load(small_world, tmp_path, row_group_size):
    # 1,237 rows is no whole number of 24-month users: row groups split users
    path, _, _ = small_world
    old = tmp_path / "old"
    _single_file_copy(path, old, row_group_size=row_group_size)
    verify(old)
    new, legacy = load_dataset(path), load_dataset(old)
    for t in ("users", "macro", "outcomes", "truth", "history"):
        pd.testing.assert_frame_equal(getattr(new, t), getattr(legacy, t), check_exact=True)
    _same_bytes(features_by_block(legacy), features_by_block(new))


def test_an_unlisted_part_is_refused(small_world, tmp_path):
    path, _, _ = small_world
    copy = tmp_path / "ds"
    shutil.copytree(path, copy)
    shutil.copy(copy / "history" / "part-00000.parquet", copy / "history" / "part-00009.parquet")
    with pytest.raises(DataError, match="has history/part-00009.parquet, a file its manifest "
                                        "does not list"):
        verify(copy)


def test_a_missing_part_is_refused(small_world, tmp_path):
    path, _, _ = small_world
    copy = tmp_path / "ds"
    shutil.copytree(path, copy)
    (copy / "truth" / "part-00002.parquet").unlink()
    with pytest.raises(DataError, match="is missing truth/part-00002.parquet"):
        verify(copy)


def test_parts_concatenate_to_the_table(small_world):
    path, manifest, ds = small_world
    users = pd.concat([pd.read_parquet(p) for p in sorted((path / "users").iterdir())],
                      ignore_index=True)
    assert np.array_equal(users["user_id"].to_numpy(), ds.users["user_id"].to_numpy())
    assert manifest["rows"]["users"] == len(users)
    # pandas (through pyarrow) reads the folder as one table too
    assert len(pd.read_parquet(path / "history")) == manifest["rows"]["history"]
