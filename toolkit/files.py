"""The one way the toolkit writes a result: build it beside the target, then rename it in.

A crash, a full disk or an interrupt therefore never leaves a half-written dataset, report
or export where a good one would be: either the old target is untouched or the new one is
complete.  Renames within one folder are atomic on POSIX file systems.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _tag() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


@contextmanager
def staged_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty hidden sibling folder of ``target``; on success it replaces ``target``.

    An existing ``target`` is replaced as a whole, and only once the new folder is complete;
    if anything fails, the sibling is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = _tag()
    tmp = target.with_name(f".{target.name}.tmp-{tag}")
    tmp.mkdir()
    try:
        yield tmp
        _swap_in(tmp, target, tag)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(new: Path, target: Path, tag: str) -> None:
    # A folder cannot be renamed over a non-empty one: move the old one aside first, and
    # put it back if the second rename fails.
    if not target.exists():
        os.rename(new, target)
        return
    old = target.with_name(f".{target.name}.old-{tag}")
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_file(target: str | Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``target``; on success it replaces ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{_tag()}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
