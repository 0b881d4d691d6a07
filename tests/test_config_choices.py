"""Every model option that is a choice is a `Literal` of its Config, so a bad value fails when the config
is built: `genlab train` exits with code 2 and one line naming the key before any data is loaded.
"""

from __future__ import annotations

import ast
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

import genlab
from genlab.cli import main
from genlab.config import load_config
from genlab.presets import PRESET_DIR, preset_names

MODELS_DIR = Path(genlab.__file__).parent / "models"
MISSING_DATA = "/nonexistent/dir"


def _options(tp: Any) -> list[Any]:
    """`tp` itself, or the members of a union (`X | None`)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def choice_fields(cls: type, prefix: str = "") -> tuple[list[tuple[str, tuple]], list[str]]:
    """(Literal fields as (dotted key, options), plain `str` fields), recursing into nested dataclasses."""
    literals: list[tuple[str, tuple]] = []
    strings: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        for tp in _options(hints[f.name]):
            if typing.get_origin(tp) is Literal:
                literals.append((key, typing.get_args(tp)))
            elif tp is str:
                strings.append(key)
            elif dataclasses.is_dataclass(tp):
                sub_literals, sub_strings = choice_fields(tp, key + ".")
                literals += sub_literals
                strings += sub_strings
    return literals, strings


def _preset_of(model: str) -> str | None:
    for name in preset_names():
        raw = yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text())
        if raw["model"]["name"] == model:
            return name
    return None


def _cases() -> list[Any]:
    cases = []
    for model in genlab.MODELS.names():
        literals, strings = choice_fields(genlab.MODELS.get(model).Config)
        cases += [pytest.param(model, key, options, id=f"{model}-{key}") for key, options in literals]
    return cases


CASES = _cases()


def _source(model: str, tmp_path: Path) -> str:
    """A preset of `model`, or a minimal config file written here."""
    preset = _preset_of(model)
    if preset is not None:
        return preset
    path = tmp_path / f"{model}.yaml"
    path.write_text(yaml.safe_dump({"model": {"name": model}, "data": {"name": "digits"}}))
    return str(path)


def test_every_model_has_cases():
    """Each registered model is covered, unless its Config has no choice at all."""
    covered = {case.values[0] for case in CASES}
    for model in genlab.MODELS.names():
        literals, _ = choice_fields(genlab.MODELS.get(model).Config)
        assert (model in covered) == bool(literals), model
    assert {"vae", "glow", "ebm", "vqvae", "vqvae-prior", "infomax", "multitask"} <= covered


FREE_TEXT = {("vqvae-prior", "run"), ("cfm", "run")}  # str fields that are not choices (a run folder)


def test_converted_models_have_no_plain_string_choices():
    """No model keeps a choice as a plain `str` (which would accept anything)."""
    for model in genlab.MODELS.names():
        _, strings = choice_fields(genlab.MODELS.get(model).Config)
        assert {(model, key) for key in strings} <= FREE_TEXT, (model, strings)


@pytest.mark.parametrize("model,key,options", CASES)
def test_bad_choice_fails_when_the_config_is_built(model, key, options, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", MISSING_DATA)
    out = tmp_path / "run"
    code = main(["train", _source(model, tmp_path), "--out", str(out), f"model.{key}=bogus",
                 f"data.data_dir={MISSING_DATA}"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "\n" not in err, err
    assert err.startswith(f"genlab: error: unknown model.{key} 'bogus'; choose one of: "), err
    assert not out.exists()  # nothing was written: the run failed before the trainer started


# what a valid option needs besides (the preset's `run` and a `first_stage` are mutually exclusive)
# (a batch-norm critic is refused beside input-gradient constraints, which some presets turn on)
_PLAIN_CRITIC = ["model.critic.penalty=none", "model.critic.r1_weight=0", "model.critic.grad_norm=none"]
COMPANIONS = {("vqvae-prior", "first_stage"): ['model.run=""'], ("aae", "critic"): _PLAIN_CRITIC,
              ("ali", "critic"): _PLAIN_CRITIC, ("gan", "critic"): _PLAIN_CRITIC}


@pytest.mark.parametrize("model,key,options", [c for c in CASES if c.values[2] is not None])
def test_every_listed_option_builds(model, key, options, tmp_path):
    """Each Literal option, written as a command-line override, gives a valid config holding it."""
    extra = COMPANIONS.get((model, key.split(".")[0]), [])
    for option in options:
        cfg = load_config(_source(model, tmp_path), [*extra, f"model.{key}={option}"])
        value = cfg.model.params
        for part in key.split("."):
            value = getattr(value, part)
        assert value == option


# ---------------------------------------------------------------- no choice() checks in models


def _calls_choice(fn: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(fn) if isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == "choice")
        or (isinstance(node.func, ast.Attribute) and node.func.attr == "choice"))]


def _classes() -> list[tuple[Path, ast.ClassDef]]:
    return [(path, node) for path in sorted(MODELS_DIR.rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)]


def _model_classes() -> list[tuple[Path, ast.ClassDef]]:
    """Classes that subclass `Model`, directly or through another class of src/genlab/models."""
    classes = _classes()
    names = {"Model"}
    while True:
        more = {c.name for _, c in classes
                if any(isinstance(b, ast.Name) and b.id in names for b in c.bases)} - names
        if not more:
            return [(p, c) for p, c in classes if c.name in names - {"Model"}]
        names |= more


def test_model_classes_found():
    found = {c.name for _, c in _model_classes()}
    assert {"VAE", "Glow", "RealNVP", "NICE", "EBM", "VQVAE", "MultiTask", "DeepInfoMax"} <= found


def test_no_model_init_or_build_calls_choice():
    """Options are checked by their Literal when the config is built, not when the model is."""
    bad = [f"{path.relative_to(MODELS_DIR)}:{line} {cls.name}.{fn.name}"
           for path, cls in _model_classes() for fn in cls.body
           if isinstance(fn, ast.FunctionDef) and fn.name in ("__init__", "build")
           for line in _calls_choice(fn)]
    assert not bad, bad


@pytest.mark.parametrize("family", [p.name for p in sorted(MODELS_DIR.iterdir())
                                    if p.is_dir() and (p / "__init__.py").exists()])
def test_no_config_post_init_calls_choice(family):
    """No Config re-checks a choice by hand in __post_init__ (its Literal does)."""
    bad = [f"{path.relative_to(MODELS_DIR)}:{line} {cls.name}.__post_init__"
           for path, cls in _classes() if path.is_relative_to(MODELS_DIR / family)
           for fn in cls.body if isinstance(fn, ast.FunctionDef) and fn.name == "__post_init__"
           for line in _calls_choice(fn)]
    assert not bad, bad


# ---------------------------------------------------------------- tables keyed by the Literals


def _tables() -> list[Any]:
    from genlab.models.ebm.energy import ACTIVATIONS, ENERGY_NETS
    from genlab.models.ebm.model import EBM, LANGEVIN
    from genlab.models.flow.model import COUPLINGS, MIXINGS, Glow
    from genlab.models.multitask import TASK_WEIGHTINGS, MultiTask
    from genlab.models.vae.latents import LOG_PMFS
    from genlab.models.vae.model import LATENT_TYPES, VAE
    from genlab.models.vqvae.model import CODEBOOKS, VQVAE
    from genlab.nets import AUTOENCODERS

    return [(AUTOENCODERS, VAE.Config, "net"), (AUTOENCODERS, MultiTask.Config, "net"),
            (LATENT_TYPES, VAE.Config, "latent_type"), (LOG_PMFS, VAE.Config, "noise"),
            (ENERGY_NETS, EBM.Config, "net"), (ACTIVATIONS, EBM.Config, "act"),
            (LANGEVIN, EBM.Config, "langevin"), (MIXINGS, Glow.Config, "mixing"),
            (COUPLINGS, Glow.Config, "coupling"), (CODEBOOKS, VQVAE.Config, "codebook"),
            (TASK_WEIGHTINGS, MultiTask.Config, "task_weighting")]


@pytest.mark.parametrize("table,config,key", _tables(), ids=lambda v: getattr(v, "kind", None))
def test_tables_hold_exactly_their_literal_options(table, config, key):
    """A registry that builds what a choice names has one entry per Literal option (none unreachable,
    none missing, so a valid config never meets an unknown name)."""
    assert set(table.names()) == set(typing.get_args(typing.get_type_hints(config)[key]))
