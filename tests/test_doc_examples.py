"""Every public function and class of the documented packages carries a runnable `>>>` example.

pytest runs those examples (`--doctest-modules` on these packages, see pyproject), so this test only
checks that none is missing: new public code in these packages must come with one.
"""

import importlib
import inspect
import pkgutil
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
