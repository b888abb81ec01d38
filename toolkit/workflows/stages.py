"""The stages of a workflow: timed, reported to progress hooks
(:class:`toolkit.workflows.hooks.Hooks`), blamed when they fail.

A stage that raises (an error, Ctrl-C, SIGTERM) tags each run it was given with
``toolkit.failed_stage``; stages nest (the explanation runs inside training), and the
innermost stage is the one to blame.  Entering a stage is also a fault-injection point
(:func:`toolkit.processes.hold`) named after it, so the fault tests can stop a command at a
known stage.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from toolkit.processes import hold
from toolkit.tracking import Run
from toolkit.workflows.hooks import Hooks


@contextmanager
def stage(name: str, *runs: Run, hooks: Hooks | None = None,
          timings: dict[str, float] | None = None) -> Iterator[None]:
    """Run a stage: ``timings["stage_<name>_seconds"]`` on success; on failure the tag
    ``toolkit.failed_stage`` = ``name`` on every run in ``runs`` not yet blamed."""
    if hooks is not None:
        hooks.start(name)
    t0 = time.perf_counter()
    try:
        hold(name)
        yield
    except BaseException as err:
        blamed = getattr(err, "toolkit_blamed", None)
        if blamed is None:
            blamed = set()
            err.toolkit_blamed = blamed
        for run in runs:
            if run.run_id and run.run_id not in blamed:
                blamed.add(run.run_id)
                try:
                    run.set_tags({"toolkit.failed_stage": name})
                except Exception:  # the store may be what failed; the error still counts
                    pass
        raise
    if timings is not None:
        timings[f"stage_{name}_seconds"] = time.perf_counter() - t0
    if hooks is not None:
        hooks.finish(name)
