"""The zero-limit mechanisms, declared once: name, precedence, the mask each fires on, labels.

A row's decision is the first mechanism in :data:`MECHANISMS` whose mask fires, else
``approved``.  Precedence matters: a monitoring rule freezes a line whatever the score, and a
PD that fails the normal cutoff is a score refusal even in a stressed month.

To add a mechanism: declare it here (in precedence order), add its name to
:data:`toolkit.vocab.MECHANISMS`, and give it a lead reason in
:data:`toolkit.explain.reasons.LEAD_REASONS` if its refusal needs one (a mechanism without
one is explained by its score reasons alone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.vocab import APPROVED
from toolkit.vocab import MECHANISMS as NAMES


@dataclass(frozen=True)
class Signals:
    """What a mechanism may look at, one entry per row (all arrays of shape (n,)).

    pd: probability of default; cutoff: the PD cutoff in force that month;
    normal_cutoff: the cutoff in normal times (a number, or one per row); rule: the first
    monitoring rule that fired ("" when none); stressed: the month is in the stressed regime;
    features: the rows' point-in-time features (a DataFrame or a dict of arrays), for a
    mechanism that reads them directly.
    """

    pd: np.ndarray
    cutoff: np.ndarray
    normal_cutoff: float | np.ndarray
    rule: np.ndarray
    stressed: np.ndarray
    features: Any


@dataclass(frozen=True)
class Mechanism:
    """One cause of a zero limit: ``fires(signals)`` is True on the rows it refuses."""

    name: str
    fires: Callable[[Signals], np.ndarray]
    label: Mapping[str, str]


MECHANISMS: tuple[Mechanism, ...] = (
    Mechanism("monitoring", lambda s: s.rule != "",
              {"en": "real-time monitoring", "zh": "实时监控"}),
    Mechanism("score", lambda s: s.pd >= s.normal_cutoff,
              {"en": "score", "zh": "评分"}),
    Mechanism("policy", lambda s: s.pd >= s.cutoff,
              {"en": "policy tightening", "zh": "策略收紧"}),
)
BY_NAME = {m.name: m for m in MECHANISMS}
if tuple(BY_NAME) != NAMES:  # the vocabulary lets config validate without this layer
    raise RuntimeError(f"toolkit.vocab.MECHANISMS {NAMES} differs from the declared "
                       f"mechanisms {tuple(BY_NAME)}")


def assign(signals: Signals) -> np.ndarray:
    """The mechanism of each row (object array): the first that fires, else ``approved``."""
    out = np.full(len(signals.pd), APPROVED, dtype=object)
    undecided = np.ones(len(signals.pd), dtype=bool)
    for m in MECHANISMS:
        hit = undecided & np.asarray(m.fires(signals), dtype=bool)
        out[hit] = m.name
        undecided &= ~hit
    return out


def label(name: str, lang: str = "en") -> str:
    """A mechanism's readable name (``approved`` and unknown names come back as they are)."""
    m = BY_NAME.get(name)
    return m.label.get(lang, name) if m else name
