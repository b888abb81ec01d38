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
        model = field.annotation
        args = [a for a in getattr(model, "__args__", ()) if isinstance(a, type)]
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            model = next(a for a in args if issubclass(a, BaseModel))
        doc = (model.__doc__ or "").strip().splitlines()[0]
        out.append(f"### [{section}]\n\n{doc}\n")
        out.append("| key | default | meaning |\n| --- | --- | --- |")
        for name, f in model.model_fields.items():
            key = f.alias or name
            if f.default_factory is not None:
                default = f.default_factory()
            else:
                default = f.default
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
    return "\n".join(out).rstrip() + "\n"

