"""Noise levels: geometric, sigma_1 from the data's largest pairwise distance (NCSNv2 techniques 1-2)."""

import math

import pytest
import torch

from genlab.core.errors import ConfigError, DataError
from genlab.core.protocol import DataSpec, StepContext
from genlab.models.ncsn import NCSN, largest_pairwise_distance, ncsnv2_levels, ncsnv2_ratio, shell_overlap


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


@pytest.mark.parametrize("options", [{"sigma_min": 0.0}, {"sigma_max": 0.005}, {"levels": 1}, {"eps": 0.0},
                                     {"steps_per_level": 0}, {"mults": ()}])
def test_bad_options_are_refused(options):
    with pytest.raises(ConfigError):
        NCSN.Config(**options)
