"""The package reads as the data flow: no import cycle, and no layer imports a higher one.

Every ``import`` of a toolkit module counts, also those inside functions, so a lazy import
cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1] / "toolkit"

# Lowest first.  A module may import its own layer and the layers below it.
LAYERS = (
    ("vocab", "calendar", "provenance", "errors", "processes", "safety", "files", "links",
     "metrics", "ranking", "compute"),
    ("config",),
    # tracking sits low so that it can never import dataset, model or explanation code
    ("tracking",),
    ("data",),
    ("policy",),
    ("synth",),
    ("source",),
    ("models",),
    ("explain",),
    ("recourse",),
    ("audit",),
    ("tune",),
    ("workflows",),
    ("cli", "__main__", "__init__"),
)
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("toolkit"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("toolkit"):
            if node.module != "toolkit":  # the root package is empty: only its members count
                out.add(node.module)
            # "from toolkit import tracking" imports the subpackage itself
            out.update(f"{node.module}.{a.name}" for a in node.names
                       if (ROOT.parent / node.module.replace(".", "/") / a.name).exists()
                       or (ROOT.parent / f"{node.module.replace('.', '/')}/{a.name}.py")
                       .exists())
    return out


GRAPH = {_module(p): _imports(p) for p in sorted(ROOT.rglob("*.py"))}


def _layer(module: str) -> int:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    if name not in RANK:
        raise AssertionError(f"{module}: its top-level name {name!r} is in no layer of "
                             "tests/test_layers.py; add it where it belongs")
    return RANK[name]


def test_every_module_belongs_to_a_layer():
    for module in GRAPH:
        _layer(module)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_a_higher_layer(module):
    upward = sorted(m for m in GRAPH[module] if _layer(m) > _layer(module))
    assert not upward, f"{module} (layer {_layer(module)}) imports higher layers: {upward}"


def test_no_import_cycle():
    known = set(GRAPH)
    edges = {m: {d for d in deps if d in known and d != m} for m, deps in GRAPH.items()}
    # A package's __init__ re-exports its own modules; a module importing its own package's
    # __init__ back would close a loop, and is reported like any other cycle.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
