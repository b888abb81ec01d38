"""Exact group Shapley, leaf by leaf: equal to its definition by enumeration, to shap's
interventional TreeSHAP with every feature its own group, and additive."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from toolkit.errors import InputError
from toolkit.explain.group_shapley import GroupShapley, brute_force_group_shapley
from toolkit.explain.groups import group_values

FEATURES = ["a1", "a2", "b1", "b2", "b3", "c1", "d1"]
GROUPS = {"a1": "a", "a2": "a", "b1": "b", "b2": "b", "b3": "b", "c1": "c", "d1": "d"}


@pytest.fixture(scope="module")
def small_model():
    """A 25-tree depth-4 model with cross-group interactions and missing values."""
    import xgboost as xgb

    rng = np.random.default_rng(3)
    n = 3000
    X = rng.normal(size=(n, len(FEATURES)))
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values take each split's default side
    z = np.nan_to_num(X)
    logit = z[:, 0] * z[:, 2] + np.maximum(z[:, 3], 0) - 0.7 * z[:, 5] * z[:, 1] + 0.3 * z[:, 6]
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    dm = xgb.DMatrix(X, label=y, feature_names=FEATURES)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3,
                         "seed": 0, "nthread": 1}, dm, num_boost_round=25)
    return booster, pd.DataFrame(X, columns=FEATURES)


def _predict(booster):
    import xgboost as xgb

    return lambda A: booster.predict(xgb.DMatrix(A, feature_names=FEATURES),
                                     output_margin=True).astype(np.float64)


def test_group_values_equal_brute_force_enumeration(small_model):
    booster, X = small_model
    background, rows = X.iloc[:40], X.iloc[100:106]
    gs = GroupShapley(booster, FEATURES, GROUPS, background)
    values, base, margin = gs.values(rows)
    G, order = group_values(values, FEATURES, GROUPS)
    members = [[FEATURES.index(f) for f in FEATURES if GROUPS[f] == g] for g in order]
    brute = brute_force_group_shapley(_predict(booster), rows.to_numpy(), background.to_numpy(),
                                      members)
    assert order == ("a", "b", "c", "d")
    assert np.abs(G - brute).max() < 1e-6
    assert np.abs(G).max() > 0.1  # not a vacuous match
    assert np.allclose(base, _predict(booster)(background.to_numpy()).mean())
    assert np.abs(values.sum(axis=1) + base - margin).max() < 1e-5


def _owen_brute(predict, x, background, unions):
    """Owen values by definition (unions of feature positions), for a tiny game."""
    p = background.shape[1]

    def v(coalition):
        hybrid = background.copy()
        hybrid[:, list(coalition)] = x[list(coalition)]
        return predict(hybrid).mean()

    out = np.zeros(p)
    m = len(unions)
    for k, union in enumerate(unions):
        others = [u for j, u in enumerate(unions) if j != k]
        for i in union:
            rest = [j for j in union if j != i]
            for r in range(m):
                for R in combinations(range(len(others)), r):
                    w_out = math.factorial(r) * math.factorial(m - r - 1) / math.factorial(m)
                    outside = [j for q in R for j in others[q]]
                    for s in range(len(rest) + 1):
                        for S in combinations(rest, s):
                            w = w_out * math.factorial(s) * \
                                math.factorial(len(union) - s - 1) / math.factorial(len(union))
                            C = [*outside, *S]
                            out[i] += w * (v([*C, i]) - v(C))
    return out


def test_feature_values_are_owen_values_of_the_groups(small_model):
    booster, X = small_model
    background, rows = X.iloc[:15], X.iloc[200:202]
    gs = GroupShapley(booster, FEATURES, GROUPS, background)
    values, _, _ = gs.values(rows)
    unions = [[FEATURES.index(f) for f in FEATURES if GROUPS[f] == g] for g in "abcd"]
    for r in range(len(rows)):
        brute = _owen_brute(_predict(booster), rows.to_numpy()[r], background.to_numpy(), unions)
        assert np.abs(values[r] - brute).max() < 1e-6


def test_one_feature_per_group_is_interventional_shap_with_the_whole_background(small_model):
    import shap

    booster, X = small_model
    background, rows = X.iloc[:300], X.iloc[500:560]
    gs = GroupShapley(booster, FEATURES, {f: f for f in FEATURES}, background)
    values, base, _ = gs.values(rows)
    masker = shap.maskers.Independent(background, max_samples=len(background))
    expl = shap.TreeExplainer(booster, data=masker, model_output="raw",
                              feature_perturbation="interventional")(rows)
    assert np.abs(expl.values - values).max() < 1e-6
    assert np.abs(np.asarray(expl.base_values) - base).max() < 1e-5


def test_rows_are_independent_of_chunking_and_order(small_model):
    booster, X = small_model
    gs = GroupShapley(booster, FEATURES, GROUPS, X.iloc[:500])
    rows = X.iloc[1000:1300]
    whole, _, _ = gs.values(rows)
    reversed_, _, _ = gs.values(rows.iloc[::-1])
    assert np.array_equal(whole, reversed_[::-1])
    assert gs.values(rows.iloc[:0])[0].shape == (0, len(FEATURES))


def test_empty_background_is_refused(small_model):
    booster, X = small_model
    with pytest.raises(InputError, match="^the group explainer's background is empty; it "
                                         "needs at least one row$"):
        GroupShapley(booster, FEATURES, GROUPS, X.iloc[:0])
    gs = GroupShapley(booster, FEATURES, GROUPS, X.iloc[:10])
    with pytest.raises(InputError, match="^rows lack model feature column\\(s\\): a1; the "
                                         "model expects 7 columns$"):
        gs.values(X.drop(columns=["a1"]))


def test_categorical_splits_send_listed_categories_right_and_match_enumeration():
    """A model with partition splits on a category column (missing values included): the
    values equal the definition by enumeration, and add up to the model's margin."""
    import xgboost as xgb

    rng = np.random.default_rng(5)
    n = 2000
    cats = pd.Categorical(rng.choice(list("abcdefg"), n), categories=list("abcdefg"))
    num = rng.normal(size=(n, 2))
    logit = np.isin(cats.codes, [1, 3, 5]) * 1.5 + num[:, 0] - 0.5 * num[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"k": cats, "u": num[:, 0], "v": num[:, 1]})
    X.loc[:40, "k"] = np.nan
    model = xgb.XGBClassifier(n_estimators=12, max_depth=3, enable_categorical=True,
                              tree_method="hist", max_cat_to_onehot=1, n_jobs=1)
    model.fit(X, y)
    booster = model.get_booster()
    import json
    trees = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]["model"]
    assert any(t["categories_nodes"] for t in trees["trees"])  # partition splits to explain
    groups = {"k": "k", "u": "uv", "v": "uv"}
    background, rows = X.iloc[:60], X.iloc[:30]
    engine = GroupShapley(booster, ["k", "u", "v"], groups, background)
    values, base, margin = engine.values(rows)
    assert np.abs(values.sum(axis=1) + base - margin).max() < 1e-5

    def codes(frame):
        out = frame.copy()
        out["k"] = frame["k"].cat.codes.where(frame["k"].cat.codes >= 0).astype(float)
        return out.to_numpy(np.float64)

    def predict(a):
        dm = xgb.DMatrix(a, feature_names=["k", "u", "v"], feature_types=["c", "q", "q"],
                         enable_categorical=True)
        return booster.predict(dm, output_margin=True)

    brute = brute_force_group_shapley(predict, codes(rows), codes(background), [[0], [1, 2]])
    mine = np.stack([values[:, 0], values[:, 1] + values[:, 2]], axis=1)
    np.testing.assert_allclose(mine, brute, atol=1e-6)
