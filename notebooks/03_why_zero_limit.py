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
# # 03 · Why did this user's line drop to zero, and what would restore it?
# One user per mechanism (score, policy, monitoring) and the persona "high activity but
# poor repayment". For each: a SHAP waterfall in log-odds against the cutoff in force, the
# reasons in English and Chinese, and the change since three months earlier. Then, for the
# persona, the cheapest plan that restores the limit, month by month, with the model PD
# and the true PD on one plot.
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
from toolkit.recourse import recourse_table
from toolkit.recourse.figures import plan_path
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

# %% [markdown]
# ## What would restore the persona's limit, and does it hold in the true world?
# The persona's reasons again, then the cheapest plan: levers a person pulls each month,
# played forward on their own history with every feature rebuilt point in time (a late
# payment leaves the 6-month window six months on, whatever the plan). Behaviour the plan
# does not change repeats the user's last year. The plot shows the model PD and the true
# PD (the world's own equations) under the plan (solid) and the status quo (dashed),
# against the cutoff in force. A small world may have no persona among its zero-limit
# users; the first score user stands in for it then.

# %%
persona_user = picks.get("high activity, poor repayment", picks.get("score"))
plans = recourse_table(trained.scorer, table, trained.decisions, cfg.recourse,
                       policy=cfg.policy, platform=cfg.world.platform, users=[persona_user])
print(res.user_report(persona_user, lang="en"))
print()
print(plans.user_report(persona_user, lang="en"))
print(plans.sentence(persona_user, lang="zh"))
display(plan_path(plans.paths, persona_user,
                  title=f"user {persona_user}: the plan month by month"))

# %% [markdown]
# The plan's row: its levers and amounts, the months it takes, its cost, and the model's
# and the truth's PD in the restore month (``valid_in_truth``: the platform's policy on the
# true PD restores the limit too).

# %%
plans.plans.loc[persona_user].drop(["sentence_en", "sentence_zh"])
