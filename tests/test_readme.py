"""The README cannot drift from the code: generated references match, and every command
it shows is a valid command of this toolkit (CI runs the first two for real)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import typer

from toolkit.cli import app
from toolkit.cli.reference import render_blocks

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_generated_references_are_current():
    assert render_blocks(README) == README, (
        "README's generated sections are stale: run "
        "'python3 -m uv run python -m toolkit.cli.reference'")


def _bash_lines():
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _toolkit_invocations():
    calls = []
    for line in _bash_lines():
        for part in line.split("&&"):
            words = shlex.split(part)
            if "toolkit" in words and words[0] in {"python3", "toolkit"}:
                calls.append(words[words.index("toolkit") + 1:])
    return calls


def test_the_two_commands_come_first():
    lines = _bash_lines()
    assert lines[0].endswith("uv run toolkit run experiments/baseline.toml")
    assert lines[1].endswith("uv run pytest")
    # both keep the notebook extras installed: a sync without them would remove JupyterLab
    assert all("uv sync --locked --compile-bytecode --extra notebooks" in line
               for line in lines[:2])
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'readme_command "2\\. run the tests"' in ci
    assert 'readme_command "1\\. run the main job"' in ci


@pytest.mark.parametrize("args", _toolkit_invocations(), ids=lambda a: " ".join(a)[:60])
def test_every_toolkit_command_in_the_readme_parses(args):
    group = typer.main.get_command(app)
    ctx = click.Context(group, info_name="toolkit")
    cmd = group.get_command(ctx, args[0])
    assert cmd is not None, f"README uses unknown command {args[0]!r}"
    cmd.make_context(args[0], list(args[1:]), parent=ctx)  # raises on unknown options


def test_every_file_the_readme_names_exists():
    for line in _bash_lines():
        for word in shlex.split(line):
            if word.startswith(("experiments/", "benchmarks/", "notebooks/")) and \
                    not word.endswith("/"):
                assert (ROOT / word).exists(), word
    for path in re.findall(r"`((?:experiments|notebooks|benchmarks)/[\w./]+)`", README):
        assert (ROOT / path).exists() or (ROOT / path.rstrip("/")).exists(), path


def test_help_lists_commands_in_the_order_a_user_meets_them():
    from typer.testing import CliRunner

    from toolkit.cli.app import COMMAND_ORDER

    res = CliRunner().invoke(app, ["--help"])
    assert res.exit_code == 0
    listed = [line.split()[0] for line in res.output.split("Commands:")[1].splitlines()
              if line.strip()]
    assert listed[:2] == ["run", "explain"]
    assert {"tune", "ui", "train", "generate", "reproduce"} <= set(listed)
    known = [c for c in listed if c in COMMAND_ORDER]
    assert known == sorted(known, key=COMMAND_ORDER.index)
    # the CLI reference follows the same order
    assert README.index("`toolkit run [OPTIONS]") < README.index("`toolkit explain [OPTIONS]") \
        < README.index("`toolkit tune [OPTIONS]") < README.index("`toolkit ui [OPTIONS]")


def test_version():
    from typer.testing import CliRunner

    from toolkit.provenance import toolkit_version

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output == f"toolkit {toolkit_version()}\n"
