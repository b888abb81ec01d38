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
# # 05 · The audit: fairness by mechanism, stability of reasons, drift through stress
# Three questions follow every credit model into a review. The generator knows the answer
# to each, so the audit's answers can be checked:
#
# 1. **Fairness.** Do zero limits fall harder on protected group B, and through which
#    mechanism? The truth records, per user, whether the decision would change if the group
#    were flipped with everything else equal.
# 2. **Stability.** Does a refused user's notice survive a retrain on the same data, or the
#    next month?
# 3. **Drift.** Which months' populations shifted from the training period, and are they
#    the months the market was under stress?
#
# Size: `TOOLKIT_NB_USERS` and `TOOLKIT_NB_DATA`, as in notebook 01. The biased world of
# part 1 is generated beside the default one.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from toolkit.audit import RULE, audit_table
from toolkit.audit.figures import drift_figure, gates_figure, importance_figure, stability_figure
from toolkit.data.table import from_dataset
from toolkit.workflows.fitted import fit_models
from toolkit.workflows.notebook import baseline_world, variant_world

cfg, ds = baseline_world()
table = from_dataset(ds, cfg)
fitted = fit_models(cfg, table, scorecard=False)
audit = audit_table(fitted.scorer, table, fitted.decisions, cfg)
for line in audit.verdicts():
    print(line)

# %% [markdown]
# ## 1 · Fairness in the default world
# Group B lives more in smaller cities, whose incomes are lower (`world.protected.tier_link`,
# the mild proxy on by default): its drivers differ a little, the platform treats both
# groups alike. The decisions are three gates in precedence order (monitoring, score,
# policy); at each, the refusals a group gets are compared with those its drivers (the
# model's log-odds, the regime, the rules' inputs) predict under the reference group's
# treatment.

# %%
fair = audit.fairness[0]
print(RULE)
display(fair.groups.round(4))
display(fair.gates.round(3))
fair.decomposition.round(4)

# %% [markdown]
# ## A biased platform: group B judged by a lower normal cutoff
# The same world, except that the platform refuses group B's users from a PD of 14% in
# normal months (everyone else: 20%). Behaviour, features and labels are unchanged; only
# decisions move. The audit does not know this; the truth does.

# %%
biased_cfg, biased_ds = variant_world(cfg, "audit_biased_score",
                                      {"platform": {"bias": {"normal_cutoff": 0.14}}})
biased_table = from_dataset(biased_ds, biased_cfg)
biased = fit_models(biased_cfg, biased_table, scorecard=False)
biased_audit = audit_table(biased.scorer, biased_table, biased.decisions, biased_cfg,
                           retrains=0)
for line in biased_audit.verdicts()[:2]:
    print(line)
b = biased_audit.fairness[0]
gates_figure(b.gates, b.attribute, b.reference)

# %% [markdown]
# The truth check: users whose true decision changes when their group is flipped, counted
# on the refusing side, beside what the audit flagged. The unexplained part of the gap is
# the audit's estimate of the direct effect the truth measures.

# %%
display(b.truth)
pd.Series({k.removeprefix("audit_fairness_"): v for k, v in biased_audit.metrics.items()
           if k.endswith(("gap", "gap_explained", "gap_unexplained", "truth_unexplained_gap"))
           }).round(4)

# %% [markdown]
# ## Reasons by group at equal PD
# Among refused users in the same PD band, how often is each reason group the top one, for
# group B minus the reference group? The model's explanations beside the truth's reasons
# (at equal true PD).

# %%
reasons = fair.reasons.pivot_table(index="reason", columns="source", values="difference")
reasons.sort_values("model").round(3)

# %% [markdown]
# ## 2 · Stability of reasons
# The model refitted with other seeds and on bootstrap samples of the training rows: the
# share of refused users whose top-1 reason is unchanged and whose notice (mechanism and
# top-3 reason groups) changes. Chance agreement (two top-1 reasons drawn from the run's
# own mix) is the trivial baseline; each model's top-1 accuracy against the truth shows
# what the instability costs.

# %%
display(audit.stability.retrains.round(3))
stability_figure(audit.stability.retrains)

# %% [markdown]
# One month before the decision month, same model and users; the truth's own month-to-month
# agreement says how often the right answer itself changes.

# %%
audit.stability.months.round(3)

# %% [markdown]
# ## 3 · Drift through stress
# Feature PSI by month against the training rows (the market index takes one value per
# month and is left out), the flagged months, and the world's stressed months.

# %%
drift_figure(audit.drift.psi, audit.drift.months)

# %% [markdown]
# The reasons move too: the market's contribution jumps in the months after each episode
# (a recovering market lowers the forward-looking risk), repayment and utilisation rise
# through the test episode.

# %%
importance_figure(audit.drift.importance)

# %% [markdown]
# The flag rule against the stressed months, beside other rules and the trivial baseline
# that flags every month.

# %%
audit.drift.variants.round(2)

# %%
plt.close("all")
