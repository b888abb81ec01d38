"""Progress of a workflow as callbacks; the command line draws them, the default draws nothing.

A workflow calls ``start(stage)`` and ``finish(stage)`` around each stage, ``step(label)``
when a stage moves to a new piece of work whose count starts again (the explanation stage
explains with several explainers), and ``advance(done, total)`` as work gets done: boosting
rounds while training, rows while explaining, users while generating.
"""

from __future__ import annotations


class Hooks:
    """Progress callbacks that do nothing; subclass and override what you show."""

    def start(self, stage: str) -> None:
        pass

    def step(self, label: str) -> None:
        pass

    def advance(self, done: int, total: int) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


SILENT = Hooks()
