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
# # 03 · Why did this user's line drop to zero?
# One user per mechanism (score, policy, monitoring) and the persona "high activity but
# poor repayment". For each: a SHAP waterfall in log-odds against the cutoff in force, the
# reasons in English and Chinese, and the change since three months earlier.
#
# Size: `TOOLKIT_NB_USERS` and `TOOLKIT_NB_DATA`, as in notebook 01.

# %%
# The toolkit draws its figures without pyplot, so inline display is switched on here.
# %matplotlib inline
from IPython.display import display

from toolkit.data.personas import high_activity_poor_repayment
from toolkit.data.table import from_dataset
from toolkit.explain import explain_table
from toolkit.explain.figures import waterfall
from toolkit.vocab import MECHANISMS
from toolkit.workflows.fitted import fit_models
from toolkit.workflows.notebook import baseline_world

cfg, ds = baseline_world()
table = from_dataset(ds, cfg)
trained = fit_models(cfg, table)
res = explain_table(trained.scorer, table, trained.decisions, cfg.explain, policy=cfg.policy)
print(res.summary())

# %% [markdown]
# ## Pick the users
# The first zero-limit user of the test split for each mechanism, and the first persona
# user among the explained zero-limit users.

# %%
zero = res.decisions[res.decisions["zero"]]
picks = {m: zero.index[zero["mechanism"] == m][0]
         for m in MECHANISMS if (zero["mechanism"] == m).any()}
persona = high_activity_poor_repayment(table.features, table.truth.reset_index())
persona = [u for u in persona if u in zero.index]
if persona:
    picks["high activity, poor repayment"] = persona[0]
picks

# %% [markdown]
# ## Each user: waterfall, reasons (EN / 中文) and the change since three months earlier
# The waterfall starts at the model's base value and adds each feature's SHAP value (in
# log-odds); the dashed lines are the normal cutoff and the cutoff in force.

# %%
for label, user in picks.items():
    i = res.decisions.index.get_loc(user)
    print(f"=== {label} ===")
    print(res.user_report(user, lang="en"))
    print(res.user_report(user, lang="zh"))
    display(waterfall(res.shap.values[i], float(res.shap.base[i]), res.X.iloc[i],
                      res.shap.features, registry=res.registry,
                      cutoff_logit=float(res.decisions["cutoff_logit"].iloc[i]),
                      normal_cutoff_logit=float(res.decisions["normal_cutoff_logit"].iloc[i]),
                      title=f"user {user}: {label}"))

# %% [markdown]
# ## The truth behind these users
# The generator knows why each line really dropped; compare with the reasons above.

# %%
truth_cols = ["true_mechanism", "true_rule", "true_pd", "true_top1", "true_top2", "true_top3"]
table.truth.loc[list(picks.values()), truth_cols]
