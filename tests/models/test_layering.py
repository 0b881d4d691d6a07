"""Layering: the model families (the VQ-VAE prior included, which loads another run) import nothing
from the layers above them (trainer, `genlab.runs`, evaluation, CLI), not even inside a function;
they load saved runs through `genlab.models.saved`."""

import ast
from pathlib import Path

import genlab.models

ABOVE_MODELS = ("genlab.train", "genlab.runs", "genlab.eval", "genlab.cli", "genlab.viz")


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_models_import_nothing_above_them():
    root = Path(genlab.models.__file__).parent
    bad = {f"{p.relative_to(root)}: {m}" for p in root.rglob("*.py") for m in imported_modules(p)
           if m.startswith(ABOVE_MODELS)}
    assert not bad, sorted(bad)
