"""A ``[tune]`` search space as Optuna sees it: distributions, suggestions, signatures.

The space itself and its validation are :mod:`toolkit.config.tune`; Optuna is imported only
by :func:`distributions` and :func:`suggest`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from toolkit.config import ModelConfig
from toolkit.config.tune import INT_FIELDS, default_space, plain_number


def resolve_space(space: Mapping[str, Any] | None) -> dict[str, Any]:
    """The space a study searches: ``space``, or the default space when it is empty."""
    return dict(space) if space else default_space()


def kind(name: str, p) -> str:
    if p.choices is not None:
        return "categorical"
    return "int" if (name in INT_FIELDS or p.int) else "float"


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
    return f"{plain_number(sig['low'])}..{plain_number(sig['high'])} ({sig['kind']}{scale})"


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
    data = base.model_dump()
    data.update({k: (int(v) if k in INT_FIELDS else v) for k, v in params.items()})
    data.update(fixed)
    return ModelConfig.model_validate(data)
