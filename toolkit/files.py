"""The one way the toolkit writes a result: build it beside the target, then rename it in.

A crash, a full disk or an interrupt therefore never leaves a half-written dataset, report
or export where a good result would be: either the old target is untouched or the new one
is complete.  Renames within one folder are atomic on POSIX file systems.

The hidden siblings are named ``.<target>.tmp-<pid>-<host>-<random>`` (and ``.old-`` for a
replaced target set aside), so a later start can tell the leftovers of a process that was
killed (``kill -9``, power loss) from those of one still writing, and remove them
(:func:`sweep`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from toolkit.errors import InputError
from toolkit.processes import alive, hold

_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-(?P<host>[0-9a-f]{6})"
                       r"-[0-9a-f]{8}")


def _host() -> str:
    # a short hash: host names may hold the characters the pattern above splits on
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _tag() -> str:
    return f"{os.getpid()}-{_host()}-{uuid.uuid4().hex[:8]}"


class TargetExists(InputError):
    """Another process created the target while this one was building it."""


@contextmanager
def staged_folder(target: str | Path, *, replace: bool = True) -> Iterator[Path]:
    """Yield an empty hidden sibling folder of ``target``; on success it becomes ``target``.

    replace: an existing ``target`` is replaced as a whole, and only once the new folder is
    complete.  With ``replace=False`` the folder is renamed in only if ``target`` is still
    absent (or an empty folder) at that moment, atomically, so that two writers racing for
    one target cannot silently replace each other; the loser gets :class:`TargetExists`.
    If anything fails, the sibling is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep(target.parent)
    tag = _tag()
    tmp = target.with_name(f".{target.name}.tmp-{tag}")
    tmp.mkdir()
    try:
        yield tmp
        hold(f"write:{target.name}")  # complete but not yet in place: the worst moment to die
        if replace:
            _swap_in(tmp, target, tag)
        else:
            _rename_if_absent(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rename_if_absent(new: Path, target: Path) -> None:
    # rename(2) replaces an empty folder but fails on a non-empty one: exactly "if absent"
    # for a result folder, which is never empty.
    try:
        if target.exists() and not target.is_dir():
            raise FileExistsError(errno.EEXIST, "exists", str(target))
        os.rename(new, target)
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise
        raise TargetExists(f"{str(target)!r} was created by another process while this one "
                           "was writing it; nothing was replaced (pass --overwrite to "
                           "replace it)") from None


def _swap_in(new: Path, target: Path, tag: str) -> None:
    # A folder cannot be renamed over a non-empty one: move the old one aside first, and
    # put it back if the second rename fails.
    if not target.exists():
        try:
            os.rename(new, target)
            return
        except OSError as err:  # another writer got there first: replace it as asked
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
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
    sweep(target.parent)
    tmp = target.with_name(f".{target.name}.tmp-{_tag()}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def leftovers(folder: str | Path) -> list[Path]:
    """Hidden staging siblings in ``folder`` whose writer (a process on this host) is gone."""
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    host = _host()
    out = []
    for p in entries:
        m = _LEFTOVER.fullmatch(p.name)
        if m and m["host"] == host and not alive({"pid": int(m["pid"])}):
            out.append(p)
    return sorted(out)


def sweep(folder: str | Path, *, depth: int = 0) -> list[Path]:
    """Remove the leftovers of dead writers in ``folder`` (and ``depth`` levels below).

    A target set aside (``.old-``) by a writer killed between its two renames is put back
    when the target is missing, so an interrupted ``--overwrite`` never loses the old result.
    A sub-folder left empty by the sweep (the parent a killed writer had created) is
    removed too.  Returns what was removed or restored.
    """
    folder = Path(folder)
    done = []
    for p in leftovers(folder):
        m = _LEFTOVER.fullmatch(p.name)
        target = folder / m["name"]
        try:
            if m["kind"] == "old" and not target.exists():
                os.rename(p, target)
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError:
            continue  # another process swept it first, or it cannot be removed: not ours
        done.append(p)
    if depth > 0 and folder.is_dir():
        for sub in sorted(folder.iterdir()):
            if sub.is_dir() and not sub.is_symlink() and not sub.name.startswith("."):
                found = sweep(sub, depth=depth - 1)
                done += found
                if found and not any(sub.iterdir()):
                    sub.rmdir()
    return done
