"""Recourse: levers move only what they declare, in their direction; plans are played on the
user's own months with windows rolling off; the search is exact; the truth is the world's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from toolkit.config import build_config
from toolkit.data.features import REGISTRY, build_features
from toolkit.data.table import from_dataset
from toolkit.errors import InputError
from toolkit.links import logit, sigmoid
from toolkit.policy import LimitPolicy, policy_for
from toolkit.recourse import (
    LEVERS,
    METRIC_NAMES,
    MONTH_WITHOUT_LIMIT,
    PLAN_COLUMNS,
    cheapest_plans,
    lever_values,
    plan_costs,
    plan_grid,
    recourse_metrics,
    recourse_table,
)
from toolkit.recourse.levers import allowed_direction, moved_features
from toolkit.recourse.paths import judge
from toolkit.recourse.play import PLAYED, play, starting_points
from toolkit.recourse.text import plan_sentence
from toolkit.vocab import MECHANISMS
from toolkit.workflows.fitted import fit_models

HORIZON = 8
NAMES = [f.name for f in REGISTRY]
ACTIONABLE = {f.name: f.actionable for f in REGISTRY}


@pytest.fixture(scope="module")
def fitted(small_world):
    _, _, ds = small_world
    cfg = build_config({"model": {"n_estimators": 60}})
    table = from_dataset(ds, cfg)
    return cfg, fit_models(cfg, table, scorecard=False)


@pytest.fixture(scope="module")
def zero_users(fitted):
    cfg, f = fitted
    d = f.decisions
    return f.table.X.index[f.table.mask("test") & d["zero"].to_numpy()]


@pytest.fixture(scope="module")
def start(fitted, zero_users):
    _, f = fitted
    w = f.table.world
    return starting_points(w.history, w.users, w.macro, zero_users)


def _features(start, values, k):
    panel = play(start, np.arange(start.n_users), values, HORIZON)
    return build_features(panel, asof=start.obs_month + k, names=NAMES), panel


def _random_plans(start, rng):
    """Every user under a random lever setting: a random subset of habits and amounts."""
    grid = plan_grid()
    values = lever_values(grid, start)
    pick = rng.integers(0, len(grid), size=start.n_users)
    return {name: v[np.arange(start.n_users), pick] for name, v in values.items()}


# -- playing a plan forward -------------------------------------------------------------------

def test_month_zero_reproduces_the_stored_features(fitted, start, zero_users):
    _, f = fitted
    feats, _ = _features(start, {}, 0)
    stored = f.table.features.loc[zero_users, NAMES]
    np.testing.assert_allclose(feats[NAMES].to_numpy(), stored.to_numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_plans_move_features_only_as_their_levers_allow(start, seed):
    """Against the status quo in the same month: a non-actionable feature never moves, a
    feature no active lever declares never moves, and a declared one moves only in the
    direction the active levers allow together (property over random users and plans)."""
    rng = np.random.default_rng(seed)
    values = _random_plans(start, rng)
    moved = moved_features(NAMES)
    for k in range(1, HORIZON + 1):
        plan, _ = _features(start, values, k)
        quo, _ = _features(start, {}, k)
        for name in NAMES:
            diff = plan[name].to_numpy() - quo[name].to_numpy()
            changed = np.abs(diff) > 1e-9 * np.maximum(1.0, np.abs(quo[name].to_numpy()))
            if not ACTIONABLE[name]:
                assert not changed.any(), (name, k)
            for i in np.flatnonzero(changed):
                active = [lv.name for lv in LEVERS if values[lv.name][i] > 0]
                allowed = allowed_direction([moved[lv][name] for lv in active
                                             if name in moved[lv]])
                assert allowed is not None, (name, k, active)
                assert allowed == 0 or np.sign(diff[i]) == allowed, (name, k, active, diff[i])


@pytest.mark.parametrize("lever", LEVERS, ids=lambda lv: lv.name)
def test_each_lever_alone_moves_its_own_features_its_own_way(start, lever):
    """Every user with only this lever on (amounts at their largest share): the lever does
    move what it declares, and nothing else."""
    top = lever.shares[-1] if lever.kind == "amount" else 1.0
    grid = plan_grid()
    row = grid.index[(grid[lever.name] == top)
                     & (grid.drop(columns=lever.name) == 0).all(axis=1)][0]
    values = {n: v[:, row] for n, v in lever_values(grid, start).items()}
    declared = moved_features(NAMES)[lever.name]
    seen = set()
    for k in range(1, HORIZON + 1):
        plan, _ = _features(start, values, k)
        quo, _ = _features(start, {}, k)
        for name in NAMES:
            diff = plan[name].to_numpy() - quo[name].to_numpy()
            changed = np.abs(diff) > 1e-9 * np.maximum(1.0, np.abs(quo[name].to_numpy()))
            if not changed.any():
                continue
            assert name in declared, (lever.name, name, k)
            seen.add(name)
            if declared[name]:
                assert (np.sign(diff[changed]) == declared[name]).all(), (lever.name, name, k)
    # not vacuous: the lever moved at least one feature it declares with a strict direction
    assert any(declared[n] for n in seen), (lever.name, seen)


@pytest.mark.parametrize("seed", range(2))
def test_plans_move_history_only_as_their_levers_allow(start, seed):
    rng = np.random.default_rng(seed + 10)
    values = _random_plans(start, rng)
    _, plan = _features(start, values, 0)
    _, quo = _features(start, {}, 0)
    for column in PLAYED:
        diff = plan.col(column) - quo.col(column)
        assert not diff[: start.n_months].any(), column  # the stored months never change
        for t, i in zip(*np.nonzero(np.abs(diff) > 1e-9), strict=True):
            active = [lv for lv in LEVERS if values[lv.name][i] > 0]
            allowed = allowed_direction([lv.columns[column] for lv in active
                                         if column in lv.columns])
            assert allowed is not None, (column, active)
            assert allowed == 0 or np.sign(diff[t, i]) == allowed, (column, active)


def test_non_actionable_features_move_only_with_time(start, fitted):
    _, f = fitted
    rng = np.random.default_rng(3)
    values = _random_plans(start, rng)
    macro = f.table.world.macro["liquidity_index"].to_numpy()
    for k in (1, 5, HORIZON):
        feats, _ = _features(start, values, k)
        np.testing.assert_array_equal(feats["tenure_months"],
                                      start.profile["tenure_months"] + k)
        np.testing.assert_array_equal(feats["age"], start.profile["age"])
        np.testing.assert_array_equal(feats["income"], start.profile["income"])
        month = np.minimum(start.obs_month + k, len(macro) - 1)
        np.testing.assert_allclose(feats["liquidity_index"], macro[month].astype(np.float32))


def test_late_payments_roll_off_the_window_on_their_own(start):
    """Repaying in full from next month on: a late month stays in ``late_cnt_6m`` exactly as
    long as it is inside the six months, whatever the plan."""
    on = {"pay_full_due": np.ones(start.n_users)}
    late = start.columns["dpd"] > 0  # stored months, last row = the observation month
    assert late[-1].any()
    L = start.n_months
    for k in range(1, HORIZON + 1):
        feats, _ = _features(start, on, k)
        still_inside = late[max(L - 6 + k, 0):].sum(axis=0)
        np.testing.assert_array_equal(feats["late_cnt_6m"], still_inside)
    feats, _ = _features(start, on, 6)
    assert (feats["late_cnt_6m"] == 0).all()


def test_the_status_quo_repeats_the_last_year(start):
    _, panel = _features(start, {}, 0)
    L = start.n_months
    for column in ("inflow", "txn_count", "social_risk", "draw_amount", "inquiries"):
        a = panel.col(column)
        np.testing.assert_array_equal(a[L:L + HORIZON], a[:HORIZON])


# -- the levers' declarations -----------------------------------------------------------------

def test_levers_move_only_actionable_features_and_cost_something():
    for lever in LEVERS:
        moved = moved_features(NAMES)[lever.name]
        assert moved, lever.name
        assert all(ACTIONABLE[f] for f in moved), lever.name
        assert lever.monthly_cost > 0 if lever.kind == "habit" else lever.shares[0] == 0


def test_plan_costs_count_habits_per_month_and_amounts_in_months_of_income(start):
    grid = plan_grid()
    values = lever_values(grid, start)
    once, per_month = plan_costs(grid, values, start.profile["income"])
    assert per_month[0] == MONTH_WITHOUT_LIMIT and (once[:, 0] == 0).all()
    habit = {lv.name: lv.monthly_cost for lv in LEVERS if lv.kind == "habit"}
    expected = MONTH_WITHOUT_LIMIT + grid[list(habit)].to_numpy() @ np.array(list(habit.values()))
    np.testing.assert_allclose(per_month, expected)
    amounts = [lv.name for lv in LEVERS if lv.kind == "amount"]
    total = sum(values[a] for a in amounts) / start.profile["income"][:, None]
    np.testing.assert_allclose(once, total)
    # amounts are whole hundreds, never below the share they stand for
    debt = start.columns["outstanding"][-1]
    share = grid["pay_down"].to_numpy()
    assert (values["pay_down"] % 100 == 0).all()
    assert (values["pay_down"] >= debt[:, None] * share[None, :] - 1e-6).all()


def test_plan_grid_starts_with_the_status_quo_and_rejects_unknown_levers():
    grid = plan_grid()
    assert (grid.iloc[0] == 0).all()
    assert len(grid) == 2 ** 3 * 4 * 4
    with pytest.raises(ValueError, match="no amount lever 'pay_full_due'; allowed: pay_down, "
                                         "top_up_balance"):
        plan_grid({"pay_full_due": (0, 1)})


# -- the search -------------------------------------------------------------------------------

SMALL_SHARES = {"pay_down": (0.0, 0.5), "top_up_balance": (0.0, 0.5)}


def _exhaustive(scorer, start, policy, platform, grid, margin):
    """Brute force: every plan of ``grid`` played in full, its first month clearing the
    cutoff, its cost; the cheapest per user (inf where none)."""
    values = lever_values(grid, start)
    once, per_month = plan_costs(grid, values, start.profile["income"])
    best = np.full(start.n_users, np.inf)
    for s in range(len(grid)):
        j = judge(scorer, start, {n: v[:, s] for n, v in values.items()}, horizon=HORIZON,
                  policy=policy, platform=platform, margin=margin)
        later = j.cleared[1:]
        k = np.where(later.any(axis=0), later.argmax(axis=0) + 1, 0)
        cost = np.where(k > 0, once[:, s] + per_month[s] * k, np.inf)
        best = np.minimum(best, cost)
    return best


@pytest.mark.parametrize("margin", [0.0, 1.0])
def test_no_plan_costs_more_than_exhaustive_search_on_a_small_grid(fitted, start, margin):
    cfg, f = fitted
    sample = start.take(np.random.default_rng(4).choice(start.n_users, 40, replace=False))
    policy = policy_for(cfg.policy, f.table.features.columns)
    platform = LimitPolicy(cfg.world.platform)
    small = plan_grid(SMALL_SHARES)
    brute = _exhaustive(f.scorer, sample, policy, platform, small, margin)
    full = cheapest_plans(f.scorer, sample, policy, plan_grid(), horizon=HORIZON, margin=margin)
    found = np.isfinite(brute)
    assert found.any()
    assert (full.plan[found] >= 0).all()
    assert (full.cost[found] <= brute[found] + 1e-9).all()
    # on the same grid the search is exact: the same cheapest cost for every user
    same = cheapest_plans(f.scorer, sample, policy, small, horizon=HORIZON, margin=margin)
    np.testing.assert_allclose(np.where(same.plan >= 0, same.cost, np.inf), brute)


def test_the_answer_does_not_depend_on_chunking(fitted, start):
    cfg, f = fitted
    sample = start.take(np.arange(min(60, start.n_users)))
    policy = policy_for(cfg.policy, f.table.features.columns)
    a = cheapest_plans(f.scorer, sample, policy, plan_grid(), horizon=6, chunk=7)
    b = cheapest_plans(f.scorer, sample, policy, plan_grid(), horizon=6, chunk=500)
    for field in ("plan", "months", "cost"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.fixture(scope="module")
def result(fitted):
    cfg, f = fitted
    return recourse_table(f.scorer, f.table, f.decisions, cfg.recourse, policy=cfg.policy,
                          platform=cfg.world.platform, horizon=HORIZON)


def test_every_zero_limit_user_of_the_test_split_gets_a_row(result, zero_users):
    assert list(result.plans.index) == list(zero_users)
    assert tuple(result.plans.columns) == PLAN_COLUMNS
    assert set(result.plans["mechanism"]) <= set(MECHANISMS)


def test_found_plans_restore_the_limit_in_their_month_and_not_before(result):
    plans, paths = result.plans, result.paths
    found = plans[plans["found"]]
    assert len(found)
    plan = paths[paths["path"] == "plan"].set_index(["user_id", "month"])
    for user, row in found.iterrows():
        months = plan.loc[user]
        assert not months.loc[0, "restored"]  # zero-limit now
        k = int(row["months"])
        cleared = months["cleared"].to_numpy()
        assert cleared[k] and not cleared[1:k].any()
        assert months.loc[k, "restored"]
        assert row["model_pd"] == months.loc[k, "model_pd"]
        assert bool(row["valid_in_truth"]) == bool(months.loc[k, "true_restored"])
        # the margin: the PD clears the cutoff in force by at least that much
        assert logit(row["model_pd"]) + result.margin < logit(row["cutoff"])
    nf = plans[~plans["found"]]
    assert nf["months"].isna().all() and nf["valid_in_truth"].isna().all()


def test_the_truth_is_the_worlds_own_equations(fitted, result):
    """At the observation month the judged truth is the stored truth: the true PD, and the
    platform's decision on it."""
    _, f = fitted
    paths = result.paths
    now = paths[(paths["path"] == "status_quo") & (paths["month"] == 0)].set_index("user_id")
    truth = f.table.truth.loc[now.index]
    np.testing.assert_allclose(now["true_pd"], truth["true_pd"], rtol=1e-12)
    np.testing.assert_array_equal(now["true_restored"].to_numpy(),
                                  ~truth["true_zero"].to_numpy(bool))
    np.testing.assert_array_equal(now["true_mechanism"].to_numpy(),
                                  truth["true_mechanism"].astype(str).to_numpy())


def test_metrics_follow_the_plans(result):
    m = result.metrics
    plans = result.plans
    for name in METRIC_NAMES:
        assert name in m
        for mech in set(plans["mechanism"]):
            if plans.loc[plans["mechanism"] == mech, "found"].any():
                assert f"{name}_{mech}" in m
    found = plans[plans["found"]]
    assert m["recourse_found_rate"] == pytest.approx(plans["found"].mean())
    assert m["recourse_true_validity"] == pytest.approx(found["valid_in_truth"].mean())
    assert m["recourse_median_months"] == pytest.approx(found["months"].median())
    assert m["recourse_mean_cost"] == pytest.approx(found["cost"].mean())
    assert m["recourse_wait_found_rate"] == pytest.approx(plans["wait_months"].notna().mean())
    score = plans[plans["mechanism"] == "score"]
    assert m["recourse_found_rate_score"] == pytest.approx(score["found"].mean())
    assert recourse_metrics(plans.iloc[:0]) == {}


def test_same_inputs_give_the_same_plans_and_bytes(fitted, result, tmp_path):
    cfg, f = fitted
    again = recourse_table(f.scorer, f.table, f.decisions, cfg.recourse, policy=cfg.policy,
                           platform=cfg.world.platform, horizon=HORIZON)
    pd.testing.assert_frame_equal(result.plans, again.plans)
    a = result.write(tmp_path / "a", figures=False)
    b = again.write(tmp_path / "b", figures=False)
    assert a["plans"].read_bytes() == b["plans"].read_bytes()
    assert a["paths"].read_bytes() == b["paths"].read_bytes()


def test_written_folder_and_report(result, tmp_path):
    written = result.write(tmp_path / "recourse", run_id="0e1f2e3d")
    assert set(written) >= {"plans", "paths", "metrics", "report",
                            "figure_recourse_months_to_restore",
                            "figure_recourse_model_against_truth"}
    back = pd.read_parquet(written["plans"])
    assert list(back.index) == list(result.plans.index)
    html = written["report"].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<h1>What would restore the limit: run 0e1f2e3d</h1>" in html
    assert 'id="recourse-table"' in html and 'id="recourse-table-2"' in html
    assert html.count("data:image/png;base64,") == 2
    assert [p.name for p in tmp_path.iterdir()] == ["recourse"]


def test_the_report_section_reads_in_both_languages(result, fitted, tmp_path):
    """The section inside the analyst's report: strict HTML5, Chinese throughout in zh, the
    plan under each example user's reasons."""
    import html5lib

    from toolkit.explain import explain_table
    from toolkit.workflows.explain import report_context

    cfg, f = fitted
    cfg = cfg.model_copy(update={"explain": cfg.explain.model_copy(update={"lang": "zh"})})
    res = explain_table(f.scorer, f.table, f.decisions, cfg.explain, policy=cfg.policy,
                        change=False)
    zh_result = dataclasses.replace(result, lang="zh")
    ctx = report_context(cfg, f, stem="unit", run_id="0e1f2e3d", metrics=res.metrics,
                         sections=[zh_result.section()],
                         plans={lang: zh_result.steps(lang) for lang in ("en", "zh")})
    paths = res.write(tmp_path / "explanations", context=ctx, max_rows=50)
    for name, heading, plan in (("report", "What would restore the limit", "<p>Plan: "),
                                ("zh_report", "如何恢复额度", "<p>改善建议：")):
        page = paths[name].read_text(encoding="utf-8")
        html5lib.HTMLParser(strict=True).parse(page)
        assert 'id="section-recourse"' in page and heading in page and plan in page
    zh = paths["zh_report"].read_text(encoding="utf-8")
    section = zh[zh.index('id="section-recourse"'):zh.index('id="mechanism-score"')]
    for english in ("plan found", "status quo", "holds in", "true PD", "Keep CNY", "score"):
        assert english not in section, english
    assert "维持现状即可" in section and "真实世界中成立" in section


# -- sentences --------------------------------------------------------------------------------

def _row(**over):
    row = {"mechanism": "score", "pd_now": 0.31, "cutoff_now": 0.2, "normal_cutoff": 0.2,
           "normal_back_period": None, "found": True, "months": 4, "model_pd": 0.14,
           "cutoff": 0.2, "period_then": "2026-03", "rule_then": "", "pay_full_due": True,
           "no_new_draws": True, "no_new_inquiries": False, "pay_down": 0.0,
           "top_up_balance": 0.0}
    row.update(over)
    return row


def test_plan_sentences_in_english_and_chinese():
    row = _row()
    assert plan_sentence(row, "en", horizon=12, margin=1.0) == (
        "Repay the full amount due and take no new draws for the next 4 months; your limit "
        "would be restored by 2026-03 (risk 14% against the 20% cutoff).")
    assert plan_sentence(row, "zh", horizon=12, margin=1.0) == (
        "未来4个月按时足额还款、不再新增借款，预计最迟2026年3月恢复额度（违约概率14%，阈值20%）。")
    amounts = _row(pay_full_due=False, no_new_draws=False, pay_down=3000.0, months=1)
    assert plan_sentence(amounts, "en", horizon=12, margin=1.0).startswith(
        "Pay down CNY 3,000 of your debt now; your limit would be restored by 2026-03")
    wait = _row(pay_full_due=False, no_new_draws=False)
    assert plan_sentence(wait, "zh", horizon=12, margin=1.0).startswith(
        "无需改变：保持过去一年的习惯")


def test_policy_users_are_told_the_gap_and_when_the_normal_cutoff_returns():
    row = _row(mechanism="policy", pd_now=0.18, cutoff_now=0.12, normal_back_period="2027-10",
               pay_full_due=False, no_new_draws=False)
    en = plan_sentence(row, "en", horizon=12, margin=1.0)
    assert en.startswith("Your risk of 18.0% fails only the tightened 12% cutoff in force "
                         "during market stress, a gap of 6.0 percentage points, and the "
                         "normal 20% cutoff returns in 2027-10: nothing needs to change")
    zh = plan_sentence(row, "zh", horizon=12, margin=1.0)
    assert zh.startswith("您的违约概率18.0%仅未通过市场压力期间收紧后的阈值12%，差距6.0个百分点，"
                         "常规阈值20%将于2027年10月恢复：无需改变")


def test_no_plan_says_what_the_strongest_plan_reaches():
    row = _row(found=False, model_pd=0.17, period_then="2027-08", rule_then="inquiry_burst")
    needed = f"{float(sigmoid(logit(0.2) - 1.0)):.0%}"
    assert plan_sentence(row, "en", horizon=12, margin=1.0) == (
        "No plan within 12 months clears the cutoff with room to spare: even with every lever "
        f"your risk would be 17% in 2027-08 against the 20% cutoff (a plan needs {needed} or "
        "less), and the inquiry burst rule would still freeze the line.")


# -- bad input --------------------------------------------------------------------------------

def test_bad_input_names_the_problem(fitted, zero_users):
    cfg, f = fitted
    approved = f.table.X.index[~f.decisions["zero"].to_numpy()][0]
    limit = f.decisions.loc[approved, "limit"]
    args = dict(policy=cfg.policy, platform=cfg.world.platform)
    with pytest.raises(InputError, match="user id 99999999 is not in the data; ids run from 0 "
                                         "to 3999"):
        recourse_table(f.scorer, f.table, f.decisions, users=[99999999], **args)
    with pytest.raises(InputError) as err:
        recourse_table(f.scorer, f.table, f.decisions, users=[approved], **args)
    assert str(err.value) == (f"user {approved} is not zero-limit (approved with a limit of "
                              f"CNY {limit:,.0f}); recourse plans are for zero-limit users")
    for bad in (0, -3, 37, 2.5):
        with pytest.raises(InputError) as err:
            recourse_table(f.scorer, f.table, f.decisions, users=list(zero_users[:1]),
                           horizon=bad, **args)
        assert str(err.value) == (f"horizon must be a whole number of months in 1..36, got "
                                  f"{bad!r}")
    own = dataclasses.replace(f.table, world=None)
    with pytest.raises(InputError, match="recourse needs the monthly history of a synthetic "
                                         "world; an own table has none"):
        recourse_table(f.scorer, own, f.decisions, **args)


def test_every_recourse_text_table_has_both_languages():
    import re

    import toolkit.recourse.text as T

    cjk = re.compile(r"[\u4e00-\u9fff]")
    for name in ("LEVER_PHRASES", "PLAN_TEXT", "USER_HEADER", "PATH_HEADINGS", "METRIC_TEXT",
                 "REPORT_TEXT", "FIGURE_TEXT", "SKIPPED", "CLI_TEXT"):
        table = getattr(T, name)
        assert set(table) == {"en", "zh"}, name
        en, zh = table["en"], table["zh"]
        if isinstance(en, dict):
            assert set(en) == set(zh), name
            values = [v for v in zh.values() for v in (v if isinstance(v, tuple) else (v,))]
        else:
            values = [zh]
        # Chinese wherever there are words (a bare format like "{n}" has none)
        assert all(cjk.search(v) for v in values if re.sub(r"\{[^}]*\}|\W", "", v)), name
