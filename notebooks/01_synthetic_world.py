# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · The synthetic world
#
# A tour of the fictional credit world the toolkit generates: who the users are, the
# market-liquidity calendar with its stress episode, how behaviour evolves month by month,
# and the three mechanisms that send a credit line to zero (score, policy, monitoring).
#
# Size: set `TOOLKIT_NB_USERS` (default 50,000, the default world) and `TOOLKIT_NB_DATA`
# (default `data/synthetic/default`) before starting Jupyter; the tests run this notebook on
# a small world that way.

# %%
import matplotlib.pyplot as plt
import pandas as pd

from toolkit.data.features import build_features
from toolkit.data.personas import high_activity_poor_repayment
from toolkit.workflows.notebook import baseline_world

cfg, ds = baseline_world()
print(f"{len(ds.users):,} users, {len(ds.history):,} user-months, dataset {ds.hash[:12]}")

# %% [markdown]
# ## The population

# %%
users = ds.users
print(users["segment"].value_counts(normalize=True).round(3))
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
users.boxplot(column="income", by="segment", ax=axes[0], rot=20, showfliers=False)
axes[0].set(title="monthly income (CNY) by segment", xlabel="")
users.groupby("segment", observed=True)["latent_creditworthiness"].mean().plot.bar(
    ax=axes[1], rot=20, title="mean latent creditworthiness (never a feature)")
fig.suptitle("")
plt.tight_layout()

# %% [markdown]
# ## The regime calendar
# One liquidity index per month, shared by all users. Months below the threshold are
# *stressed*: default hazards rise, inflows fall, and the platform tightens its cutoff.

# %%
macro = ds.macro
ax = macro.plot(x="period", y="liquidity_index", figsize=(11, 3), legend=False)
stressed = macro.index[macro["regime"] == "stressed"]
ax.bar(stressed, macro["liquidity_index"].min(), width=1.0, color="red", alpha=0.15)
ax.axhline(cfg.world.stress_threshold, ls="--", color="grey")
ax.set(title="market-liquidity index (red: stressed months)", xlabel="")
print("stressed months:", ", ".join(macro.loc[macro["regime"] == "stressed", "period"]))

# %% [markdown]
# ## Behaviour over time
# Monthly means across all users alive in each calendar month: stress shows in inflows,
# inquiries and late payments.

# %%
hist = ds.history.merge(macro[["month", "period"]], on="month")
monthly = hist.groupby("period").agg(
    inflow=("inflow", "mean"), utilization=("utilization", "mean"),
    late_share=("dpd", lambda d: (d > 0).mean()), inquiries=("inquiries", "mean"),
    zero_limit_share=("limit", lambda v: (v == 0).mean()))
monthly.plot(subplots=True, figsize=(11, 8), layout=(3, 2), legend=False,
             title=list(monthly.columns))
plt.tight_layout()

# %% [markdown]
# ## Why lines drop to zero: the true mechanisms at the observation month

# %%
truth = ds.truth
print(f"zero-limit rate {truth['true_zero'].mean():.1%}, "
      f"default rate {ds.outcomes['default_12m'].mean():.1%}, "
      f"oracle AUC {ds.manifest['oracle_auc']['all']:.3f}")
mech = pd.crosstab(truth["regime"], truth["true_mechanism"], normalize="index").round(3)
mech

# %%
# as text, so that categories no user of the mechanism has do not draw as empty bars
rules = truth.loc[truth["true_mechanism"] == "monitoring", "true_rule"].astype(str).value_counts()
top = truth.loc[truth["true_mechanism"] == "score", "true_top1"].astype(str) \
    .value_counts(normalize=True)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
rules.plot.bar(ax=axes[0], rot=0, title="monitoring rules that fired")
top.plot.barh(ax=axes[1], title="true top adverse group (score mechanism)")
plt.tight_layout()

# %% [markdown]
# ## A persona: high activity but poor repayment
# Busy platform users who nevertheless repay late, and whose line went to zero.

# %%
feats = build_features(ds.history, ds.users, names=["txn_mean_6m", "late_cnt_6m"])
persona = high_activity_poor_repayment(feats, truth)
print(f"{len(persona)} users match the persona")
truth.set_index("user_id").loc[persona, ["true_mechanism", "true_pd", "true_top1"]].head()
