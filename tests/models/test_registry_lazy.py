"""The model and dataset registries list names from static tables (so `genlab list` imports neither
torch, scikit-learn nor any model family) and import a module when a name is first looked up.

The tables cannot go stale: after importing every module under genlab.models and genlab.data, the
names registered there must be exactly the table's names, each registered by the module it names.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import genlab
from genlab.core.errors import ConfigError
from genlab.core.registry import Registry
from genlab.data import DATASETS
from genlab.models import MODELS

SRC = Path(genlab.__file__).parent.parent


def import_everything(package: str) -> None:
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
        importlib.import_module(info.name)


@pytest.mark.parametrize("registry, package", [(MODELS, "genlab.models"), (DATASETS, "genlab.data")])
def test_static_table_equals_what_the_modules_register(registry, package):
    import_everything(package)
    table = registry.lazy_modules()
    # only genlab's own entries: a test may register its models temporarily elsewhere
    registered = {name: entry.__module__ for name, entry in registry.loaded().items()
                  if entry.__module__.startswith(package + ".")}
    assert registered == table
    assert registry.names() == sorted(table)


def test_lookup_imports_the_module_on_first_use():
    reg: Registry[type] = Registry("widget", lazy={"thing": "tests.models._lazy_widget"})
    assert "thing" in reg and reg.names() == ["thing"] and reg.loaded() == {}
    sys.modules.pop("tests.models._lazy_widget", None)
    with pytest.raises(ModuleNotFoundError):  # the module does not exist: the import is attempted
        reg.get("thing")
    with pytest.raises(ConfigError, match="unknown widget 'thin'; choose one of: thing"):
        reg.get("thin")


def test_table_naming_the_wrong_module_fails_clearly():
    reg: Registry[type] = Registry("widget", lazy={"thing": "json"})  # json registers nothing here
    with pytest.raises(RuntimeError, match="importing json did not register widget 'thing'"):
        reg.get("thing")


def test_a_lazy_name_cannot_be_taken_by_another_module():
    class Impostor:
        pass

    with pytest.raises(ValueError, match="'vae' belongs to genlab.models.vae.model"):
        MODELS.register("vae")(Impostor)


def test_get_still_returns_the_class():
    assert MODELS.get("vae").__name__ == "VAE"
    assert MODELS.get("vqvae-prior").__module__ == "genlab.models.vqvae.prior"
    assert DATASETS.get("moons").__module__ == "genlab.data.toy"


def test_listing_names_imports_no_torch_sklearn_or_family():
    code = (
        "import sys, io, contextlib\n"
        "from genlab.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['list']) == 0\n"
        "assert 'vae' in out.getvalue() and 'digits' in out.getvalue()\n"
        "import genlab\n"  # the Python API lists them as cheaply
        "assert 'vae' in genlab.MODELS.names() and 'digits' in genlab.DATASETS.names()\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sklearn', 'scipy', 'numpy')\n"
        "               or m.startswith(('genlab.models.', 'genlab.data.'))\n"
        "               and m not in ('genlab.models.registry', 'genlab.data.registry'))\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"genlab list imported: {result.stdout.strip()}"
