"""Noise levels: geometric, sigma_1 from the data's largest pairwise distance (NCSNv2 techniques 1-2)."""

import math

import pytest
import torch

from genlab.core.errors import ConfigError, DataError
from genlab.core.protocol import DataSpec, StepContext
from genlab.models.ncsn import (
    NCSN,
    largest_pairwise_distance,
    ncsnv2_eps,
    ncsnv2_levels,
    ncsnv2_ratio,
    shell_overlap,
    variance_ratio_after,
)
from genlab.sampling import AnnealedLangevin


def test_largest_pairwise_distance_is_the_brute_force_maximum():
    x = torch.randn(30, 2, 3, dtype=torch.float64)
    brute = max(float((a - b).norm()) for i, a in enumerate(x) for b in x[i + 1:])
    assert float(largest_pairwise_distance(x)) == pytest.approx(brute, rel=1e-12)
    with pytest.raises(DataError):
        largest_pairwise_distance(x[:1])


def test_model_levels_are_geometric_from_the_first_batch_distance_to_sigma_min():
    model = NCSN(NCSN.Config(hidden=8, depth=1, levels=6, sigma_min=0.05), (2,))
    with pytest.raises(RuntimeError):
        _ = model.sigmas  # unknown before data
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    next(model.train_step({"x": x}, StepContext(0)))
    sig = torch.tensor(model.sigmas, dtype=torch.float64)
    assert len(sig) == 6 and float(sig[0]) == pytest.approx(5.0) and float(sig[-1]) == pytest.approx(0.05)
    ratios = sig[:-1] / sig[1:]
    assert torch.allclose(ratios, ratios[0].expand(5), rtol=1e-12)
    # set once: a later batch with a larger spread does not move sigma_1
    next(model.train_step({"x": 10 * x}, StepContext(1)))
    assert model.sigmas[0] == pytest.approx(5.0)
    assert float(model.state_dict()["sigma_max"]) == pytest.approx(5.0)


def test_sigma_max_is_averaged_over_processes():
    model = NCSN(NCSN.Config(hidden=8, depth=1, levels=3), (2,))
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    next(model.train_step({"x": x}, StepContext(0, all_reduce_mean=lambda t: (t + 7.0) / 2)))
    assert model.sigmas[0] == pytest.approx(6.0)  # this rank's 5 and another's 7


def test_explicit_sigma_max_is_kept():
    model = NCSN(NCSN.Config(hidden=8, depth=1, levels=3, sigma_max=1.5), (2,))
    assert model.sigmas[0] == pytest.approx(1.5)
    next(model.train_step({"x": torch.randn(8, 2) * 100}, StepContext(0)))
    assert model.sigmas[0] == pytest.approx(1.5)


@pytest.mark.parametrize("dim", [8, 64, 784, 3072])
def test_ncsnv2_ratio_gives_half_shell_overlap(dim):
    gamma = ncsnv2_ratio(dim)
    assert gamma > 1 and shell_overlap(gamma, dim) == pytest.approx(0.5, abs=1e-9)
    assert shell_overlap(gamma * 1.01, dim) < 0.5 < shell_overlap(gamma / 1.01, dim)


def test_ncsnv2_levels_near_the_papers_choices():
    """NCSNv2 (arXiv:2006.09011, appendix) used sigma_1 = 50 and L = 232 on CIFAR-10, sigma_1 = 90 and
    L = 500 on CelebA 64x64: ratios whose shell overlap is ~0.57, the rule's ~0.5 met with a margin.
    The rule with 0.5 exactly gives ~5 % fewer levels."""
    for dim, top, levels in ((3 * 32 * 32, 50.0, 232), (3 * 64 * 64, 90.0, 500)):
        gamma = math.exp(math.log(top / 0.01) / (levels - 1))
        assert 0.5 < shell_overlap(gamma, dim) < 0.6
        assert 0.9 * levels < ncsnv2_levels(top, 0.01, dim) <= levels


def test_low_dimensional_data_needs_explicit_levels():
    with pytest.raises(ConfigError, match="model.levels"):
        NCSN(NCSN.Config(hidden=8, depth=1), DataSpec((2,)))
    assert len(NCSN(NCSN.Config(hidden=8, depth=1, sigma_max=4.0), DataSpec((64,))).sigmas) == \
        ncsnv2_levels(4.0, 0.01, 64)


@pytest.mark.parametrize("options", [{"sigma_min": 0.0}, {"sigma_max": 0.005}, {"levels": 1},
                                     {"levels": 10**9}, {"eps": 0.0}, {"steps_per_level": 0},
                                     {"mults": ()}])
def test_bad_options_are_refused(options):
    with pytest.raises(ConfigError):
        NCSN.Config(**options)


def test_ncsnv2_eps_reproduces_the_papers_step_sizes():
    """NCSNv2's configs (official code, T = 5 steps per level, sigma_L = 0.01) use step_lr 6.2e-6 on
    CIFAR-10 (sigma_1 = 50, L = 232) and 3.3e-6 on CelebA (90, 500), in the code's step
    x + alpha s + sqrt(2 alpha) z, i.e. eps = 2 step_lr in Algorithm 1's convention used here."""
    for top, levels, step_lr in ((50.0, 232, 6.2e-6), (90.0, 500, 3.3e-6)):
        gamma = math.exp(math.log(top / 0.01) / (levels - 1))
        assert ncsnv2_eps(gamma, 0.01, 5) == pytest.approx(2 * step_lr, rel=0.03)


def test_variance_ratio_matches_annealed_langevin_on_a_point_mass():
    """Technique 4's recursion against the shared sampler: data at 0, one level sigma_i, chains started
    from N(0, sigma_{i-1}^2 I); the sample variance after T steps is r_T sigma_i^2."""
    gamma, steps, eps, sigma_l = 1.5, 7, 3e-5, 0.01
    sigma_i = 0.2
    sampler = AnnealedLangevin((sigma_i,), eps * (sigma_i / sigma_l) ** 2, steps, denoise=False)
    torch.manual_seed(0)
    x0 = gamma * sigma_i * torch.randn(200_000, 2, dtype=torch.float64)
    x = sampler(lambda y, s: -y / s[:, None] ** 2, x0)
    got = float(x.square().mean()) / sigma_i**2
    want = variance_ratio_after(steps, gamma, eps / sigma_l**2)
    # why: the relative standard error of a variance estimate from 4e5 squares is sqrt(2 / 4e5) ~ 0.002
    assert got == pytest.approx(want, rel=0.01)
    assert abs(got - gamma**2) > 0.1  # the chains moved


def test_model_step_size_is_technique_4_unless_given():
    model = NCSN(NCSN.Config(hidden=8, depth=1, levels=20, sigma_max=2.89, steps_per_level=20), (2,))
    sig = model.sigmas
    assert model.step_size() == pytest.approx(ncsnv2_eps(sig[0] / sig[1], 0.01, 20))
    assert model.sampler().eps == model.step_size() and model.sampler(steps_per_level=5).eps == \
        pytest.approx(ncsnv2_eps(sig[0] / sig[1], 0.01, 5))
    fixed = NCSN(NCSN.Config(hidden=8, depth=1, levels=20, sigma_max=2.89, eps=1e-4), (2,))
    assert fixed.sampler().eps == 1e-4
