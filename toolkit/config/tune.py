"""The ``[tune]`` section: search-space dimensions, objectives and their validation.

A space maps :class:`~toolkit.config.ModelConfig` field names to a :class:`TuneParam`: a
numeric range (``low``, ``high``, optional ``log`` and ``int``) or a list of ``choices``.
Validation is pure Python so that an experiment file is checked while it loads; the Optuna
mapping of a space lives in :mod:`toolkit.tune.space`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from toolkit.config.sections import ModelConfig, _Strict, safe_name

# ModelConfig fields a search may set.  seed, nthread and device are left out on purpose:
# they change how a model is computed, not which model is good.
TUNABLE = ("n_estimators", "learning_rate", "max_depth", "min_child_weight", "subsample",
           "colsample_bytree", "reg_lambda", "reg_alpha", "early_stopping_rounds", "monotone")
INT_FIELDS = ("n_estimators", "max_depth", "early_stopping_rounds")
BOOL_FIELDS = ("monotone",)


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
    Objective("val_explain_top1_tolerant_accuracy", "maximize",
              "explain_top1_tolerant_accuracy_valid", explain=True),
    Objective("val_explain_top1_clear_accuracy", "maximize",
              "explain_top1_clear_accuracy_valid", explain=True),
    Objective("val_explain_top3_group_recall", "maximize",
              "explain_top3_group_recall_valid", explain=True),
    Objective("val_explain_group_rank_corr", "maximize",
              "explain_group_rank_corr_valid", explain=True),
)}


def default_space() -> dict[str, TuneParam]:
    """The space searched when ``[tune.space]`` is empty."""
    return {
        "learning_rate": TuneParam(low=0.02, high=0.3, log=True),
        "max_depth": TuneParam(low=2, high=8, int=True),
        "min_child_weight": TuneParam(low=1.0, high=100.0, log=True),
        "subsample": TuneParam(low=0.5, high=1.0),
        "colsample_bytree": TuneParam(low=0.4, high=1.0),
        "reg_lambda": TuneParam(low=0.01, high=30.0, log=True),
        "reg_alpha": TuneParam(low=0.001, high=10.0, log=True),
    }


def plain_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _model_check(name: str, value: Any, what: str) -> None:
    """Raise ValueError when ``value`` is not a valid ``model.<name>``."""
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
            if name in BOOL_FIELDS and not isinstance(c, bool):
                raise ValueError(f"parameter {name!r}: choice {c!r} is not allowed; "
                                 "allowed: true, false")
            if name in INT_FIELDS and (isinstance(c, bool) or not isinstance(c, int)):
                raise ValueError(f"parameter {name!r} takes whole numbers, got choice {c!r}")
            _model_check(name, c, "choice")
        return
    if not has_range:
        raise ValueError(f"parameter {name!r} needs a range (low and high) or choices")
    if name in BOOL_FIELDS:
        raise ValueError(f"parameter {name!r} takes choices only (true, false), not a range")
    if p.low is None or p.high is None:
        raise ValueError(f"parameter {name!r} needs both low and high, got low={p.low!r}, "
                         f"high={p.high!r}")
    if not (math.isfinite(p.low) and math.isfinite(p.high)):
        raise ValueError(f"parameter {name!r}: low and high must be finite numbers")
    if p.low >= p.high:
        raise ValueError(f"parameter {name!r} has an empty range: low={plain_number(p.low)} is not "
                         f"below high={plain_number(p.high)}")
    if p.log and p.low <= 0:
        raise ValueError(f"parameter {name!r} is on a log scale, so low must be above 0, "
                         f"got low={plain_number(p.low)}")
    if name in INT_FIELDS or p.int:
        for what, v in (("low", p.low), ("high", p.high)):
            if not float(v).is_integer():
                raise ValueError(f"parameter {name!r} takes whole numbers, got {what}={v!r}")
    for what, v in (("low", p.low), ("high", p.high)):
        _model_check(name, int(v) if name in INT_FIELDS else v, what)


def check_space(space: Mapping[str, Any]) -> None:
    """Validate every dimension of ``space`` (an empty space means :func:`default_space`)."""
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


class TuneParam(_Strict):
    """One search-space dimension: a numeric range (optionally log) or a list of choices."""

    low: float | None = Field(None, description="lower end of the range")
    high: float | None = Field(None, description="upper end of the range (above low)")
    log: bool = Field(False, description="sample the range on a log scale (low > 0)")
    int: bool = Field(False, description="whole numbers only (implied for integer settings)")
    choices: tuple[Any, ...] | None = Field(None, description="a list of values instead of a range")


class TuneConfig(_Strict):
    """Optuna search. Present in an experiment file only when it tunes."""

    trials: int = Field(20, ge=1, description="finished (complete or pruned) trials in the study")
    timeout: float | None = Field(None, gt=0, description="stop a worker after this many seconds")
    workers: int = Field(1, ge=1, description="parallel worker processes on one study")
    storage: str | None = Field(
        None, description="Optuna database URL; none = sqlite optuna.db beside mlflow.db")
    study_name: str | None = Field(None, description="study name; none = the experiment's stem")
    objectives: tuple[str, ...] = Field(
        ("val_auc",), description="val_auc, or val_auc and an explanation objective such as "
        "val_explain_top1_tolerant_accuracy (multi-objective)")
    pruner: Literal["median", "none"] = Field("median", description="prune unpromising trials")
    pareto_pick: Literal["best_auc", "best_explain", "balanced"] = Field(
        "balanced", description="which Pareto-front trial a multi-objective study refits")
    space: dict[str, TuneParam] = Field(
        default_factory=dict, description="model.<field> = {low, high, log, int} or {choices}; "
        "empty = a default space")

    @field_validator("space")
    @classmethod
    def _valid_space(cls, v: dict[str, TuneParam]) -> dict[str, TuneParam]:
        check_space(v)
        return v

    @field_validator("objectives")
    @classmethod
    def _valid_objectives(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        check_objectives(v)
        return v

    @field_validator("storage", "study_name")
    @classmethod
    def _not_blank(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty; leave it out for the default")
        return v

    @field_validator("study_name")
    @classmethod
    def _safe_study_name(cls, v: str | None) -> str | None:
        return v if v is None else safe_name(v)

    @model_validator(mode="after")
    def _valid_pick(self) -> TuneConfig:
        check_pareto_pick(self.objectives, self.pareto_pick)
        return self


