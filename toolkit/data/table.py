"""The model table: one row per decision, features, label, split, regime and (if synthetic)
the truth, aligned on one index.  Built from a synthetic dataset or from an own flat table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.calendar import month_index
from toolkit.config import ExperimentConfig, TableSchema
from toolkit.data.dataset import Dataset
from toolkit.data.features import Feature, build_features, model_columns, registry
from toolkit.data.splits import GAP, SPLITS, assign_splits, check_nonempty, random_split
from toolkit.errors import DataError
from toolkit.provenance import sha256_file
from toolkit.vocab import PROTECTED


@dataclass(frozen=True)
class World:
    """The raw synthetic world behind a table, for stages that replay history (change
    explanations): the monthly ``history`` panel, the ``users`` table and the ``macro``
    calendar, as the dataset stores them."""

    history: pd.DataFrame
    users: pd.DataFrame
    macro: pd.DataFrame


@dataclass
class ModelTable:
    """Everything a stage needs about the decisions it models.

    X: model features (float64), index ``user_id`` (or row id for own tables).
    y: default label (0/1), shape (n,); -1 where the row is censored (no label yet).
    split: "train" / "valid" / "test" per row ("gap" for rows between valid and test).
    stressed: True where the decision month is in the stressed regime.
    features: every computed feature (rule inputs and ``income`` too), same index as X, and
        the protected attributes (for audits and a biased platform; never in X).
    truth: the truth table aligned to X (None for own tables).
    registry: one :class:`Feature` per column of X, in order.
    world: the raw synthetic world (None for own tables).
    protected: the protected-attribute columns of ``features``.
    """

    X: pd.DataFrame
    y: np.ndarray
    split: np.ndarray
    stressed: np.ndarray
    features: pd.DataFrame
    truth: pd.DataFrame | None
    registry: tuple[Feature, ...]
    dataset_hash: str
    source: str
    world: World | None = None
    protected: tuple[str, ...] = ()

    @property
    def labelled(self) -> np.ndarray:
        """True where the row has a label (its performance window is complete)."""
        return self.y >= 0

    @property
    def feature_names(self) -> list[str]:
        return list(self.X.columns)

    @property
    def groups(self) -> dict[str, str]:
        return {f.name: f.group for f in self.registry}

    @property
    def monotone(self) -> list[int]:
        return [f.direction for f in self.registry]

    def mask(self, split: str) -> np.ndarray:
        """Every row of ``split``, censored ones included (they are scored and explained)."""
        return self.split == split

    def labelled_mask(self, split: str) -> np.ndarray:
        """The rows of ``split`` that carry a label: the only rows fit or scored on labels."""
        return (self.split == split) & self.labelled

    def part(self, split: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Features and labels of the labelled rows of ``split`` (censored rows left out)."""
        m = self.labelled_mask(split)
        return self.X[m], self.y[m]


def from_dataset(ds: Dataset, cfg: ExperimentConfig) -> ModelTable:
    """Features at each user's observation month, the label, split and truth."""
    feats = build_features(ds.history, ds.users)
    reg = registry()
    cols = model_columns(reg, drop_groups=cfg.features.drop_groups,
                         drop_features=cfg.features.drop_features)
    lookup = {f.name: f for f in reg}
    truth = ds.truth.set_index("user_id").loc[feats.index]
    label = ds.outcomes.set_index("user_id").loc[feats.index, "default_12m"]
    y = label.astype("Int8").fillna(-1).to_numpy(np.int8)
    split = assign_splits(feats["asof_month"].to_numpy(), feats.index.to_numpy(), cfg.split,
                          cfg.world)
    stressed = (truth["regime"].astype(str) == "stressed").to_numpy()
    X = feats[cols].astype(np.float64)
    feats[PROTECTED] = ds.users.set_index("user_id").loc[feats.index, PROTECTED] \
        .astype(str).to_numpy()
    return ModelTable(
        X=X,
        y=y,
        split=split,
        stressed=stressed,
        features=feats,
        truth=truth,
        registry=tuple(lookup[c] for c in cols),
        dataset_hash=ds.hash,
        source=str(ds.path),
        world=World(history=ds.history, users=ds.users, macro=ds.macro),
        protected=(PROTECTED,),
    )


def _own_feature(name: str, schema: TableSchema) -> Feature:
    group = schema.groups.get(name, schema.groups.get(name.split("=")[0], "other"))
    return Feature(
        name=name, group=group, unit="value", direction=int(schema.monotone.get(name, 0)),
        actionable=False, description_en=name, description_zh=name,
        template_en=f"{name} = {{value}}", template_zh=f"{name} = {{value}}", compute=None,
    )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet table; refuse duplicate column names."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"table {str(path)!r} does not exist")
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8") as f:
            header = f.readline().rstrip("\n\r").split(",")
        dups = sorted({c for c in header if header.count(c) > 1})
        if dups:
            raise DataError(f"table {str(path)!r} has duplicate column names: {', '.join(dups)}")
        return pd.read_csv(path)
    if path.suffix.lower() in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        dups = sorted({c for c in names if names.count(c) > 1})
        if dups:
            raise DataError(f"table {str(path)!r} has duplicate column names: {', '.join(dups)}")
        return pd.read_parquet(path)
    raise DataError(f"table {str(path)!r}: unsupported format {path.suffix!r}; "
                    "allowed: .csv, .parquet")


def from_table(path: str | Path, cfg: ExperimentConfig) -> ModelTable:
    """An own flat table (one row per decision) validated against ``[data.schema]``."""
    schema = cfg.data.table_schema
    df = read_table(path)
    validate_table(df, schema, str(path))
    y = (df[schema.target] == _coerce_label(schema.positive_label, df[schema.target])).to_numpy(
        np.int8)
    if schema.split_column:
        split = df[schema.split_column].astype(str).to_numpy().astype(object)
        # "gap" marks rows kept out of every split (their labels reach into the test period)
        bad = sorted(set(split) - {*SPLITS, GAP})
        if bad:
            raise DataError(
                f"split column {schema.split_column!r} has value {bad[0]!r}; allowed: "
                f"{', '.join((*SPLITS, GAP))}")
    elif schema.month_column:
        split = _month_split(df[schema.month_column], schema.month_column, cfg)
    else:
        split = random_split(np.arange(len(df)), cfg.split)
    source = schema.split_column or schema.month_column
    check_nonempty(split, f"table {str(path)!r}" + (f" (column {source!r})" if source else ""))
    drop = {schema.target, *schema.drop, *([source] if source else [])}
    X = df[[c for c in df.columns if c not in drop]].copy()
    if schema.categorical:
        X = pd.get_dummies(X, columns=list(schema.categorical), prefix_sep="=", dtype=np.float64)
    X = X.astype(np.float64)
    X.index = pd.RangeIndex(len(X), name="row_id")
    reg = tuple(_own_feature(c, schema) for c in X.columns)
    for name in schema.monotone:
        if name in schema.categorical:
            raise DataError(f"monotone direction given for categorical column {name!r}")
    features = X
    if schema.month_column:
        # each row's decision month, as the synthetic table has it (drift by month)
        features = X.assign(asof_month=month_indices(df[schema.month_column],
                                                     schema.month_column, cfg))
    return ModelTable(
        X=X, y=y, split=split, stressed=np.zeros(len(X), dtype=bool), features=features,
        truth=None, registry=reg, dataset_hash=sha256_file(Path(path)), source=str(path),
    )


def _month_split(column: pd.Series, name: str, cfg: ExperimentConfig) -> np.ndarray:
    """Out-of-time split of an own table by its YYYY-MM column, with ``split.gap_months``.

    Months are counted from ``world.calendar_start``; only their order matters here.
    """
    months = month_indices(column, name, cfg)
    plan = cfg.split.model_copy(update={"method": "out_of_time"})
    return assign_splits(months, months, plan, cfg.world, check=False)


def month_indices(column: pd.Series, name: str, cfg: ExperimentConfig) -> np.ndarray:
    """Calendar indices (from ``world.calendar_start``) of a YYYY-MM column; DataError
    naming the first value that is not a month."""
    origin = cfg.world.calendar_start
    labels = column.astype(str)
    index = {}
    for value in labels.unique():
        try:
            index[value] = month_index(value, origin)
        except ValueError:
            raise DataError(f"month column {name!r} has value {value!r}; allowed: months "
                            "of the form YYYY-MM") from None
    return labels.map(index).to_numpy(np.int64)


def _coerce_label(label, column: pd.Series):
    if pd.api.types.is_numeric_dtype(column) and isinstance(label, str):
        try:
            return float(label)
        except ValueError:
            return label
    if not pd.api.types.is_numeric_dtype(column):
        return str(label)
    return label


def validate_table(df: pd.DataFrame, schema: TableSchema, name: str) -> None:
    """Raise :class:`DataError` naming the problem; checks run in a fixed order."""
    cols = list(df.columns)
    dups = sorted({c for c in cols if cols.count(c) > 1})
    if dups:
        raise DataError(f"table {name!r} has duplicate column names: {', '.join(dups)}")
    if schema.target not in df.columns:
        raise DataError(
            f"table {name!r} has no target column {schema.target!r}; columns: {', '.join(cols)}")
    named = [*schema.categorical, *schema.drop, *schema.monotone, *schema.groups]
    named += [c for c in (schema.split_column, schema.month_column) if c]
    for c in named:
        if c not in df.columns:
            raise DataError(
                f"schema names unknown column {c!r}; the table's columns: {', '.join(cols)}")
    for c, d in schema.monotone.items():
        if d not in (-1, 0, 1):
            raise DataError(f"monotone direction of {c!r} is {d}; allowed: -1, 0, 1")
    target = df[schema.target]
    values = sorted(target.dropna().unique().tolist(), key=str)
    if target.isna().any() or len(values) != 2:
        raise DataError(
            f"target {schema.target!r} must be binary with no missing values; found values "
            f"{values[:5]}{' ...' if len(values) > 5 else ''}"
            f"{' and missing values' if target.isna().any() else ''}")
    pos = _coerce_label(schema.positive_label, target)
    if pos not in values:
        raise DataError(
            f"positive_label {schema.positive_label!r} is not a value of target "
            f"{schema.target!r}; values: {values}")
    empty = [c for c in df.columns if df[c].isna().all()]
    if empty:
        raise DataError(f"column {empty[0]!r} of table {name!r} is entirely null")
    n_pos = int((target == pos).sum())
    n_neg = len(target) - n_pos
    if min(n_pos, n_neg) < 50:
        raise DataError(
            f"target {schema.target!r} has {n_pos} positive and {n_neg} negative rows; "
            "each class needs at least 50")
    features = [c for c in df.columns if c not in {schema.target, *schema.drop,
                                                    schema.split_column, schema.month_column}]
    for c in features:
        if c in schema.categorical:
            continue
        if not pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            raise DataError(
                f"column {c!r} is not numeric; list it under categorical or drop")
