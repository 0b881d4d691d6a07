"""Every registered model honours the contract of `genlab.core.protocol` (one test, all models).

Each model gets a tiny configuration; a model registered without one here fails the test, so a new
family cannot skip the contract.
"""

import dataclasses
import math

import pytest
import torch

from genlab.adversarial import CriticConfig
from genlab.models import MODELS, DataSpec, DensityModel, Sampler, StepContext, Update

VECTOR = DataSpec((2,))
IMAGE = DataSpec((1, 8, 8), levels=17)
LABELLED = DataSpec((1, 8, 8), levels=17, n_classes=3)

# name -> (small options, the data specs it is checked on)
TINY: dict[str, tuple[dict, tuple[DataSpec, ...]]] = {
    "vae": ({"latent_dim": 2, "hidden": 8, "depth": 1}, (VECTOR, IMAGE)),
    "gan": ({"latent_dim": 2, "hidden": 8, "depth": 1, "critic": CriticConfig(n_critic=2)}, (VECTOR, IMAGE)),
    "nice": ({"couplings": 2, "hidden": 8, "depth": 1}, (VECTOR, IMAGE)),
    "realnvp": ({"couplings": 1, "levels": 2, "hidden": 4, "depth": 1}, (VECTOR, IMAGE)),
    "glow": ({"hidden": 4, "levels": 2, "steps": 1, "depth": 1}, (VECTOR, IMAGE)),
    "classifier": ({"features": 8}, (LABELLED,)),
    "multitask": ({"features": 8, "hidden": 8, "depth": 1}, (LABELLED,)),
    "vqvae": ({"codes": 4, "dim": 2, "hidden": 8, "res_blocks": 1}, (IMAGE,)),
    "vqvae-prior": ({"first_stage": {"codes": 4, "dim": 2, "hidden": 8, "res_blocks": 1}, "hidden": 8,
                     "layers": 1, "kernel": 3}, (IMAGE,)),
    "ncsn": ({"hidden": 8, "depth": 1, "base": 8, "mults": (1, 2), "levels": 3, "steps_per_level": 2},
             (VECTOR, IMAGE)),
    "ebm": ({"hidden": 4, "depth": 1, "n_steps": 2, "buffer_size": 16}, (VECTOR, IMAGE)),
    "infomax": ({"latent_dim": 4, "channels": (4,), "global_channels": 4, "global_layers": 1,
                 "critic_hidden": 8, "critic_depth": 1}, (IMAGE,)),
    "aae": ({"latent_dim": 2, "hidden": 8, "depth": 1}, (VECTOR, IMAGE)),
    "ali": ({"latent_dim": 2, "hidden": 8, "depth": 1}, (VECTOR, IMAGE)),
    "cfm": ({"hidden": 8, "depth": 1, "mults": (1,), "attention": False, "solver": "euler", "steps": 2,
             "likelihood_solver": "euler"}, (VECTOR, IMAGE)),
    "diffusion": ({"timesteps": 20, "hidden": 8, "depth": 1, "time_dim": 8, "base": 8, "mults": (1,),
                   "attention": False, "groups": 4, "bound_terms": 5}, (VECTOR, IMAGE)),
}

CASES = [(name, spec) for name in MODELS.names() for spec in TINY.get(name, ({}, (VECTOR,)))[1]]


def build(name, spec, seed=0):
    if name not in TINY:
        pytest.fail(f"model {name!r} has no tiny configuration in tests/models/test_contract.py")
    cls = MODELS.get(name)
    torch.manual_seed(seed)
    return cls(cls.Config(**TINY[name][0]), spec)


def batch_for(spec, n=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    if spec.is_image:  # dequantized pixels in [0, 1], as `genlab.data.Pixels` gives by default
        x = (torch.randint(0, spec.levels, (n, *spec.shape), generator=g)
             + torch.rand(n, *spec.shape, generator=g)) / spec.levels
    else:
        x = torch.randn(n, *spec.shape, generator=g)
    if spec.n_classes:
        return {"x": x, "y": torch.randint(0, spec.n_classes, (n,), generator=g)}
    return {"x": x}


def losses_of(model, batch, seed):
    torch.manual_seed(seed)
    out = []
    for u in model.train_step(batch, StepContext(1)):
        out += [u.loss] if u.loss is not None else list(u.losses.values())
    return [float(v.detach()) for v in out]


@pytest.mark.parametrize("name, spec", CASES, ids=[f"{n}-{'image' if s.is_image else 'vector'}"
                                                   for n, s in CASES])
def test_contract(name, spec):
    model = build(name, spec)
    model.train()
    groups = model.param_groups()
    assert groups and all(isinstance(g, str) for g in groups)

    # groups are disjoint and cover every trainable parameter
    owner = {}
    for g, params in groups.items():
        for p in params:
            assert id(p) not in owner, f"groups {owner[id(p)]!r} and {g!r} share a parameter"
            owner[id(p)] = g
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == set(owner), "param_groups() must list every trainable parameter once"

    # every update names known groups; each parameter gets a finite gradient from some update
    batch = batch_for(spec)
    got_grad = set()
    updates = 0
    torch.manual_seed(2)
    for u in model.train_step(batch, StepContext(0)):
        assert isinstance(u, Update)
        assert u.groups and set(u.groups) <= set(groups), f"unknown groups in {u.groups}"
        params = [p for g in u.groups for p in groups[g]]
        loss = u.loss if u.loss is not None else sum(u.losses.values())
        assert loss.dim() == 0 and torch.isfinite(loss)
        for p in params:
            p.grad = None
        loss.backward(inputs=params)
        for p in params:
            if p.grad is not None:
                assert torch.isfinite(p.grad).all(), f"non-finite gradient in group {u.groups}"
                got_grad.add(id(p))
        updates += 1
    assert updates >= 1
    missing = [n for n, p in model.named_parameters() if id(p) in owner and id(p) not in got_grad]
    assert not missing, f"parameters no update reaches: {missing}"

    with torch.no_grad():
        if isinstance(model, Sampler):
            model.eval()
            assert tuple(model.sample(5).shape) == (5, *spec.shape)
        if isinstance(model, DensityModel):
            model.eval()
            estimates = model.likelihood_estimates(batch["x"], importance_samples=4)
            assert estimates
            for key, value in estimates.items():
                assert value.shape == (len(batch["x"]),), key
                assert torch.isfinite(value).all(), key
    model.train()


@pytest.mark.parametrize("name, spec", CASES, ids=[f"{n}-{'image' if s.is_image else 'vector'}"
                                                   for n, s in CASES])
def test_state_round_trip(name, spec):
    model = build(name, spec)
    model.train()
    groups = model.param_groups()
    opts = {g: torch.optim.SGD(ps, lr=1e-2) for g, ps in groups.items()}
    # one real step first, so the state differs from a fresh instance's (weights, data-dependent inits)
    torch.manual_seed(3)
    for u in model.train_step(batch_for(spec), StepContext(0)):
        params = [p for g in u.groups for p in groups[g]]
        loss = u.loss if u.loss is not None else sum(u.losses.values())
        for p in params:
            p.grad = None
        loss.backward(inputs=params)
        for g in u.groups:
            opts[g].step()

    fresh = build(name, spec)
    fresh.train()
    fresh.load_state_dict(model.state_dict())
    fresh.load_extra_state(model.extra_state())
    batch = batch_for(spec, seed=4)
    expected, got = losses_of(model, batch, seed=5), losses_of(fresh, batch, seed=5)
    assert len(expected) == len(got)
    # why: the same computation on the same weights and random stream; only summation order may differ
    for a, b in zip(expected, got):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-7)
    assert all(math.isfinite(v) for v in expected)


@pytest.mark.parametrize("name", MODELS.names())
def test_runtime_options_are_config_fields(name):
    """What `genlab sample/eval RUN model.KEY=VALUE` may change must name real config fields."""
    cls = MODELS.get(name)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    assert set(cls.runtime_options) <= fields, set(cls.runtime_options) - fields
