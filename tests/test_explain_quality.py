"""Truth metrics on hand-built worlds whose right answer is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.explain import METRIC_NAMES, top_groups, truth_metrics
from toolkit.explain.quality import (
    decision_agreement,
    mechanism_accuracy,
    rank_corr,
    top1_accuracy,
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


def test_truth_metrics_perfect_reversed_and_selection():
    rng = np.random.default_rng(0)
    T = rng.normal(size=(60, len(G7)))
    mech = np.array(["score"] * 40 + ["policy"] * 10 + ["approved"] * 10, dtype=object)
    distance = np.r_[np.full(30, 0.5), np.full(10, -0.2), np.full(20, 0.1)]
    truth, decisions = _world(T, true_mech=mech, mech=mech, distance=distance)
    G = pd.DataFrame(T, index=truth.index, columns=G7)
    m = truth_metrics(G, decisions, truth, additivity_max_error=1e-6)
    assert set(METRIC_NAMES) <= set(m)
    assert m["explain_decision_agreement"] == 1.0
    assert m["explain_mechanism_accuracy"] == 1.0
    assert m["explain_top1_group_accuracy"] == 1.0
    assert m["explain_top3_group_recall"] == 1.0
    assert m["explain_group_rank_corr"] == pytest.approx(1.0)
    assert m["explain_additivity_max_error"] == 1e-6
    # only true-score rows that the model places at or above the cutoff count: 30 of them
    assert m["explain_group_rows"] == 30
    # wrong answers on rows outside the selection change nothing
    G_out = G.copy()
    G_out.iloc[30:] = -G_out.iloc[30:].to_numpy()
    assert truth_metrics(G_out, decisions, truth, additivity_max_error=0)[
        "explain_top1_group_accuracy"] == 1.0
    rev = truth_metrics(-G, decisions, truth, additivity_max_error=0, suffix="_scorecard")
    assert rev["explain_group_rank_corr_scorecard"] == pytest.approx(-1.0)
    # reversing puts the true top group last: it can only be top 1 when nothing is adverse
    assert rev["explain_top1_group_accuracy_scorecard"] == 0.0


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
    m = truth_metrics_by_regime(G, decisions, truth, additivity_max_error=1e-7)
    for name in METRIC_NAMES:
        assert name in m
        if name != "explain_additivity_max_error":
            assert f"{name}_normal" in m and f"{name}_stressed" in m
    stressed = truth.index[:10]
    alone = truth_metrics(G, decisions, truth, additivity_max_error=1e-7, population=stressed)
    assert m["explain_mechanism_accuracy_stressed"] == alone["explain_mechanism_accuracy"]
    assert m["explain_mechanism_accuracy_stressed"] == pytest.approx(
        (mech[:10] == true_mech[:10]).mean())
