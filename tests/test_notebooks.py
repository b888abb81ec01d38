"""Notebooks: paired py:percent + ipynb without outputs, and each executes on a small world
with every figure shown inline and no warning or error in its outputs."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.py"))


def test_the_five_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == ["01_synthetic_world", "02_compare_runs",
                                          "03_why_zero_limit", "04_explanation_quality",
                                          "05_audit"]


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


# Injected around a notebook while the test runs it (never saved): count the matplotlib
# figures each code cell creates, by its place among the code cells (this cell is 0, as
# cells run once each, in order), and print the counts at the end.
_COUNT_FIGURES = """
import json as _toolkit_json
import matplotlib.figure as _toolkit_mpl_figure
_toolkit_figures = {}
_toolkit_cell = [0]
get_ipython().events.register("pre_run_cell",
                              lambda info: _toolkit_cell.__setitem__(0, _toolkit_cell[0] + 1))
_toolkit_init = _toolkit_mpl_figure.Figure.__init__
def _toolkit_counting_init(self, *args, **kwargs):
    _toolkit_init(self, *args, **kwargs)
    _toolkit_figures[_toolkit_cell[0]] = _toolkit_figures.get(_toolkit_cell[0], 0) + 1
_toolkit_mpl_figure.Figure.__init__ = _toolkit_counting_init
"""
_REPORT_FIGURES = "print(_toolkit_json.dumps(_toolkit_figures))"


def run_notebook(script, e2e, monkeypatch):
    """Execute a notebook on the small world; returns its code cells (with outputs) and,
    for each, how many figures it made."""
    monkeypatch.setenv("TOOLKIT_NB_USERS", "3000")
    monkeypatch.setenv("TOOLKIT_NB_DATA", str(e2e["data"]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", e2e["store"])
    monkeypatch.setenv("TOOLKIT_NB_WORLD_SEEDS", "2")  # notebook 04's study: 2 children
    monkeypatch.setenv("TOOLKIT_NB_MODEL_SEEDS", "1")
    nb = jupytext.read(script)
    n = len(nb.cells)
    nb.cells = [nbformat.v4.new_code_cell(_COUNT_FIGURES), *nb.cells,
                nbformat.v4.new_code_cell(_REPORT_FIGURES)]
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(script.parent)}}).execute()
    report = json.loads("".join(o.get("text", "") for o in nb.cells[-1].outputs))
    code = [c for c in nb.cells[1:n + 1] if c.cell_type == "code"]
    return code, [report.get(str(i + 1), 0) for i in range(len(code))]


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_with_figures_inline_and_no_warning(script, e2e, monkeypatch):
    code, figures = run_notebook(script, e2e, monkeypatch)
    problems = [(c.execution_count, o.get("ename") or o.get("text", "")[:300])
                for c in code for o in c.get("outputs", [])
                if o.get("output_type") == "error"
                or (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    assert problems == []
    drew = [c for c, n in zip(code, figures, strict=True) if n]
    assert drew, f"{script.stem} draws no figure"
    # a cell that made a figure must show it as an image, not as "<Figure size ...>"
    blind = [c.execution_count for c in drew
             if not any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    assert blind == []
    printed = [c.execution_count for c in code for o in c.get("outputs", [])
               if "<Figure size" in o.get("data", {}).get("text/plain", "") + o.get("text", "")
               and "image/png" not in o.get("data", {})]
    assert printed == []
