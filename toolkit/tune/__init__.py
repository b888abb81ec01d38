"""Hyperparameter tuning with Optuna: resumable, parallel, nested in MLflow.

    from toolkit.tune import tune_experiment
    result = tune_experiment(cfg, stem="tuned")   # TuneResult: scorer, metrics, run_id, ...

Modules, in the order a search uses them: ``space`` (the ``[tune]`` search space and
objectives), ``study`` (storage, sampler, pruner, resume, dead workers), ``objective`` (one
trial and its child run), ``select`` (Pareto pick, best trials, champion rule), ``quality``
(explanation metrics through ``toolkit.explain``), ``report`` (trial table, figures) and
``run`` (the whole search).  Optuna is imported only inside this package, and only when a
search runs: importing ``toolkit.tune`` stays cheap (``toolkit.config`` uses ``space``).
"""

from __future__ import annotations

from toolkit.tune.space import OBJECTIVES, TUNABLE, resolve_space

_LAZY = {
    "tune_experiment": "toolkit.tune.run",
    "TuneResult": "toolkit.tune.run",
    "trials_per_minute": "toolkit.tune.run",
    "champion_decision": "toolkit.tune.select",
    "ChampionDecision": "toolkit.tune.select",
    "pick_pareto": "toolkit.tune.select",
    "top1_stability": "toolkit.tune.quality",
    "default_storage": "toolkit.tune.study",
}

__all__ = ["OBJECTIVES", "TUNABLE", "resolve_space", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'toolkit.tune' has no attribute {name!r}")
