"""Hyperparameter search with Optuna: resumable, parallel, every trial a nested MLflow run.

Modules, in the order a search uses them: ``space`` (a ``[tune]`` space as Optuna
distributions), ``study`` (storage, sampler, pruner, resume, dead workers), ``worker`` (the
trial loop, in this process or a subprocess), ``objective`` (one trial and its child run),
``select`` (Pareto pick, best trials), ``quality`` (explanation metrics
through ``toolkit.explain``) and ``report`` (trial table, figures).  The whole search, with
its refit and logging, is :func:`toolkit.workflows.tune.tune_experiment`.  Optuna is imported
only when a search runs.
"""

from toolkit.tune.quality import top1_stability
from toolkit.tune.select import pick_pareto

__all__ = ["pick_pareto", "top1_stability"]
