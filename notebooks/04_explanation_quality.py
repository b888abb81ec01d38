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
# The generator knows each user's true reasons, so explanations can be scored. This notebook
# compares path-dependent SHAP, interventional SHAP (against approved users) and the
# scorecard's points, then looks at where explanations fail.
#
# Size: `TOOLKIT_NB_USERS` and `TOOLKIT_NB_DATA`, as in notebook 01.

# %%
# %matplotlib inline
import numpy as np
import pandas as pd

from toolkit.data.table import from_dataset
from toolkit.explain import METRIC_NAMES, explain_scorecard, explain_table, top_groups
from toolkit.vocab import REASON_GROUPS
from toolkit.workflows.fitted import fit_models
from toolkit.workflows.notebook import baseline_world

cfg, ds = baseline_world()
table = from_dataset(ds, cfg)
trained = fit_models(cfg, table)

# %% [markdown]
# ## Three explainers against the truth (test split)

# %%
path = explain_table(trained.scorer, table, trained.decisions, cfg.explain, policy=cfg.policy)
inter = explain_table(trained.scorer, table, trained.decisions, cfg.explain, policy=cfg.policy,
                      mode="interventional", change=False)
card = explain_scorecard(trained.scorecard, table, None, cfg.explain, policy=cfg.policy)
rows = {}
for name, r, suffix in (("path SHAP", path, ""), ("interventional SHAP", inter,
                        "_interventional"), ("scorecard points", card, "_scorecard")):
    # the overall metrics; their per-regime variants (..._normal, ..._stressed) are logged too
    rows[name] = {m.removeprefix("explain_"): r.metrics[f"{m}{suffix}"] for m in METRIC_NAMES}
pd.DataFrame(rows).round(3)

# %% [markdown]
# ## Where the top reason is wrong
# Score-mechanism users only (the model's top adverse group against the true one). Rows:
# true top group; columns: the model's.

# %%
t = table.truth.loc[path.group_contributions.index]
G = path.group_contributions[list(REASON_GROUPS)]
model_top = pd.Series(top_groups(G.to_numpy(), REASON_GROUPS, k=1)[:, 0], index=G.index)
scored = (t["true_mechanism"] == "score") & (path.decisions["mechanism"] == "score")
confusion = pd.crosstab(t.loc[scored, "true_top1"], model_top[scored])
confusion

# %% [markdown]
# ## Near-ties in the truth are hard
# Accuracy of the top group against the gap between the true first and second groups:
# when two true causes are almost equal, no explainer can be expected to pick "the" one.

# %%
true_c = t.loc[scored, [f"contrib_{g}" for g in REASON_GROUPS]].to_numpy()
srt = np.sort(true_c, axis=1)
gap = pd.cut(srt[:, -1] - srt[:, -2], [0, 0.1, 0.2, 0.4, 0.8, np.inf])
hit = model_top[scored].to_numpy() == t.loc[scored, "true_top1"].to_numpy()
by_gap = pd.DataFrame({"gap": gap, "hit": hit}).groupby("gap", observed=True)["hit"].agg(
    ["mean", "size"])
ax = by_gap["mean"].plot.bar(rot=0, figsize=(7, 3), color="#1f77b4",
                             title="top-1 group accuracy by the gap between the true top two")
ax.set(xlabel="gap in log-odds between the true first and second group", ylabel="accuracy",
       ylim=(0, 1))
by_gap.round(3)

# %% [markdown]
# ## Examples of failures
# Model group contributions next to the true ones for a few users whose top reason is wrong.

# %%
wrong = model_top[scored].index[~hit][:3]
for user in wrong:
    both = pd.DataFrame({"model": G.loc[user],
                         "truth": t.loc[user, [f"contrib_{g}" for g in REASON_GROUPS]].to_numpy()},
                        index=list(REASON_GROUPS)).round(2)
    print(f"user {user}: model says {model_top[user]}, truth says {t.loc[user, 'true_top1']}")
    print(both.sort_values("truth", ascending=False).to_string(), "\n")

# %% [markdown]
# ## Mechanism errors come from the score, not the explainer
# A model trained before the stress episode cannot know the macro hazard: in stressed months
# its PD is too low, so true score refusals look like policy refusals and true policy
# refusals get approved.

# %%
d = path.decisions
true_zero = t["true_zero"].to_numpy(bool)
pd.crosstab(t.loc[true_zero, "true_mechanism"], d.loc[true_zero, "mechanism"],
            margins=True)
