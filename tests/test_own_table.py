"""Own tables: the input contract, a mode that stands on its own, native categories,
protected attributes, the scorecard on optimal bins, small data and the Python API."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bad_inputs import CASES, base_frame, base_schema, write_experiment
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import ScorecardConfig, build_config, load_config
from toolkit.data.features import format_value
from toolkit.data.table import (
    IndexColumnWarning,
    ManyCategoriesWarning,
    ProtectedAttributeWarning,
    from_table,
    protected_looking,
)
from toolkit.errors import ConfigError, DataError, InputError
from toolkit.explain import explain_table
from toolkit.explain.reasons import build_reasons
from toolkit.explain.report import report_figures
from toolkit.models.scorecard import MISSING, Scorecard
from toolkit.source import open_table, prepare_table
from toolkit.workflows.fitted import fit_models

runner = CliRunner()
def _figure_text(fig) -> str:
    from matplotlib.text import Text

    return " | ".join(t.get_text() for t in fig.findobj(Text) if t.get_text())


def test_the_figures_speak_of_the_tables_outcome(fitted):
    from toolkit.workflows.explain import report_context

    cfg, f = fitted
    res = explain_table(f.scorer, f.table, f.decisions, cfg.explain, policy=cfg.policy)
    figs = report_figures(res, report_context(cfg, f, stem="own", run_id="0e1f2e3d"))
    texts = {name: _figure_text(fig) for name, fig in figs.items()}
    assert {"calibration_models", "group_importance", "shap_beeswarm"} <= set(texts)
    assert any(name.startswith("waterfall_") for name in texts)
    for name, text in texts.items():
        # the outcome here is "default_12m = 1": the world's own "default" must not show
        leak = re.search(r"\bPD\b|default(?!_12m)|zero-limit|[Uu]sers?\b", text)
        assert leak is None, (name, text)
    assert "log-odds of default_12m = 1" in texts["group_importance"]
    assert "refused rows" in texts["group_importance"]
    assert "observed rate of default_12m = 1" in texts["calibration_models"]
    assert re.search(r"Row \d+: ", " ".join(v for k, v in texts.items()
                                            if k.startswith("waterfall_")))


def test_the_model_runs_figures_speak_of_the_tables_outcome():
    from toolkit.models.plots import calibration_figure, roc_ks_figure

    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.9, 500)
    y = (rng.random(500) < p).astype(int)
    for draw in (roc_ks_figure, calibration_figure):
        own = _figure_text(draw(y, p, title="(xgboost, test)", outcome="class = 2"))
        assert "class = 2" in own and not re.search(r"\bPD\b|default", own), own
        assert re.search(r"\bPD\b", _figure_text(draw(y, p, title="(xgboost, test)")))


def test_outliers_and_sentinels_do_not_squeeze_a_dependence_plot():
    from toolkit.explain.figures import beeswarm, dependence

    rng = np.random.default_rng(0)
    n = 2000
    late = rng.poisson(0.3, n).astype(float)
    late[:20] = 98.0  # the sentinel of "Give Me Some Credit"
    X = pd.DataFrame({"late": late, "purpose": pd.Categorical(rng.choice(["a", "b"], n))})
    values = np.column_stack([0.3 * np.minimum(late, 5), 0.1 * rng.normal(size=n)])
    ax = dependence(values, X, ["late", "purpose"], top=1).axes[0]
    assert ax.get_xlim()[1] < 10
    assert ax.get_xlabel() == "late (1st to 99th percentile shown)"
    ax = dependence(values[20:], X.iloc[20:], ["late", "purpose"], top=1).axes[0]
    assert ax.get_xlabel() == "late"
    # a category has no order to colour by: one grey for all its points
    ax = beeswarm(values, X, ["late", "purpose"]).axes[0]
    late_points, purpose_points = ax.collections[1], ax.collections[0]
    assert len(np.unique(purpose_points.get_facecolors(), axis=0)) == 1
    assert late_points.get_array() is not None


def test_a_category_dependence_plot_names_its_categories():
    from toolkit.explain.figures import dependence

    rng = np.random.default_rng(0)
    n = 400
    purpose = pd.Categorical(rng.choice(["new car", "used car", "education"], n),
                             categories=["education", "furniture", "new car", "used car"])
    X = pd.DataFrame({"purpose": purpose, "amount": rng.normal(size=n)})
    values = np.column_stack([np.where(purpose == "used car", 1.0, -0.5),
                              0.01 * rng.normal(size=n)])
    fig = dependence(values, X, ["purpose", "amount"], top=1)
    ax = fig.axes[0]
    # the categories present, in their declared order, at 0, 1, 2; not their codes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["education", "new car",
                                                            "used car"]
    assert list(ax.get_xticks()) == [0.0, 1.0, 2.0]
    x = ax.collections[0].get_offsets()[:, 0]
    assert np.all(np.abs(x - np.round(x)) <= 0.3)
    used = np.asarray(purpose == "used car")
    assert np.all(np.round(x[used]) == 2.0)


PURPOSES = ("新车", "二手车", "家具", "教育", "维修")


@pytest.fixture(scope="module")
def frame(own_world):
    return base_frame(own_world[1])


def _enriched(df: pd.DataFrame, truth: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The test table: a string category that carries risk ("purpose"), a count at 90%
    zeros ("collections") and 20% missing values in a numeric column.  The two new columns
    are drawn from the world's true utilisation-and-debt term, whose columns the table then
    loses, never from the label: they carry risk as real columns do without holding the
    outcome."""
    rng = np.random.default_rng(seed)
    df = df.drop(columns=["util_mean_3m", "debt_to_income"])
    term = truth.set_index("user_id").loc[df["user_id"], "term_utilization_debt"]
    risky = term.rank(pct=True).to_numpy() > 0.8
    used_car = rng.random(len(df)) < np.where(risky, 0.85, 0.03)
    df["purpose"] = np.where(used_car, PURPOSES[1],
                             np.asarray(PURPOSES, dtype=object)[rng.choice([0, 2, 3, 4],
                                                                           len(df))])
    df["collections"] = np.where(rng.random(len(df)) < np.where(risky, 0.3, 0.05),
                                 1 + rng.poisson(2, len(df)), 0)
    df.loc[rng.random(len(df)) < 0.2, "inflow_mean_6m"] = np.nan
    return df


GROUPS = {"late_cnt_6m": "repayment_history", "paid_ratio_6m": "repayment_history",
          "collections": "repayment_history", "inq_cnt_6m": "borrowing_behavior",
          "inflow_mean_6m": "liquidity_income", "min_balance_3m": "liquidity_income",
          "txn_mean_6m": "platform_activity", "tenure_months": "tenure_profile",
          "income": "tenure_profile", "segment": "tenure_profile"}  # purpose: its own


def _schema(**over) -> dict:
    return {**base_schema(), "categorical": ["segment", "purpose"],
            "monotone": {"late_cnt_6m": 1, "paid_ratio_6m": -1, "inflow_mean_6m": -1,
                         "collections": 1}, "groups": GROUPS, **over}


def _cfg(path: Path, *, policy=None, schema=None, data_delimiter=None, **sections) -> object:
    return build_config({"data": {"table": str(path), "schema": schema or _schema(),
                                  "delimiter": data_delimiter},
                         "policy": policy or {"cutoff": 0.2},
                         "model": {"n_estimators": 200, "learning_rate": 0.1}, **sections})


@pytest.fixture(scope="module")
def gbk_table(frame, own_world, tmp_path_factory):
    """The test table written as GBK (the usual Chinese Excel export), no encoding given."""
    from toolkit.data.dataset import load_dataset

    path = tmp_path_factory.mktemp("own") / "gbk.csv"
    _enriched(frame, load_dataset(own_world[0]).truth).to_csv(path, index=False,
                                                                encoding="gbk")
    return path


@pytest.fixture(scope="module")
def fitted(gbk_table):
    cfg = _cfg(gbk_table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProtectedAttributeWarning)
        table, _ = prepare_table(cfg)
    return cfg, fit_models(cfg, table)


# --- the input contract --------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, frame, tmp_path,
                                                             monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    exp = case.build(folder, frame)
    before = sorted(p.name for p in folder.iterdir())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    res = runner.invoke(app, ["run", str(exp), "--tracking-uri",
                              f"sqlite:///{work / 'mlflow.db'}", "--outputs", "out"])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    assert case.message in lines[0]
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.parametrize("command", ["train", "tune"])
def test_train_and_tune_check_the_table_before_the_store(command, frame, tmp_path,
                                                          monkeypatch):
    case = next(c for c in CASES if c.id == "every string column at once")
    exp = case.build(tmp_path, frame)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    res = runner.invoke(app, [command, str(exp), "--tracking-uri",
                              f"sqlite:///{work / 'mlflow.db'}"])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [
        "error: columns 'segment', 'city', 'job' are not numeric; list them under "
        "[data.schema] categorical or drop"]
    assert list(work.iterdir()) == []


def test_own_table_split_by_month_keeps_the_gap(own_world, tmp_path):
    from toolkit.calendar import month_index

    exported = own_world[1]
    schema = {**base_schema(), "split_column": None, "month_column": "month",
              "drop": ["user_id", "split"]}
    cfg = _cfg(exported, schema=schema)
    df = pd.read_csv(exported)
    table = from_table(exported, cfg)
    # the same out-of-time split the synthetic run uses, gap included
    np.testing.assert_array_equal(table.split, df["split"].to_numpy().astype(object))
    months = df["month"].map(lambda m: month_index(m, cfg.world.calendar_start)).to_numpy()
    v_end = month_index(cfg.split.valid_end, cfg.world.calendar_start)
    assert months[table.split == "test"].min() > v_end + cfg.world.performance_months
    assert "month" not in table.feature_names and "split" not in table.feature_names
    wider = cfg.model_copy(update={"split": cfg.split.model_copy(update={"gap_months": 15})})
    assert (from_table(exported, wider).split == "gap").sum() > (table.split == "gap").sum()
    bad = tmp_path / "bad.csv"
    df.assign(month=df["month"].where(df.index != 3, "March")).to_csv(bad, index=False)
    with pytest.raises(DataError) as err:
        from_table(bad, cfg)
    assert str(err.value) == ("month column 'month' has value 'March'; allowed: months of "
                              "the form YYYY-MM")
    # a gap (the 12-month window by default) past the table's last month empties the test
    # split: the message gives the boundaries, the gap and the months the table holds
    late = cfg.model_copy(update={"split": cfg.split.model_copy(
        update={"valid_end": df["month"].max()})})
    with pytest.raises(InputError) as err:
        from_table(exported, late)
    assert str(err.value) == (
        f"split 'test' is empty with train_end={cfg.split.train_end}, "
        f"valid_end={df['month'].max()}, gap_months={cfg.world.performance_months}: "
        f"observation months run from {df['month'].min()} to {df['month'].max()}; set the "
        "boundaries inside that range")


def test_table_paths_resolve_against_the_experiment_file(frame, tmp_path, monkeypatch):
    folder = tmp_path / "project" / "experiments"
    folder.mkdir(parents=True)
    frame.to_csv(folder / "t.csv", index=False)
    exp = write_experiment(folder)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(exp.relative_to(tmp_path))
    assert Path(cfg.data.table) == Path("project/experiments/t.csv")
    cfg = load_config(exp.relative_to(tmp_path), ["data.table='elsewhere.csv'"])
    assert cfg.data.table == "elsewhere.csv"  # a --set value is relative to the working folder


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_are_detected(frame, tmp_path, encoding):
    df = frame.assign(segment=lambda d: d["segment"].map(
        {"salaried": "受薪", "student": "学生"}).fillna("灵活就业"))
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False, encoding=encoding)
    table = from_table(path, _cfg(path, schema=base_schema()))
    assert list(table.X["segment"].cat.categories) == sorted(["受薪", "学生", "灵活就业"])


def test_a_declared_utf16_without_byte_order_mark_is_read(frame, tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(frame.to_csv(index=False).encode("utf-16-le"))
    cfg = _cfg(path, schema=base_schema())
    table = from_table(path, cfg.model_copy(
        update={"data": cfg.data.model_copy(update={"encoding": "utf-16-le"})}))
    assert len(table.X) == len(frame)


def test_an_infinite_id_is_refused_in_one_line(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(ID=np.where(np.arange(len(frame)) == 2, np.inf,
                             np.arange(len(frame), dtype=float))).to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        from_table(path, _cfg(path, schema={**base_schema(), "id_column": "ID"}))
    assert str(err.value) == ("id column 'ID' holds float64 values such as inf; allowed: "
                              "whole numbers or text")


def test_excels_unicode_text_export_is_read(frame, tmp_path):
    """Excel's "Unicode Text": UTF-16 with its byte-order mark, tab-separated, saved as
    .txt."""
    df = frame.assign(segment=lambda d: d["segment"].map({"salaried": "Angestellt"})
                      .fillna("Selbstständig"))
    path = tmp_path / "t.txt"
    df.to_csv(path, index=False, sep="\t", encoding="utf-16")
    assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    table = from_table(path, _cfg(path, schema=base_schema()))
    assert list(table.X["segment"].cat.categories) == ["Angestellt", "Selbstständig"]
    assert len(table.X) == len(df)


def test_western_european_text_is_not_read_as_chinese(frame, tmp_path):
    """GB18030 decodes almost any bytes: cp1252 text must not come out as mojibake."""
    words = ["célibataire", "marié", "Größe", "São Paulo", "don’t", "€ 12"]
    df = frame.rename(columns={"default_12m": "défaut"}).assign(
        segment=np.array(words, dtype=object)[frame.index % len(words)])
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False, encoding="cp1252")
    table = from_table(path, _cfg(path, schema={**base_schema(), "target": "défaut"}))
    assert table.outcome == "défaut = 1"
    assert sorted(table.X["segment"].cat.categories) == sorted(words)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiters_are_sniffed_or_declared(frame, tmp_path, sep):
    comma = tmp_path / "comma.csv"
    frame.to_csv(comma, index=False)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False, sep=sep)
    want = from_table(comma, _cfg(comma, schema=base_schema()))
    for delimiter in (None, sep):
        cfg = _cfg(path, schema=base_schema(), data_delimiter=delimiter)
        got = from_table(path, cfg)
        pd.testing.assert_frame_equal(got.X, want.X)
        np.testing.assert_array_equal(got.y, want.y)


def test_declared_encoding_is_used(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(segment="café").to_csv(path, index=False, encoding="latin-1")
    cfg = build_config({"data": {"table": str(path), "schema": base_schema(),
                                 "encoding": "latin-1"}, "policy": {"cutoff": 0.2}})
    assert list(from_table(path, cfg).X["segment"].cat.categories) == ["café"]


def test_parquet_tables_are_read(frame, tmp_path):
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, index=False)
    table = from_table(path, _cfg(path, schema=base_schema()))
    assert len(table.X) == len(frame)
    (tmp_path / "bad.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="is not a Parquet file"):
        from_table(tmp_path / "bad.parquet", _cfg(tmp_path / "bad.parquet"))


def test_boolean_target_needs_no_positive_label(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(default_12m=frame["default_12m"] == 1).to_csv(path, index=False)
    schema = {k: v for k, v in base_schema().items() if k != "positive_label"}
    table = from_table(path, _cfg(path, schema=schema))
    np.testing.assert_array_equal(table.y, frame["default_12m"].to_numpy())
    assert table.outcome == "default_12m = True"


def test_text_positive_label(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(default_12m=np.where(frame["default_12m"] == 1, "bad", "good")) \
        .to_csv(path, index=False)
    table = from_table(path, _cfg(path, schema={**base_schema(), "positive_label": "bad"}))
    np.testing.assert_array_equal(table.y, frame["default_12m"].to_numpy())
    assert table.outcome == "default_12m = bad"


def test_reproduce_on_a_missing_own_table_says_it_is_missing(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    exp = write_experiment(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = runner.invoke(app, ["train", str(exp), "--tracking-uri", store])
    assert res.exit_code == 0, res.output
    run_id = re.search(r"xgboost run: (\w+)", res.output).group(1)
    path.unlink()
    res = runner.invoke(app, ["reproduce", run_id, "--tracking-uri", store])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        f"error: the own table of run {run_id} is missing: {str(path.resolve())!r} does not "
        f"exist; put the table back there (SHA-256 "
        f"{MlflowClient(store).get_run(run_id).data.tags['toolkit.dataset_hash'][:12]}...)"]


# --- own-table mode stands on its own ------------------------------------------------------

def test_no_synthetic_default_reaches_an_own_table(fitted):
    cfg, f = fitted
    table = f.table
    assert cfg.policy.rules == ()
    assert not table.stressed.any() and not table.has_regime
    assert "income" in table.X.columns  # a column named income sizes no limit
    refused = f.decisions["zero"].to_numpy()
    assert f.decisions.loc[~refused, "limit"].isna().all()  # approved: no limit, no currency
    assert (f.decisions.loc[refused, "limit"] == 0).all()
    assert set(f.decisions["mechanism"]) <= {"approved", "score"}
    assert f.metrics["policy_cutoff"] == 0.2
    res = explain_table(f.scorer, table, f.decisions, cfg.explain, policy=cfg.policy)
    assert "regime_zero_limit_groups" not in report_figures(res)
    refused = res.zero_users[0]
    for lang, words in (("en", "predicted probability of default_12m = 1"),
                        ("zh", "预测 default_12m = 1 的概率")):
        text = res.user_report(refused, lang=lang)
        assert words in text
        assert not re.search(r"\bPD\b|CNY|元|违约概率|zero limit|零额度", text), text
    approved = res.decisions.index[~res.decisions["zero"]][0]
    assert res.user_report(approved) == (
        f"Row {approved}: approved\n" + res.user_report(approved).split("\n", 1)[1])


def test_the_report_speaks_of_rows_and_the_split_the_schema_chose(fitted):
    from toolkit.workflows.explain import report_context

    cfg, f = fitted
    res = explain_table(f.scorer, f.table, f.decisions, cfg.explain, policy=cfg.policy)
    ctx = report_context(cfg, f, stem="own", run_id="0e1f2e3d")
    page, _ = res.report_html(context=ctx, figures=False)
    refused = int(f.decisions.loc[f.table.mask("test"), "zero"].sum())
    # the schema's split column gives the split, whatever [split] method says
    assert cfg.split.method == "out_of_time" and "column split gives it" in page
    assert "out of time: train up to" not in page
    assert f"were refused: score {refused:,}." in page
    assert "real-time monitoring 0" not in page and "got a zero limit" not in page
    # the mechanism sections and the table of refusals speak of rows, refusals and a
    # predicted probability, never of users or a PD
    text = re.sub(r"<[^>]+>", " ", page[page.index('id="mechanism-score"'):])
    assert "Refused rows" in text and "Two example rows" in text and "Row " in text
    assert "predicted probability" in text
    leak = re.search(r"\bPD\b|zero-limit users|Zero-limit users|User \d", text)
    assert leak is None, text[max(leak.start() - 200, 0):leak.end() + 100]
    # no mechanism, regime or truth the table does not have
    decisions = page[page.index('id="decisions"'):page.index('id="decisions"') + 3000]
    decisions = decisions[:decisions.index("</table>")]
    assert "real-time monitoring" not in decisions and "stressed" not in decisions
    assert "Explanation checks" in page and "against the truth" not in page
    card = re.sub(r"<[^>]+>", " ", page[page.index('id="section-scorecard"'):
                                         page.index('id="mechanism-score"')])
    assert "scores a row" in card and "rate of default_12m = 1" in card
    assert not re.search(r"default rate|\busers?\b", card), card
    # the report on named rows reads the same way
    from toolkit.explain.report import render_user_report

    user = res.zero_users[0]
    one = re.sub(r"<[^>]+>", " ", render_user_report(res, [user], context=ctx))
    assert f"Row {user}: refused" in one and "predicted probability" in one
    assert not re.search(r"\bPD\b|zero limit|User \d", one)


def test_approval_rate_sets_the_cutoff_from_training_rows(gbk_table):
    cfg = _cfg(gbk_table, policy={"approval_rate": 0.7})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProtectedAttributeWarning)
        f = fit_models(cfg, prepare_table(cfg)[0], scorecard=False)
    train = f.table.mask("train")
    approved = (~f.decisions["zero"].to_numpy())[train].mean()
    assert abs(approved - 0.7) <= 1.0 / train.sum()
    assert 0 < f.metrics["policy_cutoff"] < 1


def test_a_regime_column_tightens_and_an_income_column_sizes_limits(frame, tmp_path):
    df = frame.assign(regime=np.where(frame["split"] == "test", "stressed", "normal"))
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    cfg = _cfg(path, schema={**base_schema(), "regime": "regime", "income": "income",
                             "currency": "EUR"},
               policy={"cutoff": 0.3, "stressed_cutoff": 0.1})
    f = fit_models(cfg, from_table(path, cfg), scorecard=False)
    d = f.decisions
    stressed = f.table.stressed
    assert stressed.sum() == (df["split"] == "test").sum()
    assert set(d.loc[stressed, "cutoff"]) == {0.1} and set(d.loc[~stressed, "cutoff"]) == {0.3}
    assert (d["mechanism"] == "policy").any()
    approved = ~d["zero"].to_numpy()
    assert (d["limit"].to_numpy()[approved] > 0).all()
    res = explain_table(f.scorer, f.table, d, cfg.explain, policy=cfg.policy)
    policy_text = res.reasons.loc[res.reasons["kind"] == "policy", "text"].iloc[0]
    assert policy_text.startswith("predicted probability of default_12m = 1 of ")
    user = res.decisions.index[~res.decisions["zero"]][0]
    assert "limit EUR " in res.user_report(user)
    # a regime of its own: the regime figure compares refused rows, not users
    regime = _figure_text(report_figures(res)["regime_zero_limit_groups"])
    assert "Refused rows: normal against stressed regime" in regime
    assert not re.search(r"[Zz]ero-limit|[Uu]sers", regime), regime


def test_an_income_column_stays_a_feature_and_annual_income_sizes_monthly_limits(frame,
                                                                                 tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(income=frame["income"] * 12).to_csv(path, index=False)
    cfg = _cfg(path, schema={**base_schema(), "income": "income", "income_period": "annual",
                             "monotone": {"income": -1}}, policy={"cutoff": 0.3})
    f = fit_models(cfg, from_table(path, cfg), scorecard=False)
    table = f.table
    assert "income" in table.X.columns  # a model feature, its direction kept
    assert dict(zip(table.feature_names, table.monotone, strict=True))["income"] == -1
    assert table.income_column == "income" and table.income_scale == 1 / 12
    # the limit is limit_income_multiple x the MONTHLY income x headroom, as documented
    p = f.scorer.predict_pd(table.X)
    headroom = np.clip(1 - p / 0.3, 0, 1)
    monthly = (frame["income"] * 12).to_numpy(np.float64) * (1 / 12)
    want = np.maximum(np.floor(monthly * cfg.policy.limit_income_multiple * headroom / 100)
                      * 100, cfg.policy.min_limit)
    approved = ~f.decisions["zero"].to_numpy()
    assert approved.sum() > 100
    np.testing.assert_allclose(f.decisions["limit"].to_numpy()[approved], want[approved])
    with pytest.raises(Exception, match="income_period = 'annual' needs an income column"):
        _cfg(path, schema={**base_schema(), "income_period": "annual"})


def test_an_id_column_names_the_rows_everywhere(frame, tmp_path):
    path = tmp_path / "t.csv"
    ids = "A-" + frame["user_id"].astype(str)
    frame.assign(ID=" " + ids).to_csv(path, index=False)  # spaces around an id are dropped
    cfg = _cfg(path, schema={**base_schema(), "id_column": "ID"})
    f = fit_models(cfg, from_table(path, cfg), scorecard=False)
    table = f.table
    assert table.X.index.tolist() == ids.tolist()
    assert "ID" not in table.X.columns and "ID" not in table.features.columns
    assert f.decisions.index.equals(table.X.index)
    refused = f.decisions.index[f.decisions["zero"]][:2].tolist()
    res = explain_table(f.scorer, table, f.decisions, cfg.explain, policy=cfg.policy,
                        users=refused)
    assert set(res.reasons["user_id"]) == set(refused)
    assert res.user_report(refused[0]).startswith(f"Row {refused[0]}: refused")
    with pytest.raises(InputError) as err:
        explain_table(f.scorer, table, f.decisions, cfg.explain, policy=cfg.policy,
                      users=["17"])
    assert str(err.value) == ("user id '17' is not in the data; ids are the table's id "
                              f"column, e.g. {', '.join(map(repr, ids[:3]))}")
    # whole-number ids stay numbers
    numbered = from_table(path, _cfg(path, schema={**base_schema(), "drop": ["ID"],
                                                   "id_column": "user_id"}))
    assert numbered.X.index.tolist() == frame["user_id"].tolist()
    assert "user_id" not in numbered.X.columns


def test_explain_user_takes_the_tables_ids(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(user_id="A-" + frame["user_id"].astype(str)).to_csv(path, index=False)
    schema = {**base_schema(), "drop": [], "id_column": "user_id"}
    exp = write_experiment(tmp_path, schema=schema)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    res = runner.invoke(app, ["train", str(exp), "--tracking-uri", store])
    assert res.exit_code == 0, res.output
    run_id = re.search(r"xgboost run: (\w+)", res.output).group(1)
    first = f"A-{frame['user_id'].iloc[0]}"
    res = runner.invoke(app, ["explain", run_id, "--user", first, "--tracking-uri", store])
    assert res.exit_code == 0, res.output
    assert re.search(rf"^Row {first}: (approved|refused)", res.output, re.M), res.output
    # the whole test split: the checks an own table has, never a truth it lacks
    res = runner.invoke(app, ["explain", run_id, "--tracking-uri", store])
    assert res.exit_code == 0, res.output
    assert "Explanation checks" in res.output and "truth" not in res.output
    res = runner.invoke(app, ["explain", run_id, "--user", "0", "--tracking-uri", store])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        f"error: user id '0' is not in the data; ids are the table's id column, e.g. "
        f"{', '.join(repr(f'A-{u}') for u in frame['user_id'][:3])}"]


def test_a_regime_column_needs_a_stressed_cutoff(tmp_path):
    with pytest.raises(Exception, match="stressed rows need their own cutoff"):
        build_config({"data": {"table": "t.csv", "schema": {**base_schema(),
                                                             "regime": "regime"}},
                      "policy": {"cutoff": 0.3}})


@pytest.mark.parametrize(("schema", "policy", "message"), [
    ({}, {"cutoff": 0.3, "stressed_cutoff": 0.1},
     "[policy] stressed_cutoff applies to stressed rows, and the table has no regime column: "
     "name one as [data.schema] regime, or remove stressed_cutoff"),
    ({"currency": "EUR"}, {"cutoff": 0.3},
     "data.schema currency = 'EUR' names the currency of limits, which only an income column "
     "sizes: set data.schema income, or remove currency"),
    ({"monotone": {"age": -1}}, {"cutoff": 0.3},
     "data.schema monotone gives protected column 'age' a direction; a protected attribute "
     "is audited, never a model column: remove it from data.schema.monotone"),
])
def test_settings_that_could_never_apply_are_refused(schema, policy, message):
    with pytest.raises(ConfigError) as err:
        build_config({"data": {"table": "t.csv", "schema": {**base_schema(), **schema}},
                      "policy": policy})
    assert message in str(err.value)


# --- native categories, reason wording -----------------------------------------------------

def test_categories_are_native_and_reasons_name_them(fitted):
    cfg, f = fitted
    assert isinstance(f.table.X["purpose"].dtype, pd.CategoricalDtype)
    assert set(f.scorer.categorical) == {"segment", "purpose"}
    assert not any("=" in c for c in f.table.feature_names)
    # every adverse group of a refusal becomes a reason, so that purpose's wording shows
    every = cfg.explain.model_copy(update={"min_contribution": 0.0, "top_k": 10})
    res = explain_table(f.scorer, f.table, f.decisions, every, policy=cfg.policy)
    named = res.reasons[res.reasons["feature"] == "purpose"]
    assert len(named), "a category that carries risk must show up in reasons"
    assert set(named["text"]) <= {
        f"purpose = {p} (most common among approved rows: {'the same' if p == q else q})"
        for p in (*PURPOSES, "missing") for q in PURPOSES}
    assert any("二手车" in t for t in named["text"])
    zh = res.reasons_in("zh")
    assert zh.loc[zh["feature"] == "purpose", "text"].str.contains("通过的行最常见").all()


def test_the_audit_reads_native_categories(fitted):
    """Stability retrains and drift run on an own table whose model splits on categories;
    a table without a month column is compared split by split (its split column's)."""
    from toolkit.audit import audit_table

    cfg, f = fitted
    audit = audit_table(f.scorer, f.table, f.decisions, cfg, retrains=1)
    assert 0.0 <= audit.metrics["audit_stability_top1_agreement_bootstrap"] <= 1.0
    assert set(audit.drift.months.index) <= {"train", "valid", "test", "gap"}
    # the training split is the reference, not one of the splits compared with it
    compared = len(audit.drift.months) - 1
    assert any(f" of {compared} splits flagged" in line for line in audit.verdicts())
    assert audit.metrics["audit_drift_months"] == compared
    assert any(line.startswith("Drift: ") and "splits flagged" in line
               for line in audit.verdicts())
    # the audit speaks of rows and refusals: the table has no zero limits and no stress
    heading, blocks = audit.blocks()
    assert heading == "Audit: fairness by mechanism, stability of reasons, drift"
    text = " ".join(str(b) for b in blocks if isinstance(b, str))
    assert "refused row" in text
    assert not re.search(r"zero.limit|\busers?\b|stress", text), text
    # a table without monitoring rules or a regime has the score's gate alone
    (fair,) = audit.fairness
    assert set(fair.gates["mechanism"]) == {"score"}
    assert set(fair.decomposition["part"]) <= {"overall", "score"}
    assert not any(k.endswith(("_monitoring", "_policy")) for k in audit.metrics)


def test_reasons_drop_near_zero_groups(fitted):
    cfg, f = fitted
    res = explain_table(f.scorer, f.table, f.decisions, cfg.explain, policy=cfg.policy)
    r = res.reasons
    assert (r["contribution"] >= cfg.explain.min_contribution).all()
    assert r.groupby("user_id").size().max() <= 4
    assert set(r["user_id"]) == set(res.zero_users)  # every refusal keeps a reason
    loose = explain_table(f.scorer, f.table, f.decisions,
                          cfg.explain.model_copy(update={"min_contribution": 0.0}),
                          policy=cfg.policy)
    assert len(loose.reasons) > len(r)


def test_min_contribution_on_hand_built_values():
    values = np.array([[0.04, 0.06, 0.3], [0.01, 0.02, -0.1]])
    decisions = pd.DataFrame({"zero": [True, True], "mechanism": ["score", "score"],
                              "rule": ["", ""], "cutoff": 0.2, "normal_cutoff": 0.2,
                              "distance_logit": 0.1}, index=[1, 2])
    names = ["late_cnt_3m", "util_mean_3m", "inq_cnt_1m"]
    X = pd.DataFrame(np.ones((2, 3)), columns=names, index=[1, 2])
    groups = dict(zip(names, ["a", "b", "c"], strict=True))
    r = build_reasons(values, names, X, decisions, pd.Series(0.0, index=names),
                      groups=groups, min_contribution=0.05)
    assert r.loc[r["user_id"] == 1, "group"].tolist() == ["c", "b"]
    assert r.loc[r["user_id"] == 2, "group"].tolist() == ["b"]  # the largest, below 0.05


@pytest.mark.parametrize(("x", "unit", "text"), [
    (0.4321, "value", "0.43"), (0.3149, "value", "0.31"), (0.03125, "value", "0.031"),
    (12.3456, "value", "12.35"), (1234.5, "value", "1,234.50"), (3.0, "value", "3"),
    (0.4321, "score", "0.43"), (12.3456, "days", "12.3"), (float("nan"), "value", "n/a"),
])
def test_values_keep_two_significant_decimals(x, unit, text):
    assert format_value(x, unit) == text


# --- protected attributes ------------------------------------------------------------------

def test_protected_columns_stay_out_of_the_model_and_every_reason(fitted):
    cfg, f = fitted
    assert "age" not in f.table.X.columns and "age" in f.table.features.columns
    assert f.table.protected == ("age",)
    assert "age" not in f.scorecard.features_
    res = explain_table(f.scorer, f.table, f.decisions, cfg.explain, policy=cfg.policy)
    assert "age" not in set(res.reasons["feature"])
    assert not res.reasons["text"].str.contains("age").any()


def test_protected_looking_features_warn_once_naming_them(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(applicantSex=0.0, 婚姻状况=1.0).to_csv(path, index=False)
    cfg = _cfg(path, schema={**base_schema(), "protected": []})
    with pytest.warns(ProtectedAttributeWarning) as seen:
        from_table(path, cfg)
    assert len(seen) == 1
    assert str(seen[0].message).startswith(
        "features 'age', 'applicantSex', '婚姻状况' may be protected attributes")
    path.write_text(frame.drop(columns="age").to_csv(index=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProtectedAttributeWarning)
        from_table(path, _cfg(path, schema={**base_schema(), "protected": []}))


def test_a_categorical_column_of_many_values_warns_once_naming_it(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(title=[f"title {i % 60}" for i in range(len(frame))],
                 grade=np.array(list("ABCDEFG"))[frame.index % 7]).to_csv(path, index=False)
    cfg = _cfg(path, schema={**base_schema(), "categorical": ["segment", "title", "grade"]})
    with pytest.warns(ManyCategoriesWarning) as seen:
        table = from_table(path, cfg)
    assert [str(w.message) for w in seen] == [
        "categorical column 'title' (60 distinct values) has more than 50 distinct values: "
        "rare ones make thin scorecard bins and reasons that name one-off values; drop it "
        "or group its values"]
    assert len(table.X["title"].cat.categories) == 60


def test_protected_looking_names():
    names = ["age", "applicant_age", "AgeGroup", "maritalStatus", "sex", "Gender", "race",
             "ethnicity", "religion", "性别", "年龄段", "民族", "MARRIAGE", "personal_status",
             "PersonalStatus", "Personal_status_and_sex", "page_views", "usage", "stage",
             "average", "sextant_x", "raceway", "personal_loan", "loan_status", "status",
             "personal", "status_personal"]
    assert protected_looking(names) == names[:16]


def test_index_columns_warn_once_naming_them(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(ID=np.arange(1, len(frame) + 1)).to_csv(path)  # pandas writes its index
    assert pd.read_csv(path).columns[0] == "Unnamed: 0"
    with pytest.warns(IndexColumnWarning) as seen:
        from_table(path, _cfg(path, schema=base_schema()))
    n = len(frame)
    assert [str(w.message) for w in seen] == [
        f"columns 'Unnamed: 0' (the row numbers 0 to {n - 1:,}), 'ID' (the row numbers 1 to "
        f"{n:,}) look like a row index, not a feature, and the model uses them: list them "
        "under [data.schema] drop (or name an id column as id_column)"]
    shuffled = frame.sample(frac=1, random_state=0).iloc[:, ::-1]  # not 0..n-1 any more
    shuffled.to_csv(path)
    with pytest.warns(IndexColumnWarning, match=r"^column 'Unnamed: 0' \(no name in the "
                      r"header\) looks like a row index"):
        from_table(path, _cfg(path, schema=base_schema()))
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", IndexColumnWarning)
        from_table(path, _cfg(path, schema=base_schema()))


def test_text_values_lose_surrounding_spaces(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(segment=" " + frame["segment"] + "  ",
                 default_12m=np.where(frame["default_12m"] == 1, " bad", "good ")) \
        .to_csv(path, index=False)
    table = from_table(path, _cfg(path, schema={**base_schema(), "positive_label": "bad"}))
    assert list(table.X["segment"].cat.categories) == sorted(frame["segment"].unique())
    np.testing.assert_array_equal(table.y, frame["default_12m"].to_numpy())
    assert table.outcome == "default_12m = bad"


def test_cli_prints_the_table_warnings_as_one_line_each(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(title=[f"title {i % 60}" for i in range(len(frame))]).to_csv(path)
    exp = write_experiment(tmp_path, schema={**base_schema(), "protected": [],
                                             "categorical": ["segment", "title"]})
    res = runner.invoke(app, ["train", str(exp), "--tracking-uri",
                              f"sqlite:///{tmp_path / 'mlflow.db'}"])
    assert res.exit_code == 0, res.output
    warned = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert warned == [
        "warning: feature 'age' may be a protected attribute (race, sex, age, ...); the model "
        "uses it and reasons may name it: list such columns under [data.schema] protected to "
        "keep them out",
        f"warning: column 'Unnamed: 0' (the row numbers 0 to {len(frame) - 1:,}) looks like a "
        "row index, not a feature, and the model uses it: list it under [data.schema] drop (or "
        "name an id column as id_column)",
        "warning: categorical column 'title' (60 distinct values) has more than 50 distinct "
        "values: rare ones make thin scorecard bins and reasons that name one-off values; "
        "drop it or group its values"]


# --- the scorecard on optimal bins ---------------------------------------------------------

def test_scorecard_transform_equals_optbinning(gbk_table):
    from optbinning import OptimalBinning

    table = open_table(gbk_table, _schema(protected=["age"]))
    X, y = table.part("train")
    card = Scorecard(ScorecardConfig(special_codes=(-1.0,))).fit(
        X, y, dict(zip(table.feature_names, table.monotone, strict=True)))
    W = card.transform(X)
    for j, name in enumerate(card.features_):
        b = card.bins_[name]
        col = X[name]
        categorical = b["dtype"] == "categorical"
        x = col.astype(object).where(col.notna(), np.nan).to_numpy() if categorical else \
            col.to_numpy(np.float64)
        ob = OptimalBinning(name=name, dtype=b["dtype"], monotonic_trend=b["trend"],
                            max_n_bins=10, min_bin_size=0.05,
                            special_codes=None if categorical else [-1.0]).fit(x, y)
        ref = ob.transform(x, metric="woe", metric_missing="empirical",
                           metric_special="empirical")
        np.testing.assert_allclose(W[:, j], ref, atol=1e-12, err_msg=name)


def test_a_bin_of_one_class_scores_on_its_side_not_as_an_average_row():
    """Sentinel 98 ("Give Me Some Credit"): 28 rows, all of them events.  optbinning gives a
    bin of one class WoE 0, the points of an average row; the card gives it the riskiest
    points of the feature."""
    rng = np.random.default_rng(0)
    n = 6000
    late = rng.poisson(0.4, n).astype(float)
    y = (rng.random(n) < 0.04 + 0.08 * np.minimum(late, 4)).astype(int)
    late[:28], y[:28] = 98.0, 1
    card = Scorecard(ScorecardConfig(special_codes=(98.0,))).fit(
        pd.DataFrame({"late": late}), y, {"late": 1})
    bins = card.binning_table()
    special = bins[bins["bin"] == "Special"].iloc[0]
    assert special["count"] == 28 and special["event_rate"] == 1.0
    assert special["woe"] < bins.loc[bins["bin"] != "Special", "woe"].min()
    points = card.table()
    assert points.loc[points["bin"] == "Special", "points"].iloc[0] == \
        points.loc[points["count"] > 0, "points"].min()
    # three rows of a code, none of them an event: the safe side, however few they are
    late[:28], y[:28] = 0.0, 0
    late[:3], y[:3] = 96.0, 0
    card = Scorecard(ScorecardConfig(special_codes=(96.0,))).fit(
        pd.DataFrame({"late": late}), y, {"late": 1})
    bins = card.binning_table()
    special = bins[bins["bin"] == "Special"].iloc[0]
    assert special["count"] == 3 and special["event_rate"] == 0.0
    assert special["woe"] > 0
    # the IV sums what each bin's WoE says
    regular = bins[bins["count"] > 0]
    share = regular["count"] - regular["event"]
    assert bins["iv"].iloc[0] == pytest.approx(
        ((share / (y == 0).sum() - regular["event"] / y.sum()) * regular["woe"]).sum())


def test_scorecard_keeps_sparse_columns_and_bins_missing_values(fitted):
    _, f = fitted
    bins = f.scorecard.bins_
    assert len(bins["collections"]["splits"]) >= 1  # 90% zeros, still split
    miss = bins["inflow_mean_6m"]
    assert miss["labels"][-1] == MISSING and miss["count"][-1] > 0
    assert miss["woe"][-1] != 0.0
    assert bins["purpose"]["dtype"] == "categorical"
    # a baseline worth the name: within a few points of xgboost on the same rows
    assert f.scorecard_metrics["test_auc"] > f.metrics["test_auc"] - 0.03


def test_scorecard_points_follow_the_schema_directions(fitted):
    _, f = fitted
    pts = f.scorecard.table()
    directions = dict(zip(f.table.feature_names, f.table.monotone, strict=True))
    assert {k: v for k, v in directions.items() if v} == _schema()["monotone"]
    for name, d in directions.items():
        if not d:
            continue
        regular = pts[(pts["feature"] == name) & ~pts["bin"].isin(["Missing", "Special"])]
        steps = np.diff(regular["points"].to_numpy()) * d
        assert (steps <= 1e-9).all(), (name, d, regular["points"].tolist())


def test_scorecard_json_round_trip_and_determinism(fitted, gbk_table):
    _, f = fitted
    card = f.scorecard
    again = Scorecard.from_json(card.to_json())
    X = f.table.X
    np.testing.assert_array_equal(again.margin(X), card.margin(X))
    X_train, y = f.table.part("train")
    twin = Scorecard(card.config).fit(X_train, y, f.table.monotone)
    assert twin.to_json() == card.to_json()


def test_scorecard_unknown_category_is_neutral():
    X = pd.DataFrame({"c": pd.Categorical(["a", "b"] * 300 + ["c"] * 400)})
    y = np.r_[np.tile([0, 1], 300) * (np.arange(600) % 4 == 1), np.zeros(400, int)]
    card = Scorecard().fit(X, y)
    new = pd.DataFrame({"c": pd.Categorical(["zzz", None], categories=["zzz"])})
    np.testing.assert_array_equal(card.transform(new)[:, 0],
                                  [0.0, card.bins_["c"]["woe"][-1]])


# --- small data, the Python API ------------------------------------------------------------

def test_small_splits_get_bootstrap_intervals(frame, tmp_path):
    small = frame.groupby(["split", "default_12m"]).head(300)
    path = tmp_path / "t.csv"
    small.to_csv(path, index=False)
    exp = write_experiment(tmp_path)
    res = runner.invoke(app, ["train", str(exp), "--tracking-uri",
                              f"sqlite:///{tmp_path / 'mlflow.db'}"])
    assert res.exit_code == 0, res.output
    rows = (small["split"] == "test").sum()
    assert 300 < rows < 1000
    assert f"small data: the test split has {rows:,} rows (fewer than 1,000)" in res.output
    f = fit_models(load_config(exp), from_table(path, load_config(exp)), scorecard=False)
    m = f.metrics
    assert m["test_auc_low"] < m["test_auc"] < m["test_auc_high"]
    assert m["test_ks_low"] < m["test_ks"] < m["test_ks_high"]


def test_open_table_gives_the_table_the_cli_builds(gbk_table):
    cfg = _cfg(gbk_table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProtectedAttributeWarning)
        cli, _ = prepare_table(cfg)
        api = open_table(gbk_table, _schema())
    pd.testing.assert_frame_equal(api.X, cli.X)
    pd.testing.assert_frame_equal(api.features, cli.features)
    np.testing.assert_array_equal(api.y, cli.y)
    np.testing.assert_array_equal(api.split, cli.split)
    assert api.registry == cli.registry and api.dataset_hash == cli.dataset_hash


def test_the_readme_own_table_example_runs(own_world, tmp_path, monkeypatch):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- own-table-api -->\n```python\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "data" / "own_table").mkdir(parents=True)
    (tmp_path / "data" / "own_table" / "table.csv").write_bytes(own_world[1].read_bytes())
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "own_table.toml").write_bytes(
        (Path(__file__).parents[1] / "experiments" / "own_table.toml").read_bytes())
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["table"].X.shape[0] == len(pd.read_csv(own_world[1]))
    assert scope["result"].reasons["user_id"].isin(scope["table"].X.index).all()
