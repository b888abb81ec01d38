"""Bad own-table inputs, each with the one line it must be refused with.

Shared by ``tests/test_own_table.py`` (exit status 2, one line, nothing written) and
``benchmarks/bench_input_contract.py`` (how long the refusal takes).  Each case writes an
experiment file ``exp.toml`` and (usually) its table ``t.csv`` into a folder; the table
path in the file is relative to the file, as a user writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# A readable subset of the exported synthetic table: enough rows (8,000 users) for 50 of
# each class in every split, few enough columns to write quickly.
COLUMNS = ["user_id", "late_cnt_6m", "max_dpd_12m", "paid_ratio_6m", "util_mean_3m",
           "debt_to_income", "inq_cnt_6m", "inflow_mean_6m", "min_balance_3m", "txn_mean_6m",
           "tenure_months", "income", "age", "segment", "split", "default_12m"]


def base_schema() -> dict:
    return {"target": "default_12m", "positive_label": 1, "categorical": ["segment"],
            "drop": ["user_id"], "split_column": "split", "protected": ["age"]}


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_value(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def toml_text(tree: dict) -> str:
    """A nested dict of sections as TOML (one level of sub-tables, as experiment files)."""
    lines = []

    def section(name: str, body: dict) -> None:
        lines.append(f"[{name}]")
        subs = {}
        for k, v in body.items():
            if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
                subs[k] = v
            elif isinstance(v, dict) and k in {"schema", "monotone", "groups"}:
                subs[k] = v
            else:
                lines.append(f"{toml_value(k)} = {toml_value(v)}")
        for k, v in subs.items():
            section(f"{name}.{k}", v)

    for name, body in tree.items():
        section(name, body)
    return "\n".join(lines) + "\n"


def write_experiment(folder: Path, *, schema: dict | None = None, policy: dict | None = None,
                     data: dict | None = None, extra: dict | None = None) -> Path:
    tree = {"data": {"table": "t.csv", **(data or {}), "schema": schema or base_schema()},
            "policy": {"cutoff": 0.2} if policy is None else policy,
            "model": {"n_estimators": 30}, **(extra or {})}
    path = folder / "exp.toml"
    path.write_text(toml_text(tree), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Case:
    """id: the case's name; build(folder, frame) writes exp.toml and the table; message: a
    part of the one line it must give."""

    id: str
    build: Callable[[Path, pd.DataFrame], Path]
    message: str


def _csv(df: pd.DataFrame, folder: Path, **kw) -> None:
    df.to_csv(folder / "t.csv", index=False, **kw)


def _with(mutate=None, *, schema=None, policy=None, data=None, extra=None, raw=None):
    """A builder: the frame changed by ``mutate`` (or raw bytes), the schema by ``schema``."""

    def build(folder: Path, df: pd.DataFrame) -> Path:
        if raw is not None:
            (folder / "t.csv").write_bytes(raw(df) if callable(raw) else raw)
        else:
            _csv(mutate(df.copy()) if mutate else df, folder)
        s = base_schema()
        if schema:
            s = schema(s)
        return write_experiment(folder, schema=s, policy=policy, data=data, extra=extra)

    return build


def _no_table(folder: Path, df: pd.DataFrame) -> Path:
    return write_experiment(folder)


def _gbk(df: pd.DataFrame) -> bytes:
    out = df.copy()
    out["segment"] = out["segment"].map({"salaried": "受薪", "student": "学生"}).fillna("其他")
    return out.to_csv(index=False).encode("gbk")


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _few_positives(df: pd.DataFrame) -> pd.DataFrame:
    test_pos = np.flatnonzero((df["split"] == "test") & (df["default_12m"] == 1))
    return df.drop(index=df.index[test_pos[40:]])


def _drop(key, name):
    def f(s):
        s[key] = [c for c in s[key] if c != name]
        return s
    return f


CASES: tuple[Case, ...] = (
    Case("missing table", _no_table, "t.csv' does not exist"),
    Case("empty file", _with(raw=b""), "is empty (0 bytes)"),
    Case("header only", _with(raw=b"default_12m,split\n"), "has a header but no rows"),
    Case("parquet saved as csv", _with(raw=_parquet_bytes),
         "is not CSV text: it is a Parquet file"),
    Case("excel saved as csv", _with(raw=b"PK\x03\x04" + b"\x00" * 64),
         "is not CSV text: it is a zip archive"),
    Case("binary data", _with(raw=b"default_12m,split\n1,\x00\x00train\n"),
         "holds binary data (NUL bytes)"),
    Case("neither utf-8, gbk nor cp1252", _with(raw=b"default_12m,split\n\x80\x81,train\n"),
         "is neither UTF-8, GBK/GB18030 nor cp1252 (Western European) text; set [data] "
         "encoding to its encoding, e.g. latin-1, big5, shift_jis"),
    Case("wrong declared encoding", _with(raw=_gbk, data={"encoding": "ascii"}),
         "is not valid ascii text"),
    Case("unknown encoding", _with(data={"encoding": "klingon"}),
         "unknown encoding 'klingon'"),
    Case("tab file read with commas",
         _with(raw=lambda d: d.to_csv(index=False, sep="\t").encode(),
               data={"delimiter": ","}),
         "reads as one column 'user_id\\tlate_cnt_6m\\tmax_dpd_12m\\tpaid_rat...' with the "
         "delimiter ',': the delimiter looks wrong (the header holds '\\t'); set [data] "
         "delimiter = \"\\t\""),
    Case("delimiter of two characters", _with(data={"delimiter": ";;"}),
         "delimiter must be one character other than a quote or a line break"),
    Case("decimal commas",
         _with(raw=lambda d: d.to_csv(index=False, sep=";", decimal=",").encode()),
         "column 'paid_ratio_6m' holds numbers written as text ("),
    Case("duplicate columns", _with(lambda d: d.rename(columns={"age": "income"})),
         "duplicate column names: income"),
    Case("every string column at once",
         _with(lambda d: d.assign(city="Shanghai", job="clerk"),
               schema=_drop("categorical", "segment")),
         "columns 'segment', 'city', 'job' are not numeric"),
    Case("numbers written as text",
         _with(lambda d: d.assign(
             city="Lyon", int_rate=np.array(["13.56%", "13.56%", " 7.1%", "-"])[d.index % 4],
             amount=np.array(["1,234", "12,000.5", "950"])[d.index % 3])),
         "error: column 'city' is not numeric; list it under [data.schema] categorical or "
         "drop; column 'int_rate' holds numbers written as text ('13.56%'): convert it to "
         "numbers (strip the %, leave cells such as '-' empty) or list it under [data.schema] "
         "categorical; column 'amount' holds numbers written as text ('1,234'): convert it "
         "to numbers (remove the thousands separators) or list it under [data.schema] "
         "categorical"),
    Case("target in categorical",
         _with(schema=lambda s: {**s, "categorical": ["segment", "default_12m"]}),
         "the target 'default_12m' is listed under [data.schema] categorical"),
    Case("positive_label missing",
         _with(schema=lambda s: {k: v for k, v in s.items() if k != "positive_label"}),
         "positive_label is required: target 'default_12m' has values [0, 1]"),
    Case("positive_label not a value", _with(schema=lambda s: {**s, "positive_label": 2}),
         "positive_label 2 is not a value of target 'default_12m'"),
    Case("target not binary", _with(lambda d: d.assign(default_12m=np.arange(len(d)) % 3)),
         "target 'default_12m' must be binary"),
    Case("rule on a missing column",
         _with(policy={"cutoff": 0.2, "rules": [{"name": "r", "feature": "nope",
                                                 "threshold": 1}]}),
         "monitoring rule 'r' reads column 'nope', which the table lacks"),
    Case("rule on a categorical column",
         _with(policy={"cutoff": 0.2, "rules": [{"name": "r", "feature": "segment",
                                                 "threshold": 1}]}),
         "monitoring rule 'r' reads column 'segment', which is categorical"),
    Case("monotone on a missing column",
         _with(schema=lambda s: {**s, "monotone": {"nope": 1}}),
         "schema names unknown column 'nope'"),
    Case("target in another case", _with(schema=lambda s: {**s, "target": "Default_12M"}),
         "t.csv' has no target column 'Default_12M'; did you mean 'default_12m'?"),
    Case("target with dots for spaces",
         _with(lambda d: d.rename(columns={"default_12m": "default payment next month"}),
               schema=lambda s: {**s, "target": "default.payment.next.month"}),
         "has no target column 'default.payment.next.month'; did you mean 'default payment "
         "next month'?"),
    Case("target nothing like a column", _with(schema=lambda s: {**s, "target": "zzz"}),
         "has no target column 'zzz'; columns: 'user_id', 'late_cnt_6m', "),
    Case("misspelt schema columns",
         _with(schema=lambda s: {**s, "categorical": ["Segment"], "protected": ["agee"]}),
         "schema names unknown columns 'Segment', 'agee'; did you mean 'segment', 'age'?"),
    Case("misspelt and unknown schema columns",
         _with(schema=lambda s: {**s, "categorical": ["Segment"], "drop": ["zzz"]}),
         "schema names unknown columns 'Segment' (did you mean 'segment'?), 'zzz'; the "
         "table's columns: 'user_id', "),
    Case("rule on a misspelt column",
         _with(policy={"cutoff": 0.2, "rules": [{"name": "r", "feature": "Inq_Cnt_6m",
                                                 "threshold": 1}]}),
         "monitoring rule 'r' reads column 'Inq_Cnt_6m', which the table lacks (did you mean "
         "'inq_cnt_6m'?); name a numeric column"),
    Case("monotone on a categorical column",
         _with(schema=lambda s: {**s, "monotone": {"segment": 1}}),
         "monotone direction given for categorical column 'segment'"),
    Case("split column with other values",
         _with(lambda d: d.assign(split=d["split"].replace("valid", "holdout"))),
         "split column 'split' has value 'holdout'; allowed: train, valid, test"),
    Case("split column without valid",
         _with(lambda d: d.assign(split=d["split"].replace("valid", "train"))),
         "split 'valid' is empty"),
    Case("fewer than 50 of a class in a split", _with(_few_positives),
         "too few rows of a class"),
    Case("infinite values",
         _with(lambda d: d.assign(debt_to_income=np.where(np.arange(len(d)) < 3, np.inf,
                                                          d["debt_to_income"]))),
         "infinite values in 'debt_to_income' (3 rows)"),
    Case("column name xgboost refuses", _with(lambda d: d.rename(columns={
        "debt_to_income": "dti[x]"})), "'dti[x]' contains [, ] or <"),
    Case("column name mlflow refuses",
         _with(lambda d: d.rename(columns={"debt_to_income": "dti (%)"}),
               schema=lambda s: {**s, "monotone": {"dti (%)": 1}}),
         "'dti (%)' in [data.schema.monotone] or [data.schema.groups] cannot be an MLflow "
         "parameter name"),
    Case("entirely empty column", _with(lambda d: d.assign(notes=np.nan)),
         "column 'notes' of table"),
    Case("no decision rule", _with(policy={}), "an own table needs exactly one decision rule"),
    Case("text income column", _with(schema=lambda s: {**s, "income": "segment"}),
         "income column 'segment' is not numeric"),
    Case("protected income column", _with(schema=lambda s: {**s, "income": "age"}),
         "income column 'age' is protected; a protected attribute may be audited, never used "
         "to size a limit: name another income column or leave income out"),
    Case("id column also dropped", _with(schema=lambda s: {**s, "id_column": "user_id"}),
         "id_column 'user_id' is also named as [data.schema] drop; an id only names rows, "
         "never a model column, target or split: remove it there"),
    Case("duplicate ids",
         _with(lambda d: d.assign(user_id=d["user_id"].where(~d.index.isin([3, 9]), 424242)),
               schema=lambda s: {**_drop("drop", "user_id")(s), "id_column": "user_id"}),
         "id column 'user_id' is not unique: 1 id repeats (first: 424242); every row needs its "
         "own id"),
    Case("missing ids",
         _with(lambda d: d.assign(user_id=d["user_id"].where(d.index >= 2)),
               schema=lambda s: {**_drop("drop", "user_id")(s), "id_column": "user_id"}),
         "id column 'user_id' has 2 missing values; every row needs an id"),
    Case("interventional with categories",
         _with(extra={"explain": {"mode": "interventional"}}),
         "cannot explain the categorical column 'segment'"),
)


def base_frame(table_csv: Path) -> pd.DataFrame:
    """The test subset of an exported table."""
    return pd.read_csv(table_csv)[COLUMNS]
