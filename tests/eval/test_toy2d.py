"""Toy 2-D metrics: VEEGAN/PacGAN mode coverage calibration and the RBF MMD."""

import math

import pytest
import torch

from genlab.config import DataConfig
from genlab.core.errors import ConfigError, DataError
from genlab.data import load_dataset
from genlab.eval.metrics import mixture_log_likelihood, mmd_rbf, mode_coverage
from genlab.eval.sample_quality import toy_metrics


def _mixture(name, n, seed, modes=None, std_scale=1.0):
    ds = load_dataset(DataConfig(name=name, n_samples=10))
    centers, std = torch.tensor(ds.info["centers"], dtype=torch.float64), ds.info["std"]
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(modes or len(centers), (n,), generator=g)
    x = centers[idx] + std * std_scale * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return x, centers, std


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_perfect_samples_capture_all_modes(name):
    x, centers, std = _mixture(name, 2500, 0)
    m = mode_coverage(x, centers, std)
    assert m["modes"] == len(centers) == m["n_modes"] and m["n"] == 2500
    assert m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # 98.9 % even when perfect
    assert 0 <= m["reverse_kl"] < 0.02


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_three_mode_generator(name):
    x, centers, std = _mixture(name, 2500, 1, modes=3)
    m = mode_coverage(x, centers, std)
    assert m["modes"] == 3
    assert m["reverse_kl"] == pytest.approx(math.log(len(centers) / 3), abs=0.01)


def test_wide_samples_lose_quality_not_modes():
    x, centers, std = _mixture("8gaussians", 2500, 2, std_scale=2.0)
    m = mode_coverage(x, centers, std)
    assert m["modes"] == 8 and 0.6 < m["high_quality"] < 0.75  # 1 - exp(-9/8) = 0.675
    far = mode_coverage(x + 10.0, centers, std)
    assert far["modes"] == 0 and far["high_quality"] == 0 and far["reverse_kl"] == math.inf


def test_mixture_log_likelihood_prefers_true_samples():
    x, centers, std = _mixture("8gaussians", 1000, 3)
    wide, _, _ = _mixture("8gaussians", 1000, 3, std_scale=3.0)
    assert mixture_log_likelihood(x, centers, std) > mixture_log_likelihood(wide, centers, std)


def test_mmd_rbf_separates_distributions():
    x, _, _ = _mixture("25gaussians", 1000, 4)
    y, _, _ = _mixture("25gaussians", 1000, 5)
    z, _, _ = _mixture("25gaussians", 1000, 6, modes=5)
    same, diff = mmd_rbf(x, y), mmd_rbf(z, y)
    assert abs(same["mmd2"]) < 2e-3 < diff["mmd2"]
    assert same["bandwidth"] == diff["bandwidth"]  # set by the target only


def test_toy_metrics_pick_the_right_metric():
    mixture = load_dataset(DataConfig(name="8gaussians", n_samples=5000))
    out = toy_metrics(mixture.test, mixture)
    assert out["modes"] == 8 and "mmd2_rbf" in out and out["n_fake"] == 1000
    moons = load_dataset(DataConfig(name="moons", n_samples=2000))
    out = toy_metrics(moons.train[:500], moons)
    assert "modes" not in out and abs(out["mmd2_rbf"]) < 0.01


def test_bad_input():
    with pytest.raises(DataError, match="dims"):
        mode_coverage(torch.zeros(5, 3), torch.zeros(2, 2), 0.1)
    with pytest.raises(ConfigError):
        mode_coverage(torch.zeros(5, 2), torch.zeros(2, 2), 0.0)
    with pytest.raises(DataError, match="NaN"):
        mode_coverage(torch.full((5, 2), float("nan")), torch.zeros(2, 2), 0.1)
    with pytest.raises(DataError):
        mmd_rbf(torch.zeros(1, 2), torch.zeros(4, 2))
