"""Checks that keep input from escaping where it belongs: safe names, secrets kept out of
logs and messages, and store URLs and folders checked before anything is written.

Everything here is static: it reads the file system and imports a database driver at most,
and never creates a file, so that a refusal leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from toolkit.errors import InputError

# -- safe names ------------------------------------------------------------------------------

NAME_RULE = ("1 to 100 letters (A-Z, a-z), digits, '.', '_' or '-', starting with a letter or "
             "digit")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def is_safe_name(value: Any) -> bool:
    """A single path component from a safe alphabet: no separator, no ``..``, no hidden name."""
    return isinstance(value, str) and _SAFE_NAME.fullmatch(value) is not None


def check_name(value: Any, what: str) -> str:
    """``value`` if it is a safe name, else InputError naming ``what``, the value and the rule.

    Names of datasets, registered models, studies, MLflow experiments and experiment files
    become folder and file names, so ``../x`` or ``/abs`` must never reach a path.
    """
    if not is_safe_name(value):
        raise InputError(f"{what} {value!r} is not a safe name; it becomes a folder or file "
                         f"name, so use {NAME_RULE}")
    return value


# -- secrets ---------------------------------------------------------------------------------

# scheme://userinfo@ : greedy up to the last '@' of the authority, so an unescaped '@' in a
# password is hidden too.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^/?#\s]*)@")
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&](?:password|passwd|pwd|token|access_token|secret|api_key)=)[^&#\s]*",
    re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the secrets of every URL in it hidden: ``user:password@`` becomes
    ``user:***@``, the bare userinfo of a web URL (``https://token@host``, a token) becomes
    ``***@``, and password and token query parameters become ``***``.  A database URL's
    bare user name (``postgresql://optuna@host/db``, the password in PGPASSWORD) is kept:
    it names the account, not its secret.  Safe to print, log as a param or tag, or store.
    """

    def hide(m: re.Match) -> str:
        user, colon, _ = m["info"].partition(":")
        if colon:
            return f"{m['scheme']}{user}:***@"
        web = m["scheme"].lower().startswith(("http", "ws", "ftp"))
        return f"{m['scheme']}***@" if web else m[0]

    return _QUERY_SECRET.sub(r"\g<key>***", _USERINFO.sub(hide, text))


def redact_value(value: Any) -> Any:
    """:func:`redact` applied to every string inside dicts, lists and tuples."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


# -- folders ---------------------------------------------------------------------------------

def existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def check_writable(path: str | Path, what: str) -> None:
    """Refuse (InputError) a folder ``path`` that cannot be created or written to.

    A real probe (a temporary folder made and removed in the nearest existing ancestor):
    ``os.access`` says yes to root even on a read-only mount.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {str(path)!r} is a file, not a folder")
    _probe(path, existing_ancestor(path), what)


def _probe(path: Path, parent: Path, what: str) -> None:
    """Refuse ``path`` (InputError) unless ``parent``, its nearest existing ancestor, is a
    folder this process can really write in."""
    if not parent.is_dir():
        raise InputError(f"{what} {str(path)!r} cannot be created: {str(parent)!r} is a file")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=parent))
    except OSError as err:
        raise InputError(f"{what} {str(path)!r} is not writable ({str(parent)!r}: "
                         f"{err.strerror})") from None


def check_file_target(path: str | Path, what: str) -> None:
    """Refuse a file to be written at ``path`` that is a folder or whose folder cannot be
    created or written to."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {str(path)!r} is a folder; give a file name")
    _probe(path, existing_ancestor(path.parent), what)


# -- stores ----------------------------------------------------------------------------------

TRACKING_SCHEMES = ("sqlite:///", "http://", "https://", "postgresql://", "postgresql+",
                    "mysql://", "mysql+", "mssql://", "mssql+", "databricks")
SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_path(url: str) -> Path | None:
    """The database file of an ``sqlite:///path`` URL; None for every other URL and for
    in-memory or URI-style sqlite URLs (which :func:`check_sqlite` refuses)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def check_sqlite(url: str, prefix: str, *, suffix: str = "", must_exist: bool = False,
                 create_folder: bool = True, missing: str | None = None) -> Path:
    """Check an sqlite URL before it is opened; returns its file.

    prefix/suffix: the message around the problem (``tracking URI '...' cannot be used``).
    Refused: in-memory or file-less URLs (a run or study in memory is lost when the process
    ends), a folder, a file that is not an SQLite database, a file or folder that cannot be
    written, a missing file when ``must_exist`` (message ``missing``), a missing folder
    unless ``create_folder``.
    """
    path = sqlite_path(url)
    if path is None:
        raise InputError(f"{prefix}: it names no database file (an in-memory store loses "
                         f"everything when the command ends); use sqlite:///path/to/file.db"
                         f"{suffix}")
    if path.is_dir():
        raise InputError(f"{prefix}: {str(path)!r} is a folder, not a database file{suffix}")
    if path.exists():
        try:
            with open(path, "rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except OSError as err:
            raise InputError(f"{prefix}: {str(path)!r} cannot be read ({err.strerror})"
                             f"{suffix}") from None
        if head and head != SQLITE_HEADER:
            raise InputError(f"{prefix}: {str(path)!r} is not an SQLite database{suffix}")
        try:  # opened for update, not written: refuses read-only files and mounts
            with open(path, "r+b"):
                pass
        except OSError as err:
            raise InputError(f"{prefix}: {str(path)!r} is not writable ({err.strerror})"
                             f"{suffix}") from None
    elif must_exist:
        raise InputError(missing or f"{prefix}: {str(path)!r} does not exist{suffix}")
    folder = path.parent
    if not folder.exists() and not create_folder:
        raise InputError(f"{prefix}: its folder {str(folder)!r} does not exist{suffix}")
    parent = existing_ancestor(folder)
    if not parent.is_dir():
        raise InputError(f"{prefix}: its folder cannot be created: {str(parent)!r} is a file"
                         f"{suffix}")
    try:  # sqlite writes a journal beside the database
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=parent))
    except OSError as err:
        raise InputError(f"{prefix}: {str(parent)!r} is not writable ({err.strerror})"
                         f"{suffix}") from None
    return path


# the module SQLAlchemy imports -> the package that provides it
_DRIVER_PACKAGES = {"psycopg": "'psycopg[binary]'", "psycopg2": "psycopg2-binary",
                    "MySQLdb": "mysqlclient", "pymysql": "pymysql", "pyodbc": "pyodbc",
                    "pymssql": "pymssql"}


def check_driver(url: str, prefix: str, *, suffix: str = "") -> None:
    """Refuse a database URL whose SQLAlchemy dialect or driver is not installed."""
    try:
        from sqlalchemy.engine import make_url

        make_url(url).get_dialect().import_dbapi()
    except ModuleNotFoundError as err:
        package = _DRIVER_PACKAGES.get(err.name or "", err.name)
        raise InputError(f"{prefix} (its driver {err.name!r} is not installed; install it "
                         f"into the environment: uv pip install {package}){suffix}") from None
    except Exception as err:  # sqlalchemy's own classes: bad URL, unknown dialect
        raise InputError(f"{prefix} ({redact(first_line(err))}){suffix}") from None


def first_line(err: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its class name when it has none)."""
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:limit]


def check_tracking_uri(uri: str, *, must_exist: bool = False) -> None:
    """Refuse a tracking URI that MLflow would misread or that cannot work, before anything
    is created: unsupported schemes (a bare path selects MLflow's deprecated file store),
    in-memory or broken sqlite URLs, missing drivers, databricks without credentials."""
    shown = redact(uri)
    if not uri.startswith(TRACKING_SCHEMES):
        raise InputError(
            f"tracking URI {shown!r} is not supported; use sqlite:///path/to/mlflow.db, "
            "http(s)://host:port of an mlflow server, or a database URL (postgresql://...)")
    prefix = f"tracking URI {shown!r} cannot be used"
    if uri.startswith("sqlite:"):
        check_sqlite(uri, prefix, must_exist=must_exist, missing=(
            f"no tracking store at {str(sqlite_path(uri))!r}; run an experiment first or "
            "pass --tracking-uri"))
    elif uri.startswith("databricks"):
        if not (os.environ.get("DATABRICKS_HOST")
                or (Path.home() / ".databrickscfg").is_file()):
            raise InputError(f"{prefix}: no Databricks credentials; set DATABRICKS_HOST and "
                             "DATABRICKS_TOKEN, or create ~/.databrickscfg")
    elif not uri.startswith(("http://", "https://")):
        check_driver(uri, prefix)


STORAGE_HELP = ("a database URL Optuna accepts, e.g. sqlite:///path/to/optuna.db or "
                "postgresql://user@host/db with the password in PGPASSWORD")


def check_storage_url(url: str) -> None:
    """Refuse an Optuna storage URL before it is opened (nothing is created)."""
    shown = redact(url)
    suffix = f"; allowed: {STORAGE_HELP}"
    if "://" not in url:
        raise InputError(f"storage {shown!r} is not a database URL{suffix}")
    prefix = f"storage {shown!r} cannot be opened"
    if url.startswith("sqlite:"):
        check_sqlite(url, prefix, suffix=suffix, create_folder=False)
    else:
        check_driver(url, prefix, suffix=suffix)
