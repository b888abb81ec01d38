"""The ``[tune]`` search space and objectives: validation, defaults, Optuna distributions.

A space maps :class:`~toolkit.config.ModelConfig` field names to a
:class:`~toolkit.config.TuneParam`: a numeric range (``low``, ``high``, optional ``log`` and
``int``) or a list of ``choices``.  An empty space means :data:`DEFAULT_SPACE`.

Validation (:func:`check_space`, :func:`check_objectives`) is pure Python so that
``toolkit.config`` can run it while an experiment file loads; Optuna is imported only by
:func:`distributions` and :func:`suggest`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# ModelConfig fields a search may set.  seed, nthread and device are left out on purpose:
# they change how a model is computed, not which model is good.
TUNABLE = ("n_estimators", "learning_rate", "max_depth", "min_child_weight", "subsample",
           "colsample_bytree", "reg_lambda", "reg_alpha", "early_stopping_rounds", "monotone")
_INT_FIELDS = ("n_estimators", "max_depth", "early_stopping_rounds")
_BOOL_FIELDS = ("monotone",)


@dataclass(frozen=True)
class Objective:
    """One study objective.

    name: the name in ``tune.objectives`` (``val_auc``).
    direction: ``"maximize"`` or ``"minimize"``.
    metric: the metric of a trial run that holds its value (``valid_auc``).
    xgb_key: the xgboost evaluation key the pruner watches (``valid-auc``), or None when the
        metric has no per-round value (the trial then cannot be pruned).
    explain: True for explanation-quality objectives (they need the synthetic truth).
    """

    name: str
    direction: str
    metric: str
    xgb_key: str | None = None
    explain: bool = False


OBJECTIVES: dict[str, Objective] = {o.name: o for o in (
    Objective("val_auc", "maximize", "valid_auc", "valid-auc"),
    Objective("val_ks", "maximize", "valid_ks"),
    Objective("val_logloss", "minimize", "valid_logloss", "valid-logloss"),
    Objective("val_brier", "minimize", "valid_brier"),
    Objective("val_explain_top1_group_accuracy", "maximize",
              "explain_top1_group_accuracy_valid", explain=True),
    Objective("val_explain_top3_group_recall", "maximize",
              "explain_top3_group_recall_valid", explain=True),
    Objective("val_explain_group_rank_corr", "maximize",
              "explain_group_rank_corr_valid", explain=True),
)}

PARETO_PICKS = ("best_auc", "best_explain", "balanced")


def _default_space() -> dict[str, Any]:
    from toolkit.config import TuneParam

    return {
        "learning_rate": TuneParam(low=0.02, high=0.3, log=True),
        "max_depth": TuneParam(low=2, high=8, int=True),
        "min_child_weight": TuneParam(low=1.0, high=100.0, log=True),
        "subsample": TuneParam(low=0.5, high=1.0),
        "colsample_bytree": TuneParam(low=0.4, high=1.0),
        "reg_lambda": TuneParam(low=0.01, high=30.0, log=True),
        "reg_alpha": TuneParam(low=0.001, high=10.0, log=True),
    }


def __getattr__(name: str):
    if name == "DEFAULT_SPACE":  # built on first use: config.py imports this module
        return _default_space()
    raise AttributeError(name)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _model_check(name: str, value: Any, what: str) -> None:
    """Raise ValueError when ``value`` is not a valid ``model.<name>``."""
    from pydantic import ValidationError

    from toolkit.config import ModelConfig

    try:
        ModelConfig.model_validate({name: value})
    except ValidationError as err:
        reason = err.errors()[0]["msg"]
        raise ValueError(f"parameter {name!r}: {what}={value!r} is not allowed for "
                         f"model.{name} ({reason})") from None


def check_param(name: str, p) -> None:
    """Validate one dimension; ValueError naming the parameter, the bad value and the rule."""
    if name not in TUNABLE:
        raise ValueError(f"unknown parameter {name!r}; allowed: {', '.join(TUNABLE)}")
    has_range = p.low is not None or p.high is not None
    if p.choices is not None:
        if has_range:
            raise ValueError(f"parameter {name!r} sets both a range (low/high) and choices; "
                             "give one of them")
        if p.log or p.int:
            raise ValueError(f"parameter {name!r}: log and int apply to a range, not to choices")
        if len(p.choices) == 0:
            raise ValueError(f"parameter {name!r} has an empty list of choices")
        keys = [json.dumps(c, sort_keys=True) for c in p.choices]
        if len(set(keys)) != len(keys):
            raise ValueError(f"parameter {name!r} repeats a choice: {list(p.choices)!r}")
        for c in p.choices:
            if name in _BOOL_FIELDS and not isinstance(c, bool):
                raise ValueError(f"parameter {name!r}: choice {c!r} is not allowed; "
                                 "allowed: true, false")
            if name in _INT_FIELDS and (isinstance(c, bool) or not isinstance(c, int)):
                raise ValueError(f"parameter {name!r} takes whole numbers, got choice {c!r}")
            _model_check(name, c, "choice")
        return
    if not has_range:
        raise ValueError(f"parameter {name!r} needs a range (low and high) or choices")
    if name in _BOOL_FIELDS:
        raise ValueError(f"parameter {name!r} takes choices only (true, false), not a range")
    if p.low is None or p.high is None:
        raise ValueError(f"parameter {name!r} needs both low and high, got low={p.low!r}, "
                         f"high={p.high!r}")
    if not (math.isfinite(p.low) and math.isfinite(p.high)):
        raise ValueError(f"parameter {name!r}: low and high must be finite numbers")
    if p.low >= p.high:
        raise ValueError(f"parameter {name!r} has an empty range: low={_num(p.low)} is not "
                         f"below high={_num(p.high)}")
    if p.log and p.low <= 0:
        raise ValueError(f"parameter {name!r} is on a log scale, so low must be above 0, "
                         f"got low={_num(p.low)}")
    if name in _INT_FIELDS or p.int:
        for what, v in (("low", p.low), ("high", p.high)):
            if not float(v).is_integer():
                raise ValueError(f"parameter {name!r} takes whole numbers, got {what}={v!r}")
    for what, v in (("low", p.low), ("high", p.high)):
        _model_check(name, int(v) if name in _INT_FIELDS else v, what)


def check_space(space: Mapping[str, Any]) -> None:
    """Validate every dimension of ``space`` (an empty space means :data:`DEFAULT_SPACE`)."""
    for name, p in space.items():
        check_param(name, p)


def check_objectives(objectives: tuple[str, ...]) -> None:
    if len(objectives) == 0:
        raise ValueError(f"objectives is empty; name one or two of: {', '.join(OBJECTIVES)}")
    for o in objectives:
        if o not in OBJECTIVES:
            raise ValueError(f"unknown objective {o!r}; allowed: {', '.join(OBJECTIVES)}")
    if len(set(objectives)) != len(objectives):
        raise ValueError(f"objectives repeat a name: {list(objectives)!r}")


def check_pareto_pick(objectives: tuple[str, ...], pick: str) -> None:
    """``best_explain`` needs an explanation objective, ``best_auc`` an accuracy one."""
    if len(objectives) < 2:
        return
    explain = [o for o in objectives if OBJECTIVES[o].explain]
    if pick == "best_explain" and not explain:
        raise ValueError(f"pareto_pick 'best_explain' needs an explanation objective "
                         f"(val_explain_*); objectives are {list(objectives)!r}")
    if pick == "best_auc" and len(explain) == len(objectives):
        raise ValueError(f"pareto_pick 'best_auc' needs an accuracy objective (val_auc, "
                         f"val_ks, ...); objectives are {list(objectives)!r}")


def resolve_space(space: Mapping[str, Any] | None) -> dict[str, Any]:
    """The space a study searches: ``space``, or :data:`DEFAULT_SPACE` when it is empty."""
    return dict(space) if space else _default_space()


def kind(name: str, p) -> str:
    if p.choices is not None:
        return "categorical"
    return "int" if (name in _INT_FIELDS or p.int) else "float"


def signature(space: Mapping[str, Any]) -> dict[str, dict]:
    """A JSON-able description of the space, stored with a study to detect a changed space."""
    out = {}
    for name in sorted(space):
        p = space[name]
        k = kind(name, p)
        if k == "categorical":
            out[name] = {"kind": k, "choices": list(p.choices)}
        else:
            cast = int if k == "int" else float
            out[name] = {"kind": k, "low": cast(p.low), "high": cast(p.high), "log": bool(p.log)}
    return json.loads(json.dumps(out))


def describe(sig: Mapping[str, Any] | None) -> str:
    """``2..8 (int)``, ``0.02..0.3 (float, log)``, ``choices [true, false]`` or ``absent``."""
    if sig is None:
        return "absent"
    if sig["kind"] == "categorical":
        return f"choices {json.dumps(sig['choices'])}"
    scale = ", log" if sig.get("log") else ""
    return f"{_num(sig['low'])}..{_num(sig['high'])} ({sig['kind']}{scale})"


def space_differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """``["max_depth: study 2..8 (int), config 3..8 (int)", ...]`` for every differing name."""
    out = []
    for name in sorted(set(stored) | set(wanted)):
        a, b = stored.get(name), wanted.get(name)
        if a != b:
            out.append(f"{name}: study {describe(a)}, config {describe(b)}")
    return out


def distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna distributions of the space, by parameter name."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for name, p in space.items():
        k = kind(name, p)
        if k == "categorical":
            out[name] = CategoricalDistribution(list(p.choices))
        elif k == "int":
            out[name] = IntDistribution(int(p.low), int(p.high), log=p.log)
        else:
            out[name] = FloatDistribution(float(p.low), float(p.high), log=p.log)
    return out


def suggest(trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """Ask the trial for one value of every dimension; returns ``{field: value}``."""
    out = {}
    for name in sorted(space):
        p = space[name]
        k = kind(name, p)
        if k == "categorical":
            out[name] = trial.suggest_categorical(name, list(p.choices))
        elif k == "int":
            out[name] = trial.suggest_int(name, int(p.low), int(p.high), log=p.log)
        else:
            out[name] = trial.suggest_float(name, float(p.low), float(p.high), log=p.log)
    return out


def model_config(base, params: Mapping[str, Any], **fixed: Any):
    """``base`` (a ModelConfig) with ``params`` and ``fixed`` applied, validated again."""
    from toolkit.config import ModelConfig

    data = base.model_dump()
    data.update({k: (int(v) if k in _INT_FIELDS else v) for k, v in params.items()})
    data.update(fixed)
    return ModelConfig.model_validate(data)
