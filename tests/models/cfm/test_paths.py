"""Probability paths, OT pairing and sources of the `cfm` family against their definitions."""

import itertools
import math
import typing

import pytest
import torch

from genlab.core.errors import ConfigError, DataError
from genlab.core.protocol import DataSpec
from genlab.data.toy import TOYS
from genlab.models.cfm.pairing import ot_pairing
from genlab.models.cfm.paths import PATHS, PathName, build_path
from genlab.models.cfm.source import SourceName, build_source

SIGMA = {"ot": 0.01, "icfm": 0.1, "otcfm": 0.1, "vp": 0.1}


def definition(name, x0, x1, t, eps, s):
    """x_t as written in the papers (t, x of shape (B, 1), (B, D))."""
    if name == "ot":  # Lipman et al. eq. 22: psi_t(x0) = (1 - (1 - sigma_min) t) x0 + t x1
        return (1 - (1 - s) * t) * x0 + t * x1
    if name in ("icfm", "otcfm"):  # Tong et al. eq. 14: N(t x1 + (1 - t) x0, sigma^2)
        return t * x1 + (1 - t) * x0 + s * eps
    return torch.cos(math.pi * t / 2) * x0 + torch.sin(math.pi * t / 2) * x1 + s * eps


def target(name, x0, x1, t, s):
    """u_t as written in the papers."""
    if name == "ot":  # Lipman et al. eq. 23 evaluated at x = psi_t(x0)
        return x1 - (1 - s) * x0
    if name in ("icfm", "otcfm"):
        return x1 - x0
    return math.pi / 2 * (torch.cos(math.pi * t / 2) * x1 - torch.sin(math.pi * t / 2) * x0)


def test_table_matches_literal():
    assert set(PATHS) == set(typing.get_args(PathName))
    assert set(typing.get_args(SourceName)) == {"normal", *TOYS}


@pytest.mark.parametrize("name", sorted(PATHS))
def test_path_matches_definition_and_target_is_time_derivative(name):
    g = torch.Generator().manual_seed(0)
    x0, x1, eps = (torch.randn(32, 3, generator=g, dtype=torch.float64) for _ in range(3))
    t = torch.rand(32, generator=g, dtype=torch.float64)
    path = build_path(name, SIGMA[name])
    xt, ut = path.sample(x0, x1, t, eps)
    assert torch.allclose(xt, definition(name, x0, x1, t[:, None], eps, SIGMA[name]), atol=1e-12)
    assert torch.allclose(ut, target(name, x0, x1, t[:, None], SIGMA[name]), atol=1e-12)
    # u_t = d x_t / dt with (x0, x1, eps) fixed, by autograd through the path itself
    tt = t.clone().requires_grad_(True)
    dx = torch.stack([torch.autograd.grad(path.sample(x0, x1, tt, eps)[0][:, k].sum(), tt)[0]
                      for k in range(3)], 1)
    assert torch.allclose(dx, ut, atol=1e-12)
    # the ends: the source at t = 0 (plus path noise); the data (width sigma_min) at t = 1
    x_start = path.sample(x0, x1, torch.zeros(32, dtype=torch.float64), eps)[0]
    x_end = path.sample(x0, x1, torch.ones(32, dtype=torch.float64), eps)[0]
    noise = 0.0 if name == "ot" else SIGMA[name]
    assert torch.allclose(x_start, x0 + noise * eps, atol=1e-12)
    end_noise = SIGMA[name] * x0 if name == "ot" else noise * eps
    assert torch.allclose(x_end, x1 + end_noise, atol=1e-12)
    assert path.ot_pairs == (name == "otcfm")


def test_paths_reject_bad_noise():
    with pytest.raises(ConfigError, match="model.sigma"):
        build_path("ot", 1.0)
    with pytest.raises(ConfigError, match="model.sigma"):
        build_path("icfm", -0.1)


def pair_costs(x0, x1):
    return torch.cdist(x0.flatten(1).double(), x1.flatten(1).double()).square()


def brute_force(x0, x1):
    cost = pair_costs(x0, x1)
    return min(itertools.permutations(range(len(x0))),
               key=lambda p: float(sum(cost[i, j] for i, j in enumerate(p))))


@pytest.mark.parametrize("seed", range(6))
def test_ot_pairing_is_the_brute_force_optimum(seed):
    g = torch.Generator().manual_seed(seed)
    x0, x1 = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g) * 2 + 1
    j = ot_pairing(x0, x1)
    cost = pair_costs(x0, x1)
    best = brute_force(x0, x1)
    got = float(cost[torch.arange(6), j].sum())
    assert sorted(j.tolist()) == list(range(6))
    assert got == pytest.approx(float(sum(cost[i, k] for i, k in enumerate(best))), rel=1e-12)
    assert tuple(j.tolist()) == best  # continuous data: the optimum is unique


def test_ot_pairing_lowers_mean_pair_cost():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(256, 2, generator=g)
    x1 = torch.randn(256, 2, generator=g) + torch.tensor([3.0, 0.0])
    j = ot_pairing(x0, x1)
    paired = (x0 - x1[j]).square().sum(1).mean()
    random = (x0 - x1).square().sum(1).mean()
    # independent N(0, I) vs N((3, 0), I): random pairs cost 9 + 4 = 13 on average; the population
    # W2^2 is 9 (a minibatch optimum fits the sample and comes out a little lower still)
    assert float(random) == pytest.approx(13.0, rel=0.1)
    assert paired < 0.7 * random


def test_ot_pairing_flattens_images_and_checks_shapes():
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(5, 1, 2, 2, generator=g), torch.randn(5, 1, 2, 2, generator=g)
    assert tuple(ot_pairing(x0, x1).tolist()) == brute_force(x0, x1)
    with pytest.raises(DataError, match="equal shape"):
        ot_pairing(x0, x1[:4])


def test_sources_sample_reproducibly_from_torch_generator():
    like = torch.zeros(())
    for name in ("normal", "moons", "8gaussians"):
        src = build_source(name, DataSpec((2,)))
        torch.manual_seed(3)
        a = src.sample(64, like)
        torch.manual_seed(3)
        b = src.sample(64, like)
        c = src.sample(64, like)
        assert a.shape == (64, 2) and torch.equal(a, b) and not torch.equal(a, c)


def test_source_densities():
    spec = DataSpec((2,))
    x = torch.randn(10, 2, dtype=torch.float64)
    normal = build_source("normal", spec)
    want = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                                                  torch.eye(2, dtype=torch.float64)).log_prob(x)
    assert torch.allclose(normal.log_prob(x), want)
    mix = build_source("8gaussians", spec)
    assert mix.has_density and not build_source("moons", spec).has_density
    # a mixture's density integrates to 1: a fine grid around each centre
    h = mix.std / 10
    ax = torch.arange(-6 * mix.std, 6 * mix.std, h, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    total = sum(float(mix.log_prob(grid + c).exp().sum()) * h * h for c in mix.centers)
    assert total == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ConfigError, match="2-D"):
        build_source("moons", DataSpec((1, 8, 8), levels=17))
