"""Every public function and class of the documented packages carries a runnable `>>>` example, and so
does every function and class of genlab's top-level API (`genlab.__all__`).

pytest runs those examples (`--doctest-modules` on these packages and on the modules defining the
top-level names, see pyproject), so this test only checks that none is missing: new public code in
these packages, or a new top-level name, must come with one.
"""

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

DOCUMENTED = ("genlab.optim", "genlab.mtl", "genlab.distributions", "genlab.eval.metrics")


def modules(package: str) -> list[ModuleType]:
    """The package itself and every module below it."""
    pkg = importlib.import_module(package)
    found = [pkg]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
        found.append(importlib.import_module(info.name))
    return found


def public_api(module: ModuleType) -> dict[str, object]:
    """Functions and classes the module exports (`__all__`) or defines under a name without `_`."""
    names = set(getattr(module, "__all__", ()))
    names |= {n for n, obj in vars(module).items()
              if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__}
    objs = {n: getattr(module, n) for n in names}
    return {f"{module.__name__}.{n}": obj for n, obj in objs.items()
            if inspect.isfunction(obj) or inspect.isclass(obj)}


def undocumented(package: str) -> list[str]:
    api = {name: obj for m in modules(package) for name, obj in public_api(m).items()}
    # a name re-exported by several modules is one object: report it once, by its defining module
    missing = {f"{obj.__module__}.{obj.__qualname__}" for obj in api.values()
               if ">>>" not in (inspect.getdoc(obj) or "")}
    return sorted(missing)


@pytest.mark.parametrize("package", DOCUMENTED)
def test_public_api_has_runnable_examples(package):
    missing = undocumented(package)
    assert not missing, f"public functions/classes without a '>>>' example in their docstring: {missing}"


def top_level_api(package: ModuleType) -> dict[str, object]:
    """The functions and classes among `package.__all__` (registries such as `MODELS` are instances,
    shown in the docstring of the module defining them)."""
    objs = {name: getattr(package, name) for name in package.__all__}
    return {n: obj for n, obj in objs.items() if inspect.isfunction(obj) or inspect.isclass(obj)}


def undocumented_top_level(package: ModuleType) -> list[str]:
    return sorted(n for n, obj in top_level_api(package).items() if ">>>" not in (inspect.getdoc(obj) or ""))


def test_top_level_api_has_runnable_examples():
    import genlab

    missing = undocumented_top_level(genlab)
    assert not missing, f"top-level names without a '>>>' example in their docstring: {missing}"


def test_top_level_examples_are_collected(pytestconfig):
    """The module defining each top-level function or class is doctested (named in `testpaths`)."""
    import genlab

    package_dir = Path(genlab.__file__).resolve().parent  # src/genlab, wherever it is imported from
    testpaths = set(pytestconfig.getini("testpaths"))
    files = {"src/genlab/" + Path(inspect.getsourcefile(obj)).resolve().relative_to(package_dir).as_posix()
             for obj in top_level_api(genlab).values()}
    assert not files - testpaths, f"add to pyproject's pytest testpaths: {sorted(files - testpaths)}"


def test_the_check_can_fail():
    """A function without an example is reported (so the test above is not vacuous)."""
    module = ModuleType("genlab_fake")

    def bare() -> None:
        """No example here."""

    def shown() -> None:
        """With one.

        >>> 1 + 1
        2
        """

    bare.__module__ = shown.__module__ = module.__name__
    module.bare, module.shown = bare, shown
    api = public_api(module)
    assert sorted(api) == ["genlab_fake.bare", "genlab_fake.shown"]
    assert [n for n, obj in api.items() if ">>>" not in (inspect.getdoc(obj) or "")] == ["genlab_fake.bare"]
    module.__all__ = ["bare", "shown", "VALUE"]
    module.VALUE = 3  # not a function or class: needs no docstring
    assert undocumented_top_level(module) == ["bare"]
