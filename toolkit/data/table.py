"""The model table: one row per decision, features, label, split, regime and (if synthetic)
the truth, aligned on one index.  Built from a synthetic dataset or from an own flat table.

An own table is read and checked here in full before anything else happens (the input
contract): :func:`toolkit.data.reading.read_table` refuses a missing, empty, binary or
undecodable file and duplicate column names; :func:`check_table` checks it against
``[data.schema]``, the split and the monitoring rules, reporting every problem of a kind at
once in one line; and :func:`from_table` builds the :class:`ModelTable` from what passed.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.calendar import month_index
from toolkit.compute import active_client, in_order
from toolkit.config import ExperimentConfig, MonitoringRule, SplitConfig, TableSchema, WorldConfig
from toolkit.data.dataset import (
    Dataset,
    history_blocks,
    read_part,
    release_arrow_memory,
    table_parts,
)
from toolkit.data.features import Feature, build_features, model_columns, registry
from toolkit.data.reading import read_table, refuse_duplicates
from toolkit.data.splits import GAP, SPLITS, assign_splits, check_nonempty, random_split
from toolkit.errors import DataError, ToolkitWarning
from toolkit.provenance import sha256_file
from toolkit.vocab import PROTECTED


@dataclass(frozen=True)
class World:
    """The raw synthetic world behind a table, for stages that replay history (change
    explanations, recourse): the ``users`` table and the ``macro`` calendar as the dataset
    stores them, and its monthly history, read from the dataset only for the users asked
    for (:meth:`history_of`), so a table never holds the whole panel."""

    users: pd.DataFrame
    macro: pd.DataFrame
    dataset: Dataset

    @property
    def history(self) -> pd.DataFrame:
        """The whole monthly history panel (read on first use)."""
        return self.dataset.history

    def history_of(self, user_ids) -> pd.DataFrame:
        """The history rows of ``user_ids`` in stored order (``user_id``, ``month``)."""
        return self.dataset.history_of(user_ids)


@dataclass
class ModelTable:
    """Everything a stage needs about the decisions it models.

    X: model features, index ``user_id`` (or ``row_id`` for own tables); float64 columns,
        and for own tables pandas ``category`` columns (xgboost's native categories).
    y: default label (0/1), shape (n,); -1 where the row is censored (no label yet); for own
        tables 1 where the target is the positive label.
    split: "train" / "valid" / "test" per row ("gap" for rows between valid and test).
    stressed: True where the decision month is in the stressed regime.
    features: every computed feature (rule inputs and ``income`` too), same index as X; for
        own tables every column but the target, split and regime columns, protected ones
        included (for audits and a biased platform; never in X); ``asof_month`` when the
        table has a month column (drift by month).
    truth: the truth table aligned to X (None for own tables).
    registry: one :class:`Feature` per column of X, in order.
    world: the raw synthetic world (None for own tables).
    outcome: what the model predicts, in words, for texts: None for the synthetic world
        (default), ``"<target> = <positive label>"`` for own tables.
    income_column: the ``features`` column that sizes limits (None: no limits).
    income_scale: what turns that column into a monthly income (1/12 for an annual one).
    currency: the currency of amounts in texts (None: none named).
    has_regime: whether rows carry a regime (own tables: a ``regime`` column).
    protected: protected-attribute columns, kept in ``features`` and out of X.
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
    outcome: str | None = None
    income_column: str | None = "income"
    income_scale: float = 1.0
    currency: str | None = "CNY"
    has_regime: bool = True
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

    @property
    def categorical(self) -> list[str]:
        """Columns of X held as categories (own tables)."""
        return [c for c in self.X.columns if isinstance(self.X[c].dtype, pd.CategoricalDtype)]

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


def features_by_block(ds: Dataset, *, first: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`build_features` at each user's observation month, one block of users at a
    time, so that only one block's panel is ever held; the same frame, to the byte, as
    building them from the whole history at once (every feature reads one user's months).

    first: feature names to put first, in this order (the rest follow in registry order):
    the frame's features are one float64 block, so its first columns can be sliced out
    as the model's ``X`` without a copy (:func:`from_dataset`).
    """
    every = [f.name for f in registry()]
    unknown = sorted(set(first) - set(every))
    if unknown:
        raise DataError(f"unknown features {', '.join(unknown)}; allowed: the registry's")
    names = [*first, *(n for n in every if n not in set(first))]
    # (users, features): each block fills one contiguous stretch, so memory is committed as
    # the blocks arrive.  A (features, users) array would touch every feature's row at each
    # block, and numpy asks for huge pages (2 MiB each) for large arrays: most of the matrix
    # would be resident after the first blocks, on top of the blocks' own working memory.
    values = np.empty((len(ds.users), len(names)))
    ids = np.empty(len(ds.users), dtype=ds.users["user_id"].dtype)
    asof = None
    done = 0
    for feats in _block_features(ds):
        n = len(feats)
        if done + n > len(ds.users):
            raise DataError(f"dataset {str(ds.path)!r}: the history has more users than the "
                            f"users table ({len(ds.users):,})")
        values[done:done + n] = feats[names].to_numpy()
        ids[done:done + n] = feats.index.to_numpy()
        if asof is None:
            asof = np.empty(len(ds.users), dtype=feats["asof_month"].dtype)
        asof[done:done + n] = feats["asof_month"].to_numpy()
        done += n
        release_arrow_memory()  # the block's Arrow buffers: not kept for the next block
    if done != len(ds.users):
        raise DataError(f"dataset {str(ds.path)!r}: the history has {done:,} users, the "
                        f"users table {len(ds.users):,}")
    # pandas keeps it as its one float64 block (its transpose, a view): no copy
    out = pd.DataFrame(values, columns=pd.Index(names), copy=False,
                       index=pd.Index(ids, name="user_id"))
    out["asof_month"] = asof
    return out


def _block_features(ds: Dataset):
    """Each block's features in order: on the open Dask cluster, each worker reading its
    own parts (history and users come in matching parts), else here."""
    client = active_client()
    parts = table_parts(ds.path, "history", ds.manifest)
    users = table_parts(ds.path, "users", ds.manifest)
    if client is None or len(parts) != len(users) or ds._history is not None \
            or parts[0].name == "history.parquet":
        for block in history_blocks(ds):
            yield build_features(block, ds.users)
        return
    yield from in_order(client, part_features, list(zip(parts, users, strict=True)))


def part_features(history_part: Path, users_part: Path) -> pd.DataFrame:
    """:func:`build_features` of one part of the history with its users' part."""
    return build_features(read_part(history_part), read_part(users_part))


def from_dataset(ds: Dataset, cfg: ExperimentConfig) -> ModelTable:
    """Features at each user's observation month, the label, split and truth.

    Features are built block by block (:func:`features_by_block`); the history itself is
    not kept (:class:`World` reads the rows it is asked for).
    """
    reg = registry()
    cols = model_columns(reg, drop_groups=cfg.features.drop_groups,
                         drop_features=cfg.features.drop_features)
    # The model's columns come first, so X is a slice of the features' one float64 block:
    # the same memory, not a second matrix (pandas' copy-on-write keeps them apart if
    # either is ever changed).  At 1M users that matrix is 0.5 GiB.
    feats = features_by_block(ds, first=cols)
    X = feats.iloc[:, :len(cols)]
    lookup = {f.name: f for f in reg}
    truth = _aligned(ds.truth, feats.index)
    label = _aligned(ds.outcomes, feats.index)["default_12m"]
    y = label.astype("Int8").fillna(-1).to_numpy(np.int8)
    split = assign_splits(feats["asof_month"].to_numpy(), feats.index.to_numpy(), cfg.split,
                          cfg.world)
    stressed = (truth["regime"].astype(str) == "stressed").to_numpy()
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
        world=World(users=ds.users, macro=ds.macro, dataset=ds),
        protected=(PROTECTED,),
    )


def _aligned(df: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """``df`` indexed by ``user_id`` in the order of ``ids``.  Tables of a dataset are stored
    in the same user order, and then the frame shares the dataset's memory (a lazy copy)
    instead of being copied by a reindex."""
    out = df.set_index("user_id")
    if len(out) == len(ids) and (out.index.to_numpy() == ids.to_numpy()).all():
        return out.set_axis(ids, axis=0)
    return out.loc[ids]


def numeric_view(X: pd.DataFrame) -> pd.DataFrame:
    """``X`` with every category column replaced by its category codes (float, NaN where
    missing), for code that works on numbers (reason values, figures); other columns as
    float64."""
    if not any(isinstance(X[c].dtype, pd.CategoricalDtype) for c in X.columns):
        return X.astype(np.float64)
    out = {}
    for c in X.columns:
        col = X[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy(np.float64)
            out[c] = np.where(codes < 0, np.nan, codes)
        else:
            out[c] = col.to_numpy(np.float64)
    return pd.DataFrame(out, index=X.index, columns=X.columns)


# --- own tables ----------------------------------------------------------------------------

MIN_CLASS_ROWS = 50
# More distinct values than this in a categorical feature gives a warning: rare categories
# make thin scorecard bins and reasons that name one-off values (an id, a free-text title).
MAX_CATEGORIES = 50
# [data.schema] income_period -> the factor that makes the income column monthly: the
# policy's limit_income_multiple multiplies a monthly income, as in the synthetic world.
INCOME_SCALE = {"monthly": 1.0, "annual": 1.0 / 12.0}
# Word tokens and Chinese substrings of column names that suggest a protected attribute.
PROTECTED_WORDS = frozenset({"race", "racial", "sex", "gender", "age", "ethnicity", "ethnic",
                             "religion", "religious", "marital", "married", "marriage"})
# Pairs of words that do where each alone does not ("personal_status" but not
# "personal_loan" or "loan_status"): German credit's marital status and sex.
PROTECTED_PHRASES = frozenset({("personal", "status")})
PROTECTED_ZH = ("种族", "性别", "年龄", "民族", "宗教", "婚姻")
# xgboost refuses feature names with these characters (they break its model dump syntax).
XGB_FORBIDDEN = "[]<"
# A schema table's keys become MLflow parameter names (data.schema.monotone.<column>), which
# may hold letters, digits, "_", "-", "." and " " only (":" and "/" vary by platform).
PARAM_NAME = re.compile(r"^[\w.\- ]+$")


class ProtectedAttributeWarning(ToolkitWarning):
    """A model feature's name suggests a protected attribute (race, sex, age ...)."""


class IndexColumnWarning(ToolkitWarning):
    """A model feature looks like a row index (a nameless column, or the row numbers)."""


class ManyCategoriesWarning(ToolkitWarning):
    """A categorical model feature has more than :data:`MAX_CATEGORIES` distinct values."""


def protected_looking(names: Sequence[str]) -> list[str]:
    """The names among ``names`` that suggest a protected attribute: a word of
    :data:`PROTECTED_WORDS` (``applicant_age``, ``maritalStatus``, ``MARRIAGE``), two words
    of :data:`PROTECTED_PHRASES` in a row (``personal_status``) or a Chinese term of
    :data:`PROTECTED_ZH` inside it."""
    found = []
    for name in names:
        spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name)).lower()
        words = [w for w in re.split(r"[^a-z]+", spaced) if w]
        pairs = set(zip(words, words[1:], strict=False))
        if set(words) & PROTECTED_WORDS or pairs & PROTECTED_PHRASES \
                or any(t in str(name) for t in PROTECTED_ZH):
            found.append(name)
    return found


def _listing(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(str(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _closest(name: str, columns: Sequence[str]) -> str | None:
    """The column ``name`` most likely meant: the one equal to it up to case, spaces and
    punctuation (``Class`` for ``class``, ``default.payment.next.month`` for ``default
    payment next month``), else the closest spelling (difflib), else None."""
    def key(s: str) -> str:
        return re.sub(r"[\W_]+", "", s.casefold())

    same = [c for c in columns if key(c) == key(name)]
    if same:
        return same[0]
    folded = {c.casefold(): c for c in reversed(columns)}
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def _unknown_columns(unknown: Sequence[str], columns: Sequence[str]) -> str:
    """Unknown column names for a message, each with the column it likely meant, followed by
    the table's columns unless every one has a likely column."""
    guesses = {u: _closest(u, columns) for u in unknown}
    if all(guesses.values()):
        return (f"{_listing(list(unknown))}; did you mean "
                f"{_listing([guesses[u] for u in unknown])}?")
    shown = ", ".join(f"{u!r} (did you mean {guesses[u]!r}?)" if guesses[u] else repr(u)
                      for u in unknown)
    return f"{shown}; the table's columns: {_listing(columns)}"


def _label_of(value, column: pd.Series):
    """``value`` (from the schema) as it appears in ``column``: 1 matches "1" and 1.0."""
    if pd.api.types.is_bool_dtype(column):
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        return value
    if pd.api.types.is_numeric_dtype(column):
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value
    return str(value).strip()


@dataclass(frozen=True)
class CheckedTable:
    """What :func:`check_table` established about a table that passed.

    y: 0/1 per row; split: train/valid/test per row; stressed: per row;
    features: the model's columns in table order; categorical: those held as categories;
    outcome: ``"<target> = <positive label>"``; months: each row's calendar month index
    when the table has a month column (None otherwise); ids: the rows' ids from the id
    column (None: rows are numbered from 0 in file order).
    """

    y: np.ndarray
    split: np.ndarray
    stressed: np.ndarray
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    outcome: str
    months: np.ndarray | None = None
    ids: pd.Index | None = None


def check_table(df: pd.DataFrame, schema: TableSchema, *, name: str,
                split: SplitConfig | None = None, world: WorldConfig | None = None,
                rules: Sequence[MonitoringRule] = ()) -> CheckedTable:
    """Check a table against its schema, split and monitoring rules; DataError otherwise.

    Every check runs before a model or a run exists, and each reports all the columns it
    finds at fault in one line: unknown columns named by the schema (with the column likely
    meant), a target that is also categorical, dropped, protected or the income column, an
    id column with missing or repeated ids or named in another role, a target that is not
    binary or has gaps, ``positive_label`` missing (required unless the target is boolean)
    or not a target value, monotone directions other than -1/0/+1 or on categorical
    columns, monitoring rules on missing, categorical, protected or non-numeric columns,
    entirely empty columns, text columns not declared categorical (numbers written as text
    named apart), infinite values, column names xgboost or MLflow
    cannot take, split and regime columns with other values than train/valid/test and
    normal/stressed, an empty split, and fewer than 50 rows of either class in any split.

    split, world: the ``[split]`` settings (a seeded random split when the schema names
    neither ``split_column`` nor ``month_column``; the boundaries and gap of a month
    column's out-of-time split) and the ``[world]`` whose calendar counts the months.
    """
    refuse_duplicates(list(df.columns), name)
    cols = [str(c) for c in df.columns]
    if schema.target not in df.columns:
        guess = _closest(schema.target, cols)
        raise DataError(f"table {name!r} has no target column {schema.target!r}; " + (
            f"did you mean {guess!r}?" if guess else f"columns: {_listing(cols)}"))
    # the income column stays a model feature (it also sizes limits): not special
    special = [c for c in (schema.split_column, schema.month_column, schema.regime) if c]
    named = [*schema.categorical, *schema.drop, *schema.monotone, *schema.groups,
             *schema.protected, *special,
             *(c for c in (schema.income, schema.id_column) if c)]
    unknown = list(dict.fromkeys(c for c in named if c not in df.columns))
    if unknown:
        raise DataError(f"schema names unknown column{'s' if len(unknown) > 1 else ''} "
                        f"{_unknown_columns(unknown, cols)}")
    for key, listed in (("categorical", schema.categorical), ("drop", schema.drop),
                        ("protected", schema.protected), ("income", [schema.income])):
        if schema.target in listed:
            raise DataError(f"the target {schema.target!r} is listed under [data.schema] "
                            f"{key}; the target is the outcome, never a model column")
    bad_dir = {c: d for c, d in schema.monotone.items() if d not in (-1, 0, 1)}
    if bad_dir:
        raise DataError("monotone direction " + ", ".join(f"{c!r} = {d}" for c, d in
                                                          bad_dir.items())
                        + "; allowed: -1, 0, 1")
    cat_mono = [c for c, d in schema.monotone.items() if d and c in schema.categorical]
    if cat_mono:
        raise DataError(f"monotone direction given for categorical column"
                        f"{'s' if len(cat_mono) > 1 else ''} {_listing(cat_mono)}; a category "
                        "has no order: remove it from [data.schema.monotone]")
    ids = _ids_of(df, schema)
    y, outcome = _target(df[schema.target], schema)
    empty = [c for c in cols if df[c].isna().all()]
    if empty:
        raise DataError(f"column{'s' if len(empty) > 1 else ''} {_listing(empty)} of table "
                        f"{name!r} {'are' if len(empty) > 1 else 'is'} entirely empty; drop "
                        f"{'them' if len(empty) > 1 else 'it'}")
    outside = {schema.target, *schema.drop, *special,
               *([schema.id_column] if schema.id_column else [])}
    features = [c for c in cols if c not in outside and c not in schema.protected]
    _check_rules(df, schema, rules, outside)
    text = [c for c in features if c not in schema.categorical
            and not pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])]
    if text:
        _refuse_text(df, text)
    infinite = {c: int(np.isinf(df[c].to_numpy(np.float64)).sum()) for c in features
                if c not in schema.categorical and pd.api.types.is_float_dtype(df[c])}
    infinite = {c: k for c, k in infinite.items() if k}
    if infinite:
        raise DataError("infinite values in " + ", ".join(
            f"{c!r} ({k} row{'s' if k > 1 else ''})" for c, k in infinite.items())
            + "; replace them with a number or leave the cells empty (missing)")
    if schema.income and schema.income in schema.protected:
        raise DataError(f"income column {schema.income!r} is protected; a protected "
                        "attribute may be audited, never used to size a limit: name another "
                        "income column or leave income out")
    if schema.income and (schema.income in schema.categorical
                          or not pd.api.types.is_numeric_dtype(df[schema.income])):
        raise DataError(f"income column {schema.income!r} is not numeric; a limit is sized "
                        "from an amount")
    _check_names(features, schema)
    split_values = _split_of(df, schema, split or SplitConfig(), world or WorldConfig(), name)
    stressed = _regime_of(df, schema)
    _check_classes(y, split_values, schema, outcome, name)
    if not features:
        raise DataError(f"table {name!r} has no feature columns left after the schema's "
                        "target, drop, protected and split columns")
    categorical = tuple(c for c in features if c in schema.categorical)
    months = None if not schema.month_column else month_indices(
        df[schema.month_column], schema.month_column, (world or WorldConfig()).calendar_start)
    return CheckedTable(y=y, split=split_values, stressed=stressed, features=tuple(features),
                        categorical=categorical, outcome=outcome, months=months, ids=ids)


def _ids_of(df: pd.DataFrame, schema: TableSchema) -> pd.Index | None:
    """The rows' ids from ``schema.id_column`` (None without one): whole numbers or text
    (stripped), unique and none missing, and the column named in no other role."""
    c = schema.id_column
    if c is None:
        return None
    roles = {"target": [schema.target], "categorical": schema.categorical, "drop": schema.drop,
             "protected": schema.protected, "monotone": schema.monotone,
             "groups": schema.groups, "split_column": [schema.split_column],
             "month_column": [schema.month_column], "regime": [schema.regime],
             "income": [schema.income]}
    also = [key for key, names in roles.items() if c in names]
    if also:
        raise DataError(f"id_column {c!r} is also named as [data.schema] {', '.join(also)}; "
                        "an id only names rows, never a model column, target or split: "
                        "remove it there")
    col = df[c]
    text = pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
    if text:
        col = col.where(col.isna(), col.astype(str).str.strip()).replace("", np.nan)
    missing = int(col.isna().sum())
    if missing:
        raise DataError(f"id column {c!r} has {missing} missing value"
                        f"{'s' if missing > 1 else ''}; every row needs an id")
    if pd.api.types.is_integer_dtype(col) or \
            (pd.api.types.is_float_dtype(col) and whole_numbers(col)):
        ids = pd.Index(col.to_numpy(np.int64), name="row_id")
    elif text:
        ids = pd.Index(col.astype(str).to_numpy(object), name="row_id")
    else:
        odd = col[~np.isfinite(col) | (col != np.round(col)) | (col.abs() >= 2.0 ** 63)] \
            if pd.api.types.is_float_dtype(col) else col
        raise DataError(f"id column {c!r} holds {col.dtype} values such as "
                        f"{odd.iloc[:1].tolist()[0]!r}; allowed: whole numbers or text")
    repeated = ids[ids.duplicated()]
    if len(repeated):
        k = len(repeated.unique())
        raise DataError(f"id column {c!r} is not unique: {k} "
                        f"{'ids repeat' if k > 1 else 'id repeats'} "
                        f"(first: {repeated[:1].tolist()[0]!r}); every row needs its own id")
    return ids


def _refuse_text(df: pd.DataFrame, text: Sequence[str]) -> None:
    """DataError for text columns not declared categorical; those holding numbers written
    as text ("13.56%", "1,234") are named apart, as categories of them would be thousands of
    levels where one number was meant."""
    numeric = {c: _numbers_as_text(df[c]) for c in text}
    words = [c for c in text if numeric[c] is None]
    parts = []
    if words:
        parts.append(f"column{'s' if len(words) > 1 else ''} {_listing(words, 50)} "
                     f"{'are' if len(words) > 1 else 'is'} not numeric; list "
                     f"{'them' if len(words) > 1 else 'it'} under [data.schema] categorical "
                     "or drop")
    for c in text:
        if numeric[c] is not None:
            example, fix = numeric[c]
            parts.append(f"column {c!r} holds numbers written as text ({example!r}): convert "
                         f"it to numbers ({fix}) or list it under [data.schema] categorical")
    raise DataError("; ".join(parts))


def _numbers_as_text(col: pd.Series) -> tuple[str, str] | None:
    """``(an example, how to convert)`` when most non-empty values of a text column read as
    numbers once a trailing %, thousands separators and surrounding spaces are stripped and
    a decimal comma is made a point; None otherwise.  Works on the distinct values, weighted
    by their counts."""
    counts = col.dropna().astype(str).str.strip().value_counts()
    counts = counts[counts.index != ""]
    if not len(counts):
        return None
    values = counts.index.to_series()
    percent = values.str.endswith("%")
    bare = values.str.removesuffix("%").str.strip()
    grouped = bare.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
    # "0,43": a decimal comma (Excel where "," is the decimal mark, with ";" between fields)
    comma = bare.str.fullmatch(r"[+-]?\d*,\d+") & ~grouped
    plain = bare.where(~grouped, bare.str.replace(",", "")) \
        .where(~comma, bare.str.replace(",", "."))
    ok = pd.to_numeric(plain, errors="coerce").notna().to_numpy()
    if counts.to_numpy()[ok].sum() * 2 <= counts.sum():
        return None
    fix = [what for what, used in (("strip the %", percent),
                                   ("remove the thousands separators", grouped),
                                   ("write decimals with a point", comma)) if used[ok].any()]
    if not ok.all():
        fix.append(f"leave cells such as {values[~ok].iloc[0]!r} empty")
    marked = (percent | grouped | comma).to_numpy() & ok
    example = values[marked].iloc[0] if marked.any() else values[ok].iloc[0]
    return example, ", ".join(fix) or "its values are numbers stored as text"


def _target(target: pd.Series, schema: TableSchema) -> tuple[np.ndarray, str]:
    if not (pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target)):
        target = target.where(target.isna(), target.astype(str).str.strip())
    values = sorted(target.dropna().unique().tolist(), key=str)
    shown = f"{values[:5]}{' ...' if len(values) > 5 else ''}"
    if target.isna().any() or len(values) != 2:
        gaps = f" and {int(target.isna().sum())} missing values" if target.isna().any() else ""
        raise DataError(f"target {schema.target!r} must be binary with no missing values; "
                        f"found {len(values)} distinct values {shown}{gaps}")
    label = schema.positive_label
    if label is None:
        if not pd.api.types.is_bool_dtype(target):
            raise DataError(
                f"positive_label is required: target {schema.target!r} has values {shown}; set "
                "[data.schema] positive_label to the value that marks the event the model "
                "predicts (e.g. the default or the bad outcome)")
        label = True
    pos = _label_of(label, target)
    if pos not in values:
        raise DataError(f"positive_label {schema.positive_label!r} is not a value of target "
                        f"{schema.target!r}; values: {shown}")
    return (target == pos).to_numpy(np.int8), f"{schema.target} = {label}"


def _check_rules(df: pd.DataFrame, schema: TableSchema, rules: Sequence[MonitoringRule],
                 outside: set[str]) -> None:
    for rule in rules:
        c = rule.feature
        if c not in df.columns:
            guess = _closest(c, [str(x) for x in df.columns])
            why = "which the table lacks" + (f" (did you mean {guess!r}?)" if guess else "")
        elif c in outside - set(schema.drop):
            why = "which is the target, split or regime column"
        elif c in schema.protected:
            why = "which is a protected attribute (kept out of every reason)"
        elif c in schema.categorical or not pd.api.types.is_numeric_dtype(df[c]):
            why = "which is categorical; a rule compares numbers"
        else:
            continue
        raise DataError(f"monitoring rule {rule.name!r} reads column {c!r}, {why}; name a "
                        "numeric column of the table or set [policy] rules = []")


def _check_names(features: Sequence[str], schema: TableSchema) -> None:
    bad = [c for c in features if any(ch in c for ch in XGB_FORBIDDEN)]
    if bad:
        raise DataError(f"column name{'s' if len(bad) > 1 else ''} {_listing(bad)} "
                        f"contain{'' if len(bad) > 1 else 's'} [, ] or <, which xgboost "
                        "cannot take; rename them in the table")
    keyed = list(dict.fromkeys([*schema.monotone, *schema.groups]))
    bad = [c for c in keyed if not PARAM_NAME.match(c) or ".." in c
           or len(f"data.schema.monotone.{c}") > 250]
    if bad:
        raise DataError(f"column name{'s' if len(bad) > 1 else ''} {_listing(bad)} in "
                        "[data.schema.monotone] or [data.schema.groups] cannot be an MLflow "
                        "parameter name (allowed: letters, digits, _ - . and space, no '..'); "
                        "rename them in the table")


def _split_of(df: pd.DataFrame, schema: TableSchema, split: SplitConfig, world: WorldConfig,
              name: str) -> np.ndarray:
    if schema.split_column:
        col = df[schema.split_column]
        values = col.astype(str).str.strip().str.lower().to_numpy().astype(object)
        values[col.isna().to_numpy()] = "(missing)"
        # "gap" marks rows kept out of every split (their labels reach into the test period)
        bad = sorted(set(values) - {*SPLITS, GAP})
        if bad:
            raise DataError(f"split column {schema.split_column!r} has value"
                            f"{'s' if len(bad) > 1 else ''} {_listing(bad)}; allowed: "
                            f"{', '.join((*SPLITS, GAP))}")
        where = f"table {name!r} (split column {schema.split_column!r})"
    elif schema.month_column:
        values = _month_split(df[schema.month_column], schema.month_column, split, world)
        where = f"table {name!r} (month column {schema.month_column!r})"
    else:
        values = random_split(np.arange(len(df)), split)
        where = f"table {name!r} (random split)"
    check_nonempty(values, where)
    return values


def _month_split(column: pd.Series, name: str, split: SplitConfig,
                 world: WorldConfig) -> np.ndarray:
    """Out-of-time split of an own table by its YYYY-MM column, with ``split.gap_months``.

    Months are counted from ``world.calendar_start``; only their order matters here.
    """
    months = month_indices(column, name, world.calendar_start)
    plan = split.model_copy(update={"method": "out_of_time"})
    # checked here: an empty split is then named with the boundaries, the gap (by default
    # the 12-month performance window) and the table's months, which tell why it is empty
    return assign_splits(months, months, plan, world)


def month_indices(column: pd.Series, name: str, calendar_start: str) -> np.ndarray:
    """Calendar indices (from ``calendar_start``) of a YYYY-MM column; DataError naming
    the values that are not months."""
    labels = column.astype(str)
    index = {}
    bad = []
    for value in labels.unique():
        try:
            index[value] = month_index(value, calendar_start)
        except ValueError:
            bad.append(value)
    if bad:
        raise DataError(f"month column {name!r} has value{'s' if len(bad) > 1 else ''} "
                        f"{_listing(bad)}; allowed: months of the form YYYY-MM")
    return labels.map(index).to_numpy(np.int64)


def _regime_of(df: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    if not schema.regime:
        return np.zeros(len(df), dtype=bool)
    col = df[schema.regime]
    values = col.astype(str).str.strip().str.lower().to_numpy().astype(object)
    values[col.isna().to_numpy()] = "(missing)"
    bad = sorted(set(values) - {"normal", "stressed"})
    if bad:
        raise DataError(f"regime column {schema.regime!r} has value"
                        f"{'s' if len(bad) > 1 else ''} {_listing(bad)}; allowed: normal, "
                        "stressed")
    return values == "stressed"


def _check_classes(y: np.ndarray, split: np.ndarray, schema: TableSchema, outcome: str,
                   name: str) -> None:
    short = []
    for s in SPLITS:
        m = split == s
        pos = int(y[m].sum())
        neg = int(m.sum()) - pos
        if min(pos, neg) < MIN_CLASS_ROWS:
            short.append(f"{s} has {pos} with {outcome} and {neg} without")
    if short:
        fix = ("more rows in those splits" if schema.split_column else
               "a larger table or larger [split] valid_fraction / test_fraction")
        raise DataError(f"too few rows of a class in table {name!r}: {'; '.join(short)}; each "
                        f"split needs at least {MIN_CLASS_ROWS} of each class ({fix})")


def whole_numbers(values) -> bool:
    """Whether every value is a whole number an int64 holds: ids and codes a CSV with gaps
    reads as floats (2.0 for 2), never inf nor 1e19, which would wrap."""
    x = np.asarray(values, dtype=np.float64)
    return bool(np.isfinite(x).all() and (x == np.round(x)).all()
                and (np.abs(x) < 2.0 ** 63).all())


def _as_category(col: pd.Series) -> pd.Categorical:
    """A column as categories named by text, sorted: codes 1, 2 read "1", "2" (not "1.0");
    text without its surrounding spaces (a blank cell is missing)."""
    present = col.dropna()
    if pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present) \
            and whole_numbers(present):
        labels = present.astype(np.int64).astype(str)
    else:
        # " 36 months" is "36 months": spaces around a value are the export's, not a category
        labels = present.astype(str).str.strip()
        labels = labels[labels != ""]
    return pd.Categorical(labels.reindex(col.index), categories=sorted(labels.unique()))


def _own_feature(name: str, schema: TableSchema, categories: Sequence[str] = ()) -> Feature:
    return Feature(
        name=name, group=schema.groups.get(name, name), unit="category" if categories else
        "value", direction=int(schema.monotone.get(name, 0)), actionable=False,
        description_en=name, description_zh=name, template_en=f"{name} = {{value}}",
        template_zh=f"{name} = {{value}}", compute=None, categories=tuple(categories),
        rows=True,
    )


def build_own_table(df: pd.DataFrame, checked: CheckedTable, schema: TableSchema, *,
                    dataset_hash: str, source: str) -> ModelTable:
    """The :class:`ModelTable` of a table that passed :func:`check_table`.

    Numeric columns become float64, categorical ones pandas categories with their values as
    text (sorted), so xgboost splits on them natively; protected columns stay in
    ``features`` for audits and out of X.
    """
    keep = [c for c in df.columns if c not in {schema.target, schema.split_column,
                                                schema.month_column, schema.regime,
                                                schema.id_column}]
    # rows are named by the id column, else numbered from 0 in file order
    index = checked.ids if checked.ids is not None else pd.RangeIndex(len(df), name="row_id")
    features = pd.DataFrame(index=index)
    for c in keep:
        col = df[c].reset_index(drop=True)
        if c in schema.categorical or not (pd.api.types.is_numeric_dtype(col)
                                           or pd.api.types.is_bool_dtype(col)):
            features[c] = _as_category(col)
        else:
            features[c] = col.astype(np.float64).to_numpy()
    X = features[list(checked.features)]
    if checked.months is not None:
        # each row's decision month, as the synthetic table has it (drift by month)
        features["asof_month"] = checked.months
    reg = tuple(_own_feature(c, schema, X[c].cat.categories.tolist()
                             if c in checked.categorical else ()) for c in X.columns)
    return ModelTable(
        X=X, y=checked.y, split=checked.split, stressed=checked.stressed, features=features,
        truth=None, registry=reg, dataset_hash=dataset_hash, source=source,
        outcome=checked.outcome, income_column=schema.income,
        income_scale=INCOME_SCALE[schema.income_period], currency=schema.currency,
        has_regime=schema.regime is not None, protected=tuple(schema.protected),
    )


def warn_protected(features: Sequence[str]) -> None:
    """Warn once, naming them, when model features look like protected attributes."""
    found = protected_looking(features)
    if found:
        warnings.warn(ProtectedAttributeWarning(
            f"feature{'s' if len(found) > 1 else ''} {_listing(found)} may be "
            f"{'' if len(found) > 1 else 'a '}protected attribute{'s' if len(found) > 1 else ''}"
            " (race, sex, age, ...); the model uses "
            f"{'them' if len(found) > 1 else 'it'} and reasons may name "
            f"{'them' if len(found) > 1 else 'it'}: list such columns under [data.schema] "
            "protected to keep them out"), stacklevel=3)


def warn_index_columns(df: pd.DataFrame, features: Sequence[str]) -> None:
    """Warn once, naming them, when model features look like a row index: the row numbers
    0..n-1 or 1..n in file order, or a column without a name in the header (pandas reads it
    as "Unnamed: 0"; ``to_csv`` writes the index there unless ``index=False``)."""
    found = {}
    n = len(df)
    for c in features:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) \
                and not col.isna().any():
            values = col.to_numpy(np.float64)
            start = values[0]
            if start in (0, 1) and values[-1] == start + n - 1 \
                    and np.array_equal(values, np.arange(start, start + n)):
                found[c] = f"the row numbers {start:.0f} to {start + n - 1:,.0f}"
        if c not in found and re.fullmatch(r"Unnamed: \d+", c):
            found[c] = "no name in the header"
    if found:
        one = len(found) == 1
        warnings.warn(IndexColumnWarning(
            f"column{'' if one else 's'} "
            + ", ".join(f"{c!r} ({why})" for c, why in found.items())
            + f" look{'s' if one else ''} like a row index, not a feature, and the model uses "
            f"{'it' if one else 'them'}: list {'it' if one else 'them'} under [data.schema] drop "
            "(or name an id column as id_column)"), stacklevel=3)


def warn_many_categories(X: pd.DataFrame, categorical: Sequence[str]) -> None:
    """Warn once, naming them and their counts, when categorical features have more than
    :data:`MAX_CATEGORIES` distinct values."""
    many = {c: len(X[c].cat.categories) for c in categorical}
    many = {c: k for c, k in many.items() if k > MAX_CATEGORIES}
    if many:
        one = len(many) == 1
        warnings.warn(ManyCategoriesWarning(
            f"categorical column{'' if one else 's'} "
            + ", ".join(f"{c!r} ({k:,} distinct values)" for c, k in many.items())
            + f" {'has' if one else 'have'} more than {MAX_CATEGORIES} distinct values: rare "
            "ones make thin scorecard bins and reasons that name one-off values; drop "
            f"{'it' if one else 'them'} or group {'its' if one else 'their'} values"),
            stacklevel=3)


def load_own_table(path: str | Path, schema: TableSchema, *, encoding: str | None = None,
                   delimiter: str | None = None, split: SplitConfig | None = None,
                   world: WorldConfig | None = None,
                   rules: Sequence[MonitoringRule] = ()) -> ModelTable:
    """Read, check and build an own table (see :func:`read_table`, :func:`check_table`);
    warns (:class:`ProtectedAttributeWarning`) when a feature looks like a protected
    attribute, (:class:`IndexColumnWarning`) when one looks like a row index, and
    (:class:`ManyCategoriesWarning`) when a categorical feature has more than
    :data:`MAX_CATEGORIES` distinct values."""
    df = read_table(path, encoding=encoding, delimiter=delimiter)
    checked = check_table(df, schema, name=str(path), split=split, world=world, rules=rules)
    warn_protected(checked.features)
    warn_index_columns(df, checked.features)
    table = build_own_table(df, checked, schema, dataset_hash=sha256_file(Path(path)),
                            source=str(path))
    warn_many_categories(table.X, checked.categorical)
    return table


def from_table(path: str | Path, cfg: ExperimentConfig) -> ModelTable:
    """An own flat table (one row per decision) validated against ``cfg``'s ``[data]``
    section, split and monitoring rules."""
    return load_own_table(path, cfg.data.table_schema, encoding=cfg.data.encoding,
                          delimiter=cfg.data.delimiter, split=cfg.split, world=cfg.world,
                          rules=cfg.policy.rules)


def preflight_table(path: str | Path, cfg: ExperimentConfig) -> None:
    """Every check of :func:`from_table`, without building the table."""
    df = read_table(path, encoding=cfg.data.encoding, delimiter=cfg.data.delimiter)
    check_table(df, cfg.data.table_schema, name=str(path), split=cfg.split, world=cfg.world,
                rules=cfg.policy.rules)
