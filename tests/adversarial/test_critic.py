"""The shared critic: config choices match the registries, cross-field rules, one log layout for
every adversarial family, double-backward detection, and the layering of `genlab.adversarial`."""

import ast
import typing
from pathlib import Path

import pytest
import torch

import genlab
from genlab.adversarial import Critic, CriticConfig
from genlab.adversarial.critic import CriticNorm
from genlab.adversarial.fdivergence import DIVERGENCES, DivergenceName
from genlab.adversarial.gradnorm import GRAD_NORM_MODES, GradNormName
from genlab.adversarial.latents import PRIORS, PriorName
from genlab.adversarial.objectives import FGAN, OBJECTIVES, FGANGenerator, ObjectiveName
from genlab.adversarial.penalties import INTERPOLATE_PENALTIES, MODES, PenaltyMode, PenaltyName
from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.models import MODELS, StepContext
from genlab.models.aae.model import SCHEDULES, Reconstruction, Schedule
from genlab.models.aae.reconstruction import RECONSTRUCTIONS
from genlab.models.ali.generator_losses import GENERATOR_LOSSES
from genlab.models.ali.model import ENCODERS, Encoder, GeneratorLoss
from genlab.models.gan.model import Output
from genlab.models.gan.nets import NETS, GANNet
from genlab.nets.norm import NORMS, OUTPUTS
from genlab.train import Trainer

SRC = Path(genlab.__file__).parent


@pytest.mark.parametrize("literal, names", [
    (ObjectiveName, OBJECTIVES), (DivergenceName, DIVERGENCES), (FGANGenerator, FGAN.GENERATOR_LOSSES),
    (PenaltyName, ("none", *INTERPOLATE_PENALTIES)), (PenaltyMode, MODES),
    (GradNormName, ("none", *GRAD_NORM_MODES)), (PriorName, PRIORS), (CriticNorm, NORMS),
    (GANNet, NETS), (Output, OUTPUTS),
    (Reconstruction, RECONSTRUCTIONS), (Schedule, SCHEDULES), (Encoder, ENCODERS),
    (GeneratorLoss, GENERATOR_LOSSES),
])
def test_config_choices_are_the_registered_names(literal, names):
    # a name added to a registry but not to the config's Literal (or back) fails here
    assert set(typing.get_args(literal)) == set(names)


def test_cross_field_rules_and_ranges():
    with pytest.raises(ConfigError, match="model.critic.norm=batch"):
        CriticConfig(norm="batch", r1_weight=1.0)
    CriticConfig(norm="batch")  # no input gradients: batch norm is allowed
    for kw, key in (({"n_critic": 0}, "n_critic"), ({"clip": 0.0}, "clip"), ({"hidden": 0}, "hidden"),
                    ({"penalty_power": 0.0}, "penalty_power"), ({"grad_norm_eps": -1.0}, "grad_norm_eps")):
        with pytest.raises(ConfigError, match=f"model.critic.{key}"):
            CriticConfig(**kw)


def test_double_backward_is_reported_for_every_family():
    for kw, expect in (({}, False), ({"penalty": "fd"}, False), ({"penalty": "gp"}, True),
                       ({"r1_weight": 0.5}, True), ({"grad_norm": "gran"}, True)):
        critic = CriticConfig(**kw)
        assert critic.needs_double_backward() is expect
        for name in ("gan", "aae", "ali"):
            assert MODELS.get(name).Config(critic=critic).needs_double_backward() is expect


@pytest.mark.parametrize("name", ["aae", "ali"])
def test_compile_refused_for_autoencoders_with_a_gradient_penalty(name, tmp_path):
    cfg = Config.from_dict({"model": {"name": name, "hidden": 8, "depth": 1, "critic": {"penalty": "gp"}},
                            "data": {"name": "8gaussians", "batch_size": 8, "n_samples": 64},
                            "train": {"steps": 1, "compile": True, "progress": False}})
    with pytest.raises(ConfigError, match="train.compile=true"):
        Trainer(cfg, tmp_path)


@pytest.mark.parametrize("name", ["gan", "aae", "ali"])
def test_logs_are_named_and_detached_alike(name):
    torch.manual_seed(0)
    cls = MODELS.get(name)
    critic = CriticConfig(objective="wasserstein", penalty="gp", r1_weight=0.1)
    model = cls(cls.Config(latent_dim=2, hidden=8, depth=1, critic=critic), (2,))
    seen = {}
    for u in model.train_step({"x": torch.randn(8, 2)}, StepContext(0)):
        assert all(not v.requires_grad and v.ndim == 0 for v in u.logs.values())
        seen[u.groups] = set(u.logs)
    assert seen[("critic",)] == {"critic_loss", "d_real", "d_fake", "penalty", "r1"}
    assert "gen_loss" in set().union(*(logs for groups, logs in seen.items() if groups != ("critic",)))


def test_critic_scores_and_wraps_its_network():
    net = torch.nn.Sequential(torch.nn.Linear(3, 1))  # (B, 1) output: scored as (B,)
    critic = Critic(CriticConfig(grad_norm="gn", spectral_norm=True), net)
    x = torch.randn(5, 3)
    assert critic(x).shape == critic.score(x).shape == (5,)
    assert critic.score(x).abs().max() <= 1  # GN: |f| / (||grad f|| + |f|) < 1
    assert hasattr(net[0], "parametrizations")  # spectral normalization applied in place


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_adversarial_sits_below_models_and_no_family_imports_the_gan():
    below = ("genlab.core", "genlab.nets", "genlab.distributions", "genlab.regularizers",
             "genlab.adversarial")
    bad = {f"{p.name}: {m}" for p in (SRC / "adversarial").glob("*.py") for m in imports(p)
           if m.startswith("genlab") and not m.startswith(below)}
    assert not bad, sorted(bad)
    models = SRC / "models"
    sideways = {f"{p.relative_to(models)}: {m}" for p in models.rglob("*.py")
                if p.parent.name != "gan" for m in imports(p) if m.startswith("genlab.models.gan")}
    assert not sideways, sorted(sideways)
