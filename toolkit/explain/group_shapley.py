"""Exact group Shapley values of an xgboost ensemble, computed leaf by leaf.

The players are reason groups; a coalition ``S`` of groups takes the explained row's values
for the features of ``S`` and a background row's values for all others, averaged over the
background (the interventional, or marginal, value function)::

    v(S) = mean over background rows b of f(x_S, b_rest)

With the whole population as background this is the reference the synthetic world's truth
uses (a group's true contribution is its term minus the population mean of that term): for
a model additive in the groups, these values are exactly that (tested).

Why it is cheap.  ``f`` is a sum of leaf indicators, so ``v`` and the Shapley values are sums
over leaves.  A leaf is reached iff every condition on its path holds; split by feature, the
conditions on feature ``j`` hold for the explained row or not (bit ``a_j``), and for a share
of background rows that can be counted once.  A leaf's game therefore depends only on the
features on its path (at most the tree depth) and, for a row, only on its bits ``A``:

    v_leaf(C) = value x [C subset of A] x P(F minus C)

where ``F`` is the path's feature set and ``P(R)`` the share of background rows meeting the
conditions of every feature in ``R``.  Features off the path are null players, so each leaf
enumerates only its own 2^|F| coalitions, once, when the explainer is bound to its
background; a row then costs one table look-up per leaf.

A categorical split (xgboost's partition split on an own table's native category column) is
a condition like any other: the row's category code is in the split's set (right) or not
(left), a missing value takes the default side.  Rows are read as xgboost reads them: a
category column as its codes.

Feature-level values are the Owen values with the reason groups as unions: within a group
a feature gets its share of the group's value, and the values of a group's features sum to
its exact group Shapley value (the Owen value's quotient-game property).  So the reasons
builder can still name the strongest feature of a group, and grouping the values gives the
exact group Shapley values.  With every feature its own group they are the exact
interventional SHAP values (equal to ``shap.TreeExplainer`` with the same background; a test
checks it).

:func:`brute_force_group_shapley` is the definition, by enumeration of all 2^g coalitions;
the tests hold the two equal within 1e-6.

Cost.  Binding builds, per leaf, a table of 2^t rows from 4^t kernel terms, t being the
distinct features on the leaf's path (at most the depth); the background costs about
2^t x rows / 64 word operations per leaf.  Measured on the default world's whole
population (50,000 rows) on a loaded 2-core machine: 0.5 s for the default depth-3 model,
0.7 s at depth 6 and about 10 s at depth 8; a row then costs one look-up per leaf.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from toolkit.errors import InputError

CHUNK_ROWS = 4096  # a multiple of 64: background rows are packed 64 to a word


@dataclass(frozen=True)
class _Leaves:
    """The leaves of an ensemble whose path has at least one condition, as flat arrays.

    Distinct splits (N): ``node_feature``, ``node_threshold`` (float32, as xgboost
    compares), ``node_default_left`` (where a missing value goes), ``node_categories``
    (for a categorical split, the category codes that go right; None for a numeric
    one).  Conditions (C), sorted
    by leaf, slot and split: ``cond_node`` (the split), ``cond_left`` (the path goes left
    there), ``cond_pair`` and
    ``cond_rank`` (its (leaf, slot) pair and its place among that pair's conditions).
    Pairs (P), sorted by leaf and slot: ``pair_leaf``, ``pair_slot``.  Leaves (L):
    ``value`` and ``slots`` (the path's distinct features in slot order).
    """

    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_default_left: np.ndarray
    node_categories: tuple[np.ndarray | None, ...]
    cond_node: np.ndarray
    cond_left: np.ndarray
    cond_pair: np.ndarray
    cond_rank: np.ndarray
    pair_leaf: np.ndarray
    pair_slot: np.ndarray
    value: np.ndarray
    slots: tuple[tuple[int, ...], ...]


def _parse(booster, n_features: int) -> _Leaves:
    """Walk every tree of ``booster`` (xgboost JSON model) and list its leaves' paths."""
    model = json.loads(bytes(booster.save_raw("json")))
    trees = model["learner"]["gradient_booster"]["model"]["trees"]
    node_feature, node_threshold, node_default = [], [], []
    # a categorical split's key: the index of its category set (-1: a numeric split)
    node_catset: list[int] = []
    catsets: dict[tuple[int, ...], int] = {}
    conds: list[tuple[int, int, int, int]] = []  # (leaf, slot, node, left)
    value, slots = [], []
    for tree in trees:
        # xgboost's partition splits send the listed categories right, the others left
        # (and a missing value to the default side), as a numeric split sends x >= t right.
        cat_of = {}
        for node, start, size in zip(tree.get("categories_nodes", []),
                                     tree.get("categories_segments", []),
                                     tree.get("categories_sizes", []), strict=True):
            key = tuple(int(v) for v in tree["categories"][start:start + size])
            cat_of[int(node)] = catsets.setdefault(key, len(catsets))
        types = tree.get("split_type", [])
        if any(t != 0 and i not in cat_of for i, t in enumerate(types)
               if tree["left_children"][i] != -1):
            raise InputError("the group explainer cannot read a split of this model: a "
                             "categorical split without its categories")
        left, right = tree["left_children"], tree["right_children"]
        feat, cond, dflt = tree["split_indices"], tree["split_conditions"], tree["default_left"]
        offset = len(node_feature)
        node_feature.extend(int(f) for f in feat)
        node_threshold.extend(float(c) for c in cond)
        node_default.extend(bool(d) for d in dflt)
        node_catset.extend(cat_of.get(i, -1) for i in range(len(feat)))
        stack = [(0, ())]
        while stack:
            node, path = stack.pop()
            if left[node] == -1:
                if not path:  # a single-leaf tree is a constant: it only moves the base
                    continue
                order = tuple(dict.fromkeys(int(feat[n]) for n, _ in path))
                leaf = len(value)
                value.append(float(cond[node]))  # a leaf keeps its weight there
                slots.append(order)
                for n, go_left in path:
                    conds.append((leaf, order.index(int(feat[n])), offset + n, go_left))
                continue
            stack.append((right[node], (*path, (node, 0))))
            stack.append((left[node], (*path, (node, 1))))
    if node_feature and max(node_feature) >= n_features:
        raise InputError(f"the model splits on feature {max(node_feature)} but has only "
                         f"{n_features} feature names")
    c = np.array(sorted(conds), dtype=np.int64).reshape(-1, 4)
    # Trees share many splits (hist splits sit on a few hundred bin edges per feature):
    # each distinct (feature, threshold, missing side) is compared once per row.
    split = np.stack([np.asarray(node_feature, np.int64)[c[:, 2]],
                      np.asarray(node_threshold, np.float32)[c[:, 2]].view(np.int32)
                      .astype(np.int64),
                      np.asarray(node_default, np.int64)[c[:, 2]],
                      np.asarray(node_catset, np.int64)[c[:, 2]]], axis=1) if len(c) else \
        np.zeros((0, 4), np.int64)
    unique, cond_node = np.unique(split, axis=0, return_inverse=True) if len(c) else \
        (np.zeros((0, 4), np.int64), np.zeros(0, np.int64))
    sets = {i: np.asarray(k, np.float32) for k, i in catsets.items()}
    new_pair = np.r_[True, (c[1:, 0] != c[:-1, 0]) | (c[1:, 1] != c[:-1, 1])] if len(c) \
        else np.zeros(0, bool)
    cond_pair = np.cumsum(new_pair) - 1
    first = np.flatnonzero(new_pair)
    return _Leaves(
        node_feature=unique[:, 0].copy(),
        node_threshold=unique[:, 1].astype(np.int32).view(np.float32),
        node_default_left=unique[:, 2].astype(bool),
        node_categories=tuple(sets[i] if i >= 0 else None for i in unique[:, 3].tolist()),
        cond_node=np.asarray(cond_node).ravel(), cond_left=c[:, 3].astype(bool),
        cond_pair=cond_pair,
        cond_rank=np.arange(len(c)) - first[cond_pair], pair_leaf=c[first, 0],
        pair_slot=c[first, 1], value=np.asarray(value, np.float64), slots=tuple(slots))


def _go_left(leaves: _Leaves, X32: np.ndarray) -> np.ndarray:
    """Whether each row goes left at each distinct split: bool (N, n)."""
    x = np.ascontiguousarray(X32.T)[leaves.node_feature]
    if not np.isnan(X32).any():
        left = x < leaves.node_threshold[:, None]
    else:
        with np.errstate(invalid="ignore"):
            left = np.where(np.isnan(x), leaves.node_default_left[:, None],
                            x < leaves.node_threshold[:, None])
    for k, cats in enumerate(leaves.node_categories):
        if cats is not None:  # a category code goes left unless it is in the split's set
            left[k] = np.where(np.isnan(x[k]), leaves.node_default_left[k],
                               ~np.isin(x[k], cats))
    return left


def _pairs_met(leaves: _Leaves, met: np.ndarray) -> np.ndarray:
    """AND of each (leaf, slot) pair's conditions: ``met`` (C, ...) to (P, ...).

    Works on bool rows and on rows packed 64 to a word alike; the loop runs over condition
    ranks (at most the tree depth), never over leaves.
    """
    rank = leaves.cond_rank
    ok = met[rank == 0]  # conditions are sorted by pair: rank 0 lists the pairs in order
    for r in range(1, int(rank.max(initial=0)) + 1):
        sel = rank == r
        ok[leaves.cond_pair[sel]] &= met[sel]
    return ok


def _codes(leaves: _Leaves, X32: np.ndarray) -> np.ndarray:
    """Per leaf and row, the bits of the path features whose conditions the row meets.

    X32: shape (n, p) float32.  Returns int32 (L, n); bit ``k`` is the leaf's slot ``k``.
    Rows run along the second axis, so each step moves whole contiguous rows.
    """
    met = _go_left(leaves, X32)[leaves.cond_node] == leaves.cond_left[:, None]
    ok = _pairs_met(leaves, met)
    slot = leaves.pair_slot
    codes = ok[slot == 0].astype(np.int32)  # slot 0 lists the leaves in order
    for k in range(1, int(slot.max(initial=0)) + 1):
        sel = slot == k
        codes[leaves.pair_leaf[sel]] += ok[sel] * np.int32(1 << k)
    return codes


def _pack(bits: np.ndarray, words: int) -> np.ndarray:
    """Bool (k, m) to uint64 (k, words), 64 rows to a word, zero-padded."""
    raw = np.zeros((bits.shape[0], words * 8), dtype=np.uint8)
    packed = np.packbits(bits, axis=1)
    raw[:, :packed.shape[1]] = packed
    return raw.view(np.uint64)


def _background_counts(leaves: _Leaves, X32: np.ndarray, offset: np.ndarray,
                       total: int) -> np.ndarray:
    """For every leaf and every set R of its slots, how many rows meet the conditions of
    all the slots in R (the table layout: ``out[offset[leaf] + R]``).

    Rows are packed 64 to a word, so a set's rows are one AND of a smaller set's words with
    one slot's, and a popcount: about 2^t x rows / 64 word operations per leaf, so the
    background may be the whole population.
    """
    out = np.zeros(total, dtype=np.int64)
    n_slots = np.array([len(s) for s in leaves.slots])
    first_pair = np.flatnonzero(leaves.pair_slot == 0)
    flip = np.where(leaves.cond_left, np.uint64(0), ~np.uint64(0))[:, None]
    for start in range(0, len(X32), CHUNK_ROWS):  # CHUNK_ROWS is a multiple of 64
        part = X32[start:start + CHUNK_ROWS]
        words = -(-len(part) // 64)
        valid = _pack(np.ones((1, len(part)), dtype=bool), words)
        ok = _pairs_met(leaves, _pack(_go_left(leaves, part), words)[leaves.cond_node] ^ flip) \
            & valid
        for t in np.unique(n_slots):
            members = np.flatnonzero(n_slots == t)
            bits = ok[first_pair[members][:, None] + np.arange(t)[None, :]]  # (nL, t, words)
            rows = np.empty((1 << t, len(members), words), dtype=np.uint64)
            rows[0] = valid
            for R in range(1, 1 << t):
                low = R & -R
                rows[R] = rows[R ^ low] & bits[:, low.bit_length() - 1]
            counts = np.bitwise_count(rows).sum(axis=2, dtype=np.int64)  # (2^t, nL)
            out[offset[members][None, :] + np.arange(1 << t)[:, None]] += counts
    return out


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(np.asarray(x, dtype=np.uint64)).astype(np.int64)


@cache
def _owen_kernel(pattern: tuple[int, ...]) -> np.ndarray:
    """The linear map from a leaf's background shares to its players' Owen values.

    pattern: the union (group) of each slot, relabelled by first appearance, e.g. (0, 0, 1).
    Returns K of shape (t, 2^t, 2^t) with ``phi_i(A) = value x sum_R K[i, A, R] P(R)`` for a
    row whose satisfied slots are ``A``.  With one slot per union it is the Shapley kernel.

    Player i's Owen value sums, over coalitions C of the other slots that take the other
    unions whole (r of the m - 1) and any s of the u - 1 other slots of its own union,
    ``r!(m-r-1)!/m! x s!(u-s-1)!/u! x (v(C + i) - v(C))``, and a leaf's game is
    ``v(C) = value x [C within A] x P(slots not in C)``.
    """
    t = len(pattern)
    size = 1 << t
    full = size - 1
    unions = np.array([sum(1 << s for s in range(t) if pattern[s] == u)
                       for u in range(max(pattern) + 1)], dtype=np.int64)
    m = len(unions)
    fact = [math.factorial(j) for j in range(t + 1)]
    masks = np.arange(size)
    K = np.zeros((t, size, size))
    for i in range(t):
        bit = 1 << i
        own = int(unions[pattern[i]])
        C = masks[(masks & bit) == 0]
        inter = C[:, None] & np.delete(unions, pattern[i])[None, :]
        whole = inter == np.delete(unions, pattern[i])[None, :]
        ok = ((inter == 0) | whole).all(axis=1)
        C = C[ok]
        r = whole[ok].sum(axis=1)
        s = _popcount(C & own)
        u = _popcount(own)
        w = np.array([fact[a] * fact[m - a - 1] / fact[m] * fact[b] * fact[u - b - 1] / fact[u]
                      for a, b in zip(r, s, strict=True)])
        Ci = C | bit
        K[i][:, full ^ Ci] += w[None, :] * ((masks[:, None] & Ci[None, :]) == Ci[None, :])
        K[i][:, full ^ C] -= w[None, :] * ((masks[:, None] & C[None, :]) == C[None, :])
    return K


def _pattern(slots: tuple[int, ...], group_of: np.ndarray) -> tuple[int, ...]:
    labels: dict[int, int] = {}
    return tuple(labels.setdefault(int(group_of[f]), len(labels)) for f in slots)


@dataclass
class GroupShapley:
    """Exact group Shapley (feature level: Owen) values of an xgboost booster against a
    background.

    booster: an xgboost Booster (all its trees are used; cut it at the best iteration first).
    features: its feature names, in its column order.
    groups: feature -> group (features missing from it form the group ``"other"``).
    background: rows with the feature columns; their mean prediction is the base value.

    ``values(X)`` returns ``(values (n, p), base (n,), margin (n,))`` in log-odds.
    """

    booster: object
    features: Sequence[str]
    groups: Mapping[str, str]
    background: pd.DataFrame

    def __post_init__(self):
        import scipy.sparse as sp

        self.features = list(self.features)
        if len(self.background) == 0:
            raise InputError("the group explainer's background is empty; it needs at least "
                             "one row")
        names = list(dict.fromkeys(self.groups.get(f, "other") for f in self.features))
        group_of = np.array([names.index(self.groups.get(f, "other")) for f in self.features])
        self._leaves = leaves = _parse(self.booster, len(self.features))
        bg = self._matrix(self.background)
        self.base_value = float(self._margin(bg).mean())
        # One block of table rows per leaf: 2^t rows (one per bit pattern A), a column per
        # feature, holding that leaf's Owen values for a row whose bits are A.
        size = np.array([1 << len(s) for s in leaves.slots], dtype=np.int64)
        self._offset = np.r_[0, np.cumsum(size)[:-1]].astype(np.int64)
        total = int(size.sum())
        counts = _background_counts(leaves, bg.astype(np.float32), self._offset, total) \
            if len(leaves.value) else np.zeros(0, np.int64)
        rows, cols, vals = [], [], []
        patterns: dict[tuple[int, ...], list[int]] = {}
        for leaf, s in enumerate(leaves.slots):
            patterns.setdefault(_pattern(s, group_of), []).append(leaf)
        for pattern, members in patterns.items():
            idx = np.asarray(members)
            t = len(pattern)
            block = self._offset[idx][:, None] + np.arange(1 << t)[None, :]
            P = counts[block] / len(bg)
            Q = np.einsum("iar,lr->lai", _owen_kernel(pattern), P) * \
                leaves.value[idx][:, None, None]
            feat = np.array([leaves.slots[leaf] for leaf in members])  # (nL, t)
            r = self._offset[idx][:, None, None] + np.arange(1 << t)[None, :, None]
            rows.append(np.broadcast_to(r, Q.shape).ravel())
            cols.append(np.broadcast_to(feat[:, None, :], Q.shape).ravel())
            vals.append(Q.ravel())
        self._table = sp.csr_matrix(
            (np.concatenate(vals) if vals else np.zeros(0),
             (np.concatenate(rows) if rows else np.zeros(0, np.int64),
              np.concatenate(cols) if cols else np.zeros(0, np.int64))),
            shape=(total, len(self.features)))

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise InputError(f"rows lack model feature column(s): {', '.join(missing[:5])}; "
                             f"the model expects {len(self.features)} columns")
        X = X[self.features]
        # a category column reads as its codes (NaN where missing), as xgboost sees it
        self._types = ["c" if isinstance(X[c].dtype, pd.CategoricalDtype) else "q"
                       for c in self.features]
        if "c" in self._types:
            X = X.apply(lambda col: col.cat.codes.where(col.cat.codes >= 0).astype(np.float64)
                        if isinstance(col.dtype, pd.CategoricalDtype) else col)
        return np.ascontiguousarray(X.to_numpy(np.float64))

    def _margin(self, X: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        types = getattr(self, "_types", None)
        dm = xgb.DMatrix(X, feature_names=self.features, feature_types=types,
                         enable_categorical=types is not None and "c" in types)
        return self.booster.predict(dm, output_margin=True).astype(np.float64)

    def values(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import scipy.sparse as sp

        Xf = self._matrix(X)
        n, p = Xf.shape
        out = np.zeros((n, p))
        L = len(self._leaves.value)
        if L:
            X32 = Xf.astype(np.float32)
            for s in range(0, n, CHUNK_ROWS):
                codes = _codes(self._leaves, X32[s:s + CHUNK_ROWS]).T
                m = len(codes)
                pick = sp.csr_matrix((np.ones(m * L), (codes + self._offset).ravel(),
                                      np.arange(0, m * L + 1, L)), shape=(m, self._table.shape[0]))
                out[s:s + m] = (pick @ self._table).toarray()
        return out, np.full(n, self.base_value), self._margin(Xf) if n else np.zeros(0)


def brute_force_group_shapley(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                              background: np.ndarray, members: Sequence[Sequence[int]]
                              ) -> np.ndarray:
    """Group Shapley values by definition: every coalition of the g groups, every background
    row.  Cost n x 2^g x len(background) predictions: for tests and small checks.

    predict: rows (m, p) -> log-odds (m,).  members: the column positions of each group.
    Returns (n, g).
    """
    X = np.asarray(X, np.float64)
    background = np.asarray(background, np.float64)
    g = len(members)
    out = np.zeros((len(X), g))
    for r, x in enumerate(X):
        v = np.zeros(1 << g)
        for S in range(1 << g):
            hybrid = background.copy()
            for k in range(g):
                if S >> k & 1:
                    hybrid[:, list(members[k])] = x[list(members[k])]
            v[S] = predict(hybrid).mean()
        for k in range(g):
            for S in range(1 << g):
                if S >> k & 1:
                    continue
                s = bin(S).count("1")
                w = math.factorial(s) * math.factorial(g - s - 1) / math.factorial(g)
                out[r, k] += w * (v[S | 1 << k] - v[S])
    return out
