"""Reading an experiment: TOML files and ``--set`` overrides over the defaults, validated.

An experiment file in ``experiments/`` contains only the keys that differ from the
defaults.  :func:`load_config` merges it over them and validates the result; unknown keys and
wrong types raise :class:`~toolkit.errors.ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from toolkit.config.experiment import ExperimentConfig
from toolkit.errors import ConfigError


def _format_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        kind = e["type"]
        if kind == "extra_forbidden":
            parent = ".".join(str(p) for p in e["loc"][:-1])
            lines.append(
                f"unknown config key {loc!r}; allowed keys"
                f"{' in [' + parent + ']' if parent else ''}: {_allowed_keys(e['loc'][:-1])}"
            )
        elif kind in {"int_parsing", "int_type", "float_parsing", "float_type", "bool_parsing",
                      "bool_type", "string_type", "int_from_float"}:
            expected = kind.split("_")[0]
            expected = {"string": "str", "bool": "bool", "float": "float", "int": "int"}[expected]
            lines.append(
                f"config key {loc!r} must be of type {expected}, got {e.get('input')!r}"
            )
        elif kind in {"model_type", "dict_type", "model_attributes_type"}:
            lines.append(f"config key {loc!r} must be a table of keys ([{loc}]), "
                         f"got {e.get('input')!r}")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            value = e.get("input")
            if kind != "value_error" and isinstance(value, str | int | float | bool):
                msg += f", got {value!r}"
            lines.append(f"config key {loc!r}: {msg}" if loc else msg)
    return f"{source}: " + "; ".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> str:
    model: Any = ExperimentConfig
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        # the error's location spells a field by its alias ([data.schema] is table_schema)
        field = fields.get(part) or next(
            (f for f in fields.values() if f.alias == part), None)
        if field is None:
            break
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [ann, *args]
        for c in args:
            candidates.extend(getattr(c, "__args__", ()))
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)),
                   None)
        if nxt is None:
            break
        model = nxt
    names = []
    for name, f in model.model_fields.items():
        names.append(f.alias or name)
    return ", ".join(names)


def build_config(overrides: dict[str, Any] | None = None, *,
                 source: str = "config") -> ExperimentConfig:
    """Validate ``overrides`` (nested dict, as read from TOML) over the defaults."""
    try:
        return ExperimentConfig.model_validate(overrides or {})
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from None


def parse_sets(sets: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["world.n_users=3000", 'explain.lang="zh"']`` as a nested override dict.

    Values are TOML literals (numbers, booleans, quoted strings, arrays); a bare word that
    is not valid TOML is taken as a string.
    """
    tree: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {item!r} is not of the form section.key=value")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        node = tree
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r} conflicts with another --set of {part!r}")
        node[last] = value
    return tree


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _table_beside(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``[data] table`` of an experiment file names a file relative to that file's folder
    (as any path written in a file does); it becomes relative to the working folder here.
    A ``--set data.table=...`` stays relative to the working folder."""
    section = data.get("data")
    table = section.get("table") if isinstance(section, dict) else None
    if not isinstance(table, str) or Path(table).is_absolute():
        return data
    return {**data, "data": {**section, "table": os.path.normpath(folder / table)}}


def load_config(path: str | Path | None,
                sets: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read an experiment TOML file (overrides only), apply ``--set`` overrides, validate."""
    data: dict[str, Any] = {}
    source = "config"
    if path is not None:
        path = Path(path)
        source = str(path)
        if path.is_dir():
            raise ConfigError(f"experiment file {str(path)!r} is a folder; give a .toml file")
        if not path.is_file():
            raise ConfigError(f"experiment file {str(path)!r} does not exist")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not valid UTF-8 text (byte {err.start}); save the "
                              "experiment file as UTF-8") from None
        except OSError as err:
            raise ConfigError(f"experiment file {str(path)!r} cannot be read "
                              f"({err.strerror})") from None
        data = _table_beside(data, path.parent)
    if not sets:
        return build_config(data, source=source)
    build_config(data, source=source)  # so that a mistake in the file is blamed on the file
    return build_config(_deep_merge(data, parse_sets(sets)),
                        source="--set " + " ".join(sets))


def with_overrides(cfg: ExperimentConfig, **sections: dict[str, Any]) -> ExperimentConfig:
    """A copy of ``cfg`` with keys of some sections replaced, validated again."""
    data = cfg.model_dump(mode="json", by_alias=True)
    for section, values in sections.items():
        data[section] = {**(data.get(section) or {}), **values}
    return build_config(data)




# How an experiment file states its question in its opening comment, per language: the
# marker, the mark that ends the question, and how wrapped comment lines join again.
_QUESTION = {"en": ("Research question:", "?", " "), "zh": ("研究问题：", "？", "")}


def research_question(path: str | Path | None) -> dict[str, str]:
    """The research question an experiment file states in its opening comment, by language:
    ``{"en": ..., "zh": ...}`` with the text from ``Research question:`` (``研究问题：``) to
    the first question mark, on one line; a language the file does not state is left out
    (an empty dict for a missing file)."""
    if path is None or not Path(path).is_file():
        return {}
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    out = {}
    for lang, (marker, end, sep) in _QUESTION.items():
        start = next((i for i, line in enumerate(lines) if marker in line), None)
        if start is None:
            continue
        text = sep.join([lines[start].split(marker, 1)[1].strip(), *lines[start + 1:]])
        stop = text.find(end)
        text = text[: stop + 1] if stop >= 0 else text
        out[lang] = text[:1].upper() + text[1:]
    return out
