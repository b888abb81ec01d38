"""The experiment-file reference (every key, default and meaning) that the README embeds."""

from __future__ import annotations

import json

from pydantic import BaseModel

from toolkit.config.experiment import ExperimentConfig


def reference_markdown() -> str:
    """Every experiment-file key with its default and meaning, as Markdown tables.

    The README embeds this text; a test checks that the two agree.
    """
    out = []
    for section, field in ExperimentConfig.model_fields.items():
        model = _model_of(field.annotation)
        out.extend(_section(section, model))
        for name, f in model.model_fields.items():
            if (section, f.alias or name) in NESTED:
                out.extend(_section(f"{section}.{f.alias or name}", _model_of(f.annotation)))
    return "\n".join(out).rstrip() + "\n"


# Sub-tables documented with their own key table (the rest are shown as one row).
NESTED = {("data", "schema")}


def _model_of(annotation) -> type[BaseModel]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type)]
    return next(a for a in args if issubclass(a, BaseModel))


def _section(name: str, model: type[BaseModel]) -> list[str]:
    doc = (model.__doc__ or "").strip().splitlines()[0]
    out = [f"### [{name}]\n\n{doc}\n", "| key | default | meaning |\n| --- | --- | --- |"]
    for field_name, f in model.model_fields.items():
        key = f.alias or field_name
        if f.is_required():
            text = "required"
        else:
            default = f.default_factory() if f.default_factory is not None else f.default
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            elif isinstance(default, tuple):
                default = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d
                           for d in default]
            text = json.dumps(default, ensure_ascii=False) if default is not None else "none"
            if len(text) > 60:
                text = "see toolkit/config/sections.py"
        desc = (f.description or "").replace("|", "/")
        out.append(f"| `{key}` | `{text}` | {desc} |")
    out.append("")
    return out

