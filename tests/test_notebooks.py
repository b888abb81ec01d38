"""Notebooks: paired py:percent + ipynb without outputs, and each executes on a small world."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.py"))


def test_the_four_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == ["01_synthetic_world", "02_compare_runs",
                                          "03_why_zero_limit", "04_explanation_quality"]


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_is_in_sync_and_has_no_outputs(script):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} missing: run jupytext --to ipynb {script}"
    paired = nbformat.read(ipynb, as_version=4)
    source = jupytext.read(script)
    assert [c.source for c in paired.cells] == [c.source for c in source.cells], (
        f"{ipynb.name} and {script.name} differ: run jupytext --sync {script}")
    for cell in paired.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_define_no_functions_or_classes(script):
    tree = ast.parse(jupytext.writes(jupytext.read(script), fmt="py:percent"))
    defs = [n.name for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    assert defs == [], f"move {defs} into the toolkit package"


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_a_small_world(script, e2e, monkeypatch):
    monkeypatch.setenv("TOOLKIT_NB_USERS", "3000")
    monkeypatch.setenv("TOOLKIT_NB_DATA", str(e2e["data"]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", e2e["store"])
    nb = jupytext.read(script)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(script.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
