"""The CLI reference as Markdown, generated from the commands themselves (README embeds it)."""

from __future__ import annotations

import click
import typer


def cli_markdown() -> str:
    """One section per command, in the order of `toolkit --help`: its usage line, first help
    paragraph and options."""
    from toolkit.cli import app

    group = typer.main.get_command(app)
    ctx = click.Context(group, info_name="toolkit")
    out = []
    for name in group.list_commands(ctx):  # the order of --help
        cmd = group.get_command(ctx, name)
        args = [p.name.upper() for p in cmd.params if p.param_type_name == "argument"]
        usage = " ".join(["[OPTIONS]", *args])
        first = (cmd.help or "").strip().split("\n\n")[0].replace("\n", " ")
        out.append(f"#### `toolkit {name} {usage}`\n\n{first}\n")
        rows = []
        for p in cmd.params:
            if p.param_type_name == "argument":
                rows.append(f"| `{p.name.upper()}` | argument | {_help(p)} |")
            elif p.name != "help":
                flag = ", ".join(f"`{o}`" for o in p.opts)
                default = "" if p.default in (None, [], (), False) or p.is_flag else \
                    f" (default: `{p.default}`)"
                rows.append(f"| {flag} | option | {_help(p)}{default} |")
        if rows:
            out.append("| name | kind | meaning |\n| --- | --- | --- |")
            out.extend(rows)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _help(p) -> str:
    return (getattr(p, "help", None) or "").replace("|", "/").replace("\n", " ")


BLOCKS = {"config-reference": "toolkit.config:reference_markdown",
          "cli-reference": "toolkit.cli.reference:cli_markdown"}


def render_blocks(text: str) -> str:
    """``text`` with every generated block between its BEGIN/END markers brought up to date."""
    import importlib
    import re

    for name, target in BLOCKS.items():
        module, fn = target.split(":")
        body = getattr(importlib.import_module(module), fn)()
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README has no <!-- BEGIN {name} --> ... <!-- END {name} --> "
                             "block")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


if __name__ == "__main__":
    import sys
    from pathlib import Path

    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    readme.write_text(render_blocks(readme.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated generated blocks in {readme}")
