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
# # 02 · Comparing runs
# The comparison the MLflow UI offers, done in code: every run of the `zero-limit`
# experiment read back from the tracking store, then a table and plots across the
# research experiments (baseline, tuned, no_tightening, no_social_data, stress_heavy,
# own_table).
#
# Store: `MLFLOW_TRACKING_URI` if set, else `mlflow.db` at the repository root (where
# `toolkit run` writes by default).

# %%
import matplotlib.pyplot as plt

from toolkit.tracking import search_runs
from toolkit.workflows.notebook import tracking_uri

URI = tracking_uri()
runs = search_runs(URI, "zero-limit", "attributes.status = 'FINISHED'")
print(f"{len(runs)} finished runs in {URI}")

# %% [markdown]
# ## The comparison table
# One row per model run (xgboost and scorecard), newest first. These are the columns
# worth showing in the UI as well.

# %%
columns = {
    "tags.mlflow.runName": "run",
    "tags.toolkit.model_family": "family",
    "metrics.test_auc": "test AUC",
    "metrics.test_auc_oracle_ratio": "AUC / oracle",
    "metrics.test_ks": "KS",
    "metrics.test_ece": "ECE",
    "metrics.test_zero_limit_rate": "zero-limit rate",
    "metrics.test_n_policy": "policy zeros",
    "metrics.explain_top1_group_accuracy": "top-1 group acc.",
    "metrics.explain_mechanism_accuracy": "mechanism acc.",
    "tags.toolkit.dataset_hash": "dataset",
}
models = runs[runs["tags.toolkit.model_family"].isin(["xgboost", "scorecard"])].copy()
# A scorecard run logs its explanation metrics with the suffix _scorecard: same column here.
for name in ("explain_top1_group_accuracy", "explain_mechanism_accuracy"):
    scorecard = models.get(f"metrics.{name}_scorecard")
    if scorecard is not None:
        models[f"metrics.{name}"] = models.get(f"metrics.{name}").fillna(scorecard)
table = models.reindex(columns=list(columns)).rename(columns=columns)
table["dataset"] = table["dataset"].str[:10]
table.round(4)

# %% [markdown]
# ## Plots
# Accuracy against the oracle, and the zero-limit rate, per experiment and model family.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
pivot = table.assign(experiment=table["run"].str.rsplit("-", n=1).str[0]).pivot_table(
    index="experiment", columns="family", values=["AUC / oracle", "zero-limit rate"])
pivot["AUC / oracle"].plot.barh(ax=axes[0], title="test AUC / oracle AUC")
pivot["zero-limit rate"].plot.barh(ax=axes[1], title="test zero-limit rate")
plt.tight_layout()

# %% [markdown]
# ## How many zero-limit users did the tightening cause?
# `no_tightening` judges the same world with a policy that never tightens.

# %%
xgb = table[table["family"] == "xgboost"].drop_duplicates("run").set_index("run")
if {"baseline-xgboost", "no_tightening-xgboost"} <= set(xgb.index):
    base, loose = xgb.loc["baseline-xgboost"], xgb.loc["no_tightening-xgboost"]
    print(f"policy-mechanism zeros under the baseline: {base['policy zeros']:.0f}")
    print(f"zero-limit rate {base['zero-limit rate']:.1%} -> {loose['zero-limit rate']:.1%} "
          "without tightening")
