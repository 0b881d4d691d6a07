"""Layering of the whole package, read from the source (every import, also inside functions).

    core < (data, nets, distributions, optim, mtl, regularizers, presets, adversarial, ode, sampling)
         < models < config < train < (eval, viz) < (runs, recipes, report) < cli

A module may import its own layer and the layers below, never a higher one. Packages of one layer
may use each other as long as no import cycle forms; at module level no genlab module may take part
in an import cycle at all. Under `models/` a family package (vae/, gan/, vqvae/, ...) imports no
other family package: what two families share lives in a shared package below models.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import genlab

SRC = Path(genlab.__file__).parent
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("data", "nets", "distributions", "optim", "mtl", "regularizers", "presets", "adversarial", "ode",
     "sampling"),
    ("models",),
    ("config",),
    ("train",),
    ("eval", "viz"),
    ("runs", "recipes", "export", "report"),
    ("cli", "__main__"),
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = ["genlab", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against `module`)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str, top_level_only: bool = False) -> set[str]:
    """genlab modules `module` imports; `top_level_only`: only those run when it is imported (not in
    functions, not under `if TYPE_CHECKING`). `from pkg import name` counts as `pkg.name` when that is
    a module, else as `pkg`."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node, module, path.name == "__init__.py")
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if sub in MODULES else base)
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if (top_level_only and isinstance(child, ast.If) and isinstance(child.test, ast.Name)
                    and child.test.id == "TYPE_CHECKING"):
                continue
            visit(child)

    visit(tree)
    return {m for m in found if m == "genlab" or m.startswith("genlab.")}


def layer_of(module: str) -> int:
    if module == "genlab":  # the root only re-exports names lazily, on first use
        return -1
    top = module.split(".")[1]
    assert top in LAYER, f"{module}: genlab.{top} is in no layer; add it to LAYERS (and the README)"
    return LAYER[top]


def family_of(module: str) -> str | None:
    """The family package under models/ that `module` belongs to (None for models/registry.py etc.)."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "models" and f"genlab.models.{parts[2]}" in MODULES \
            and MODULES[f"genlab.models.{parts[2]}"].name == "__init__.py":
        return parts[2]
    return None


def test_the_root_package_imports_nothing_eagerly():
    assert imports("genlab", top_level_only=True) == set()


def test_no_module_imports_a_higher_layer():
    bad = sorted(f"{m} -> {i}" for m in MODULES for i in imports(m)
                 if i in MODULES and layer_of(i) > layer_of(m))
    assert not bad, bad


def _module_level_graph() -> dict[str, set[str]]:
    return {m: {i for i in imports(m, top_level_only=True) if i in MODULES and i != m} for m in MODULES}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in graph:
        if v not in index:
            connect(v)
    return found


def test_import_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_at_module_level():
    cycles = import_cycles(_module_level_graph())
    assert not cycles, cycles


# Sideways imports that exist today, each to be removed by the branch named in its reason.
def sideways_imports() -> list[tuple[str, str]]:
    """(importer, imported) pairs where a family package imports another family or `genlab.models`."""
    bad = []
    for m in MODULES:
        own = family_of(m)
        if own is None:
            continue
        for i in imports(m):
            other = family_of(i)
            if i == "genlab.models" or (other is not None and other != own):
                bad.append((m, i))
    return sorted(bad)


def test_no_family_imports_another_family():
    bad = [f"{m} -> {i}" for m, i in sideways_imports()]
    assert not bad, bad


def test_importing_the_models_loads_nothing_above_them():
    code = ("import sys, genlab.models\n"
            "above = sorted(m for m in sys.modules if m.split('.')[:2] in (['genlab', 'config'], "
            "['genlab', 'train'], ['genlab', 'eval'], ['genlab', 'viz'], ['genlab', 'runs'], "
            "['genlab', 'recipes'], ['genlab', 'cli']))\n"
            "assert not above, above\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC.parent), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
