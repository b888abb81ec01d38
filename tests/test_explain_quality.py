"""Truth metrics on hand-built worlds whose right answer is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.explain import METRIC_NAMES, top_groups, truth_metrics
from toolkit.explain.quality import (
    CLEAR_GAP,
    HEADLINE_METRICS,
    TOLERANCE,
    adverse_rank_corr,
    constant_baseline,
    decision_agreement,
    group_rows,
    mechanism_accuracy,
    rank_corr,
    skill,
    tolerant_accuracy,
    top1_accuracy,
    top1_agreement,
    top1_regret,
    top2_gap,
    top3_recall,
)
from toolkit.synth.truth import rank_adverse
from toolkit.vocab import REASON_GROUPS

G7 = list(REASON_GROUPS)  # every reason group, market_conditions included


def _world(true_contrib: np.ndarray, *, true_mech, mech, distance, true_zero=None, zero=None):
    n = len(true_contrib)
    ids = pd.Index(np.arange(100, 100 + n), name="user_id")
    top = rank_adverse(true_contrib, k=3)
    truth = pd.DataFrame({
        "true_zero": np.asarray(true_zero if true_zero is not None
                                else np.asarray(true_mech) != "approved"),
        "true_mechanism": true_mech,
        **{f"true_top{k + 1}": top[:, k].astype(str) for k in range(3)},
        **{f"contrib_{g}": true_contrib[:, j] for j, g in enumerate(G7)},
    }, index=ids)
    decisions = pd.DataFrame({
        "zero": np.asarray(zero if zero is not None else np.asarray(mech) != "approved"),
        "mechanism": mech, "distance_logit": distance,
    }, index=ids)
    return truth, decisions


def test_decision_and_mechanism_metrics():
    assert decision_agreement([1, 0, 1, 0], [1, 0, 0, 0]) == 0.75
    mech = ["score", "policy", "approved", "monitoring", "score"]
    true = ["score", "score", "approved", "monitoring", "approved"]
    true_zero = [True, True, False, True, False]
    # among the 3 true-zero rows, 2 mechanisms match
    assert mechanism_accuracy(mech, true, true_zero) == pytest.approx(2 / 3)
    assert np.isnan(mechanism_accuracy(mech, true, [False] * 5))


def test_top_groups_and_rank_metrics_by_hand():
    order = ["a", "b", "c", "d"]
    G = np.array([[3.0, 2.0, 1.0, -1.0],
                  [-1.0, -2.0, 0.5, 0.0],
                  [0.0, 0.0, 0.0, 0.0]])
    top = top_groups(G, order, 3)
    assert top.tolist() == [["a", "b", "c"], ["c", "", ""], ["", "", ""]]
    assert top1_accuracy(G, order, np.array(["a", "b", ""])) == 0.5  # blank truth skipped
    truth_top = np.array([["a", "c", "d"], ["c", "", ""], ["a", "", ""]])
    # row 1: a, c found (2 of 3); row 2: c found (1 of 1); row 3: a missing (0 of 1)
    assert top3_recall(G, order, truth_top) == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert rank_corr(G[:2], G[:2]) == pytest.approx(1.0)
    assert rank_corr(G[:2], -G[:2]) == pytest.approx(-1.0)
    # a constant row has no rank correlation and is skipped
    assert rank_corr(G, G) == pytest.approx(1.0)


def test_truth_metrics_perfect_reversed_and_model_free_selection():
    rng = np.random.default_rng(0)
    T = rng.normal(size=(60, len(G7)))
    T[:, 0] = np.abs(T[:, 0]) + 0.01  # every row has a true adverse group
    true_mech = np.array(["score"] * 40 + ["policy"] * 10 + ["approved"] * 10, dtype=object)
    # the model refuses only 30 of the 40 true-score rows and approves 10 of them
    mech = true_mech.copy()
    mech[30:40] = "approved"
    truth, decisions = _world(T, true_mech=true_mech, mech=mech, distance=np.zeros(60))
    G = pd.DataFrame(T, index=truth.index, columns=G7)
    m = truth_metrics(G, decisions, truth, additivity_max_error=1e-6, exact=G, oracle=G,
                      baseline="repayment_history")
    assert set(METRIC_NAMES) <= set(m)
    assert m["explain_decision_agreement"] == pytest.approx(50 / 60)
    assert m["explain_mechanism_accuracy"] == pytest.approx(40 / 50)
    for name in ("explain_top1_group_accuracy", "explain_top1_tolerant_accuracy",
                 "explain_top1_clear_accuracy", "explain_top3_group_recall",
                 "explain_fidelity_top1", "explain_alignment_top1", "explain_oracle_top1",
                 "explain_top1_skill"):
        assert m[name] == 1.0, name
    assert m["explain_top1_regret"] == 0.0
    assert m["explain_group_rank_corr"] == pytest.approx(1.0)
    assert m["explain_additivity_max_error"] == 1e-6
    # every true-score row with a true top group counts, whatever the model decided
    assert m["explain_group_rows"] == 40
    # so does shifting every margin: the selection does not read the decisions at all
    shifted = decisions.assign(distance_logit=-5.0, mechanism="approved", zero=False)
    m_shift = truth_metrics(G, shifted, truth, additivity_max_error=0)
    assert m_shift["explain_group_rows"] == 40
    assert m_shift["explain_top1_group_accuracy"] == 1.0
    # wrong answers on rows outside the selection change nothing
    G_out = G.copy()
    G_out.iloc[40:] = -G_out.iloc[40:].to_numpy()
    assert truth_metrics(G_out, decisions, truth, additivity_max_error=0)[
        "explain_top1_group_accuracy"] == 1.0
    rev = truth_metrics(-G, decisions, truth, additivity_max_error=0, suffix="_scorecard",
                        exact=G)
    # reversing puts the true top group last: it can only be top 1 when nothing is adverse
    assert rev["explain_top1_group_accuracy_scorecard"] == 0.0
    assert rev["explain_fidelity_top1_scorecard"] == 0.0
    assert rev["explain_alignment_top1_scorecard"] == 1.0  # the model itself is right
    assert np.isnan(rev["explain_oracle_top1_scorecard"])  # no oracle given
    assert np.isnan(rev["explain_top1_baseline_scorecard"])  # no baseline given


def test_group_rows_select_by_the_truth_only():
    T = np.zeros((5, len(G7)))
    T[:, 1] = [1.0, 1.0, -1.0, 1.0, 1.0]  # row 3 has no adverse group: blank true_top1
    true_mech = np.array(["score", "policy", "score", "score", "monitoring"], dtype=object)
    truth, _ = _world(T, true_mech=true_mech, mech=true_mech, distance=np.zeros(5))
    assert list(group_rows(truth, truth.index)) == [100, 103]
    assert list(group_rows(truth, truth.index[::-1])) == [103, 100]  # population order kept


def test_tolerant_clear_regret_and_skill_by_hand():
    # true contributions of groups a, b, c; the explainer's top pick per row
    C = np.array([[1.00, 0.95, 0.0],    # near-tie: picking b is within 0.1
                  [1.00, 0.50, 0.0],    # clear: picking b loses 0.5
                  [0.30, 0.00, 0.2],    # picks a: right
                  [0.60, 0.10, 0.0]])   # the explainer finds nothing adverse
    G = np.array([[0.1, 0.9, 0.0],
                  [0.0, 0.4, 0.1],
                  [2.0, 0.0, 1.0],
                  [-0.1, -0.2, 0.0]])
    order = ["a", "b", "c"]
    assert TOLERANCE == 0.1 and CLEAR_GAP == 0.2
    assert tolerant_accuracy(G, C) == pytest.approx(2 / 4)
    assert top1_regret(G, C) == pytest.approx((0.05 + 0.5 + 0.0 + 0.6) / 4)
    assert top2_gap(C).tolist() == pytest.approx([0.05, 0.5, 0.1, 0.5])
    clear = top2_gap(C) > CLEAR_GAP
    truth_top = np.array(["a", "a", "a", "a"])
    assert top1_accuracy(G[clear], order, truth_top[clear]) == 0.0
    assert top1_accuracy(G, order, truth_top) == 0.25
    assert skill(0.25, 0.25) == 0.0
    assert skill(0.625, 0.25) == pytest.approx(0.5)
    assert skill(1.0, 0.25) == 1.0
    assert np.isnan(skill(0.5, 1.0))
    # the same figures through truth_metrics on a hand-built world
    T = np.zeros((4, len(G7)))
    T[:, :3] = C
    GG = np.zeros((4, len(G7)))
    GG[:, :3] = G
    GG[:, 3:] = -1.0
    mech = np.array(["score"] * 4, dtype=object)
    truth, decisions = _world(T, true_mech=mech, mech=mech, distance=np.ones(4))
    m = truth_metrics(pd.DataFrame(GG, index=truth.index, columns=G7), decisions, truth,
                      additivity_max_error=0, baseline="utilization_debt")
    assert m["explain_top1_group_accuracy"] == 0.25
    assert m["explain_top1_tolerant_accuracy"] == 0.5
    assert m["explain_top1_clear_accuracy"] == 0.0
    assert m["explain_clear_share"] == 0.5
    assert m["explain_top1_regret"] == pytest.approx(1.15 / 4)
    assert m["explain_top1_baseline"] == 0.0  # repayment is every row's true top group
    assert m["explain_top1_skill"] == 0.25


def test_constant_baseline_is_the_most_frequent_true_top_group():
    T = np.zeros((6, len(G7)))
    T[[0, 1], 2] = 1.0  # borrowing twice
    T[[2, 3], 5] = 1.0  # social twice: a tie, the earlier group wins
    T[4, 0] = 1.0
    mech = np.array(["score"] * 6, dtype=object)
    truth, _ = _world(T, true_mech=mech, mech=mech, distance=np.ones(6))
    assert constant_baseline(truth, truth.index, G7) == "borrowing_behavior"
    assert constant_baseline(truth, truth.index[2:], G7) == "social_network"
    assert constant_baseline(truth, truth.index[5:], G7) == ""  # row 6 has no adverse group


def test_adverse_rank_corr_ignores_the_order_of_favourable_groups():
    T = np.array([[3.0, 2.0, 1.0, -1.0, -2.0, -3.0]])
    G = np.array([[3.0, 2.0, 1.0, -3.0, -2.0, -1.0]])  # favourable groups reversed
    assert adverse_rank_corr(G, T) == pytest.approx(1.0)
    assert rank_corr(G, T) < 0.9
    # a group the explainer calls adverse but the truth does not counts
    G2 = np.array([[3.0, 2.0, 1.0, 5.0, -2.0, -1.0]])
    # ranks over a, b, c, d: explainer 3, 2, 1, 4 against truth 4, 3, 2, 1
    assert adverse_rank_corr(G2, T) == pytest.approx(-0.2)
    # fewer than two adverse groups: skipped
    assert np.isnan(adverse_rank_corr(np.array([[1.0, -1.0]]), np.array([[1.0, -2.0]])))
    # ties share their rank
    assert rank_corr(np.array([[1.0, 1.0, 2.0]]), np.array([[1.0, 2.0, 3.0]])) == \
        pytest.approx(np.sqrt(3) / 2)


def test_top1_agreement_counts_blank_tops_alike():
    order = ["a", "b"]
    G = np.array([[1.0, 0.0], [-1.0, -1.0], [0.0, 2.0]])
    H = np.array([[2.0, 1.0], [-2.0, -1.0], [3.0, 2.0]])
    assert top1_agreement(G, H, order) == pytest.approx(2 / 3)


def test_truth_metrics_known_fractions():
    # 4 true-score users; the model's top group is right for exactly 3 of them
    T = np.zeros((4, len(G7)))
    T[:, 0] = [2.0, 2.0, 2.0, 2.0]   # repayment is the true top group
    T[:, 1] = [1.0, 1.0, 1.0, 1.0]   # utilisation second
    T[:, 2] = [0.5, 0.5, 0.5, 0.5]   # borrowing third
    G = T.copy()
    G[3, 4] = 5.0                    # user 4: the model blames platform activity first
    mech = np.array(["score"] * 4, dtype=object)
    truth, decisions = _world(T, true_mech=mech, mech=mech, distance=np.ones(4))
    m = truth_metrics(pd.DataFrame(G, index=truth.index, columns=G7), decisions, truth,
                      additivity_max_error=0)
    assert m["explain_top1_group_accuracy"] == 0.75
    # user 4's model top 3 is activity, repayment, utilisation: 2 of the true 3
    assert m["explain_top3_group_recall"] == pytest.approx((1 + 1 + 1 + 2 / 3) / 4)
    # mechanism: the model says policy for one true-score user
    decisions.loc[decisions.index[0], "mechanism"] = "policy"
    m2 = truth_metrics(pd.DataFrame(G, index=truth.index, columns=G7), decisions, truth,
                       additivity_max_error=0)
    assert m2["explain_mechanism_accuracy"] == 0.75


def test_unexplained_rows_are_left_out_of_group_metrics():
    T = np.eye(len(G7))[:3] * 2.0
    mech = np.array(["score"] * 3, dtype=object)
    truth, decisions = _world(T, true_mech=mech, mech=mech, distance=np.ones(3))
    G = pd.DataFrame(T[:2], index=truth.index[:2], columns=G7)
    m = truth_metrics(G, decisions, truth, additivity_max_error=0)
    assert m["explain_group_rows"] == 2 and m["explain_top1_group_accuracy"] == 1.0
    empty = truth_metrics(G.iloc[:0], decisions, truth, additivity_max_error=0)
    assert np.isnan(empty["explain_top1_group_accuracy"])


def test_every_metric_is_repeated_within_each_regime():
    from toolkit.explain import truth_metrics_by_regime

    rng = np.random.default_rng(5)
    T = rng.normal(size=(40, len(G7)))
    true_mech = np.array(["score", "policy"] * 20)
    mech = np.where(np.arange(40) % 4 == 0, "approved", true_mech)
    truth, decisions = _world(T, true_mech=true_mech, mech=mech, distance=np.ones(40))
    truth["regime"] = np.where(np.arange(40) < 10, "stressed", "normal")
    G = pd.DataFrame(T, index=truth.index, columns=G7)
    m = truth_metrics_by_regime(G, decisions, truth, additivity_max_error=1e-7,
                                exact=G, oracle=G, baseline="repayment_history")
    assert "explain_additivity_max_error" not in HEADLINE_METRICS
    for name in METRIC_NAMES:
        assert name in m
        if name != "explain_additivity_max_error":
            assert f"{name}_normal" in m and f"{name}_stressed" in m
    stressed = truth.index[:10]
    alone = truth_metrics(G, decisions, truth, additivity_max_error=1e-7, population=stressed)
    assert m["explain_mechanism_accuracy_stressed"] == alone["explain_mechanism_accuracy"]
    assert m["explain_mechanism_accuracy_stressed"] == pytest.approx(
        (mech[:10] == true_mech[:10]).mean())
