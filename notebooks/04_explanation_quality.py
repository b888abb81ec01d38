# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Are the explanations right?
# The generator knows each user's true reasons, so explanations can be scored. One world and
# one model are one draw, so this notebook reads the baseline **study**
# (`toolkit study experiments/baseline.toml`: 5 world seeds × 3 model seeds, one MLflow child
# run each) and reports every figure as mean ± sd over the children, beside the constant
# baseline. When the store holds no finished study of these settings it runs one here,
# which takes minutes.
#
# The group metrics average over the test rows whose *true* mechanism is `score` (and that
# have a true adverse group), whatever the model decided: a selection made by the model
# could be moved by shifting its margins. Explainers: `path` (native TreeSHAP, the trees'
# cover as reference), `interventional` (exact interventional TreeSHAP against a sample of
# the whole population, the truth's reference), `group` (exact group Shapley with the reason
# groups as players, against the whole population) and `scorecard` (points below the median
# approved user).
#
# Size: `TOOLKIT_NB_USERS`, `TOOLKIT_NB_DATA`, `TOOLKIT_NB_WORLD_SEEDS`,
# `TOOLKIT_NB_MODEL_SEEDS` and `MLFLOW_TRACKING_URI`.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from toolkit.data.table import from_dataset
from toolkit.explain import EXPLAINER_LIST, exact_attribution, top_groups
from toolkit.explain.quality import CLEAR_GAP, group_rows, top2_gap
from toolkit.vocab import REASON_GROUPS, contrib_column
from toolkit.workflows.fitted import fit_models
from toolkit.workflows.notebook import baseline_study, baseline_world
from toolkit.workflows.study import explainer_table

cfg, run_id, per_child, summary = baseline_study()
print(f"study run {run_id}: {len(per_child)} children, world seeds "
      f"{sorted(per_child['world_seed'].unique().tolist())}, model seeds "
      f"{sorted(per_child['model_seed'].unique().tolist())}")

# %% [markdown]
# ## Every explainer, mean ± sd over the children
# `baseline` is the best constant answer (the group most often the true top group among the
# training rows); `skill` = (accuracy − baseline) / (1 − baseline); `regret` is the true
# contribution lost by naming the explainer's group instead of the true one (log-odds).

# %%
explainer_table(summary, (
    "explain_top1_group_accuracy", "explain_top1_tolerant_accuracy",
    "explain_top1_clear_accuracy", "explain_top1_baseline", "explain_top1_skill",
    "explain_top1_regret", "explain_top3_group_recall", "explain_group_rank_corr",
    "explain_fidelity_top1", "explain_alignment_top1", "explain_oracle_top1"))

# %% [markdown]
# ## Tolerant and clear: near-ties in the truth
# When the true first and second groups are within 0.1 log-odds, "the" top reason is a
# coin toss; the tolerant accuracy counts a pick within 0.1 of the true maximum as right,
# the clear accuracy scores only rows whose true top-2 gap exceeds 0.2 (their share below).
# Bars: mean over the children; lines: ± sd; dashed: the constant baseline.

# %%
kinds = {"explain_top1_group_accuracy": "top-1", "explain_top1_tolerant_accuracy":
         "tolerant (0.1)", "explain_top1_clear_accuracy": f"clear (gap > {CLEAR_GAP})"}
mean = explainer_table(summary, tuple(kinds), stat="mean").rename(index=kinds)
sd = explainer_table(summary, tuple(kinds), stat="sd").rename(index=kinds)
ax = mean.T.plot.bar(yerr=sd.T, capsize=3, figsize=(8, 4), rot=0)
ax.axhline(summary.loc["explain_top1_baseline", "mean"], ls="--", c="grey",
           label="constant baseline")
ax.set_ylabel("top-1 accuracy (test)")
ax.set_ylim(0, 1)
ax.legend(loc="lower right")
plt.show()
print(f"clear rows: {summary.loc['explain_clear_share', 'mean']:.1%} ± "
      f"{summary.loc['explain_clear_share', 'sd']:.1%} of the rows measured")

# %% [markdown]
# ## Where the errors come from: fidelity against alignment
# - **fidelity**: does the explainer name the same top group as the *same model's* exact
#   group Shapley values against the whole population (the truth's reference)? Explainer
#   error alone.
# - **alignment**: does that exact attribution name the true top group? Model error alone;
#   the same for every explainer of the model.
# - **oracle**: the explainer on a model of the same family fit to the noise-free true
#   log-odds: the ceiling of this explainer in this world.
#
# An explainer with fidelity near 1 is as accurate as its model's alignment; its
# remaining error is the model's. Each point is one child.

# %%
fig, ax = plt.subplots(figsize=(7, 5))
for e in EXPLAINER_LIST:
    col = f"explain_fidelity_top1{e.suffix}"
    if col in per_child:
        ax.scatter(per_child[col], per_child[f"explain_top1_group_accuracy{e.suffix}"],
                   label=e.name, alpha=0.8)
ax.set_xlabel("fidelity (top group = the model's exact attribution)")
ax.set_ylabel("top-1 accuracy against the truth")
ax.legend()
plt.show()
explainer_table(summary, ("explain_top1_group_accuracy", "explain_fidelity_top1",
                          "explain_alignment_top1", "explain_oracle_top1"))

# %% [markdown]
# ## Across worlds and model seeds
# The spread is mostly between worlds: the model seeds of one world give close figures.

# %%
per_child.pivot_table(index="world_seed", columns="model_seed",
                      values="explain_top1_group_accuracy_group").round(3)

# %% [markdown]
# ## Inside one child: what the model gets wrong
# The baseline world with the default model. Rows: the true top group; columns: the top
# group of the model's exact attribution (its alignment errors).

# %%
world_cfg, ds = baseline_world()
table = from_dataset(ds, world_cfg)
trained = fit_models(world_cfg, table)
rows = group_rows(table.truth, table.X.index[table.mask("test")])
exact = exact_attribution(trained.scorer, "xgboost", table, rows)
t = table.truth.loc[rows]
model_top = pd.Series(top_groups(exact[list(REASON_GROUPS)].to_numpy(), REASON_GROUPS,
                                 k=1)[:, 0], index=rows, name="model_top1")
pd.crosstab(t["true_top1"], model_top, margins=True)

# %% [markdown]
# ## Near-ties
# Accuracy of the model's exact top group against the gap between the true first and
# second groups.

# %%
gap = top2_gap(t[[contrib_column(g) for g in REASON_GROUPS]].to_numpy())
hit = model_top.to_numpy() == t["true_top1"].to_numpy()
by_gap = pd.DataFrame({"gap": pd.cut(gap, [0, 0.1, 0.2, 0.4, 0.8, np.inf]), "hit": hit}) \
    .groupby("gap", observed=True)["hit"].agg(["mean", "size"])
ax = by_gap["mean"].plot.bar(rot=0, figsize=(7, 3), color="#1f77b4",
                             title="top-1 accuracy of the model's exact attribution by the gap "
                             "between the true top two")
ax.set(xlabel="gap in log-odds between the true first and second group", ylabel="accuracy",
       ylim=(0, 1))
plt.show()
by_gap.round(3)

# %% [markdown]
# ## Examples of misattribution
# The model's exact group contributions next to the true ones, for users whose top group
# is wrong.

# %%
for user in rows[~hit][:3]:
    both = pd.DataFrame({"model": exact.loc[user, list(REASON_GROUPS)].to_numpy(),
                         "truth": t.loc[user, [contrib_column(g) for g in REASON_GROUPS]]
                         .to_numpy()}, index=list(REASON_GROUPS)).round(2)
    print(f"user {user}: model says {model_top[user]}, truth says {t.loc[user, 'true_top1']}")
    print(both.sort_values("truth", ascending=False).to_string(), "\n")

# %% [markdown]
# ## Mechanism errors come from the score, not the explainer
# The truth decides on the true PD at the observation month, the model on the probability
# of the label over the next 12 months (see the README's limits): rows are the true
# mechanism of every true zero-limit user, columns the model's.

# %%
d = trained.decisions[table.mask("test")]
tt = table.truth.loc[d.index]
true_zero = tt["true_zero"].to_numpy(bool)
pd.crosstab(tt.loc[true_zero, "true_mechanism"], d.loc[true_zero, "mechanism"], margins=True)
