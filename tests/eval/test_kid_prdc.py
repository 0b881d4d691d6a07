"""KID against a direct O(n^2) formula and torchmetrics; PRDC against the `prdc` package."""

import contextlib
import io

import pytest
import torch
from torch import nn

from genlab.core.errors import ConfigError, DataError
from genlab.eval.metrics.kid import kernel_distance, polynomial_mmd2
from genlab.eval.metrics.prdc import knn_radii, prdc


def _gauss(n, d, seed, shift=0.0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift


def _direct_mmd2(x, y):
    d = x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return float(xx + yy - 2 * xy)


def test_kid_unbiased_formula():
    x, y = _gauss(30, 5, 0), _gauss(25, 5, 1, shift=0.5)
    assert polynomial_mmd2(x, y) == pytest.approx(_direct_mmd2(x, y), rel=1e-10)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_matches_torchmetrics_on_a_single_full_subset():
    from torchmetrics.image.kid import KernelInceptionDistance

    class Identity(nn.Module):
        num_features = 8

        def forward(self, x):
            return x

    x, y = _gauss(300, 8, 2), _gauss(300, 8, 3, shift=0.3)
    tm = KernelInceptionDistance(feature=Identity(), subsets=1, subset_size=300, normalize=True)
    tm.update(x, real=True)
    tm.update(y, real=False)
    mean, _ = tm.compute()
    ours = kernel_distance(x, y, subsets=1, subset_size=300)
    assert ours["kid"] == pytest.approx(float(mean), rel=1e-6)
    assert ours["kid_std"] is None and ours["subset_size"] == 300


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance` will save")
def test_kid_with_few_examples_uses_half_size_subsets_with_a_real_spread():
    from torchmetrics.image.kid import KernelInceptionDistance

    class Identity(nn.Module):
        num_features = 8

        def forward(self, x):
            return x

    x, y = _gauss(300, 8, 4), _gauss(300, 8, 5, shift=0.3)
    ours = kernel_distance(x, y, subsets=40, subset_size=1000)
    assert ours["subset_size"] == 150
    full = polynomial_mmd2(x, y)
    # subsets of half the data differ, so the std is a real spread, not rounding noise (~1e-13)
    assert ours["kid_std"] > 1e-3 * abs(full)
    torch.manual_seed(0)
    tm = KernelInceptionDistance(feature=Identity(), subsets=40, subset_size=150, normalize=True)
    tm.update(x, real=True)
    tm.update(y, real=False)
    mean, std = tm.compute()
    # both are means of unbiased estimates over different random draws: agree within a few
    # standard errors of a 40-subset mean, and with the full-set estimate
    se = float(std) / 40 ** 0.5
    assert ours["kid"] == pytest.approx(float(mean), abs=6 * se)
    assert ours["kid"] == pytest.approx(full, abs=6 * se)
    assert ours["kid_std"] == pytest.approx(float(std), rel=0.5)


def test_kid_subsets_mean_std_and_separation():
    x, same, other = _gauss(2000, 16, 4), _gauss(2000, 16, 5), _gauss(2000, 16, 6, shift=0.5)
    a = kernel_distance(x, same, subsets=20, subset_size=500)
    b = kernel_distance(x, other, subsets=20, subset_size=500)
    assert abs(a["kid"]) < 3 * a["kid_std"] + 1e-3 < b["kid"]
    assert b["kid_std"] > 0 and a["n_real"] == 2000
    assert kernel_distance(x, other, subsets=5, subset_size=100, seed=1) == \
        kernel_distance(x, other, subsets=5, subset_size=100, seed=1)
    with pytest.raises(ConfigError):
        kernel_distance(x, other, subsets=0)
    with pytest.raises(DataError, match="dims"):
        polynomial_mmd2(x, other[:, :3])


@pytest.mark.parametrize("k", [3, 5])
def test_prdc_equals_prdc_package(k):
    from prdc import compute_prdc

    x, y = _gauss(700, 10, 7), _gauss(600, 10, 8, shift=0.2, scale=1.2)
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        ref = compute_prdc(x.numpy(), y.numpy(), nearest_k=k)
    ours = prdc(x, y, k_pr=k, k_dc=k, chunk_elements=20_000)  # many small chunks
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(float(ref[key]), abs=1e-12), key


def test_prdc_defaults_mix_k3_and_k5_and_identical_distributions():
    from prdc import compute_prdc

    x, y = _gauss(1000, 8, 9), _gauss(1000, 8, 10)
    ours = prdc(x, y)
    assert ours["k_pr"] == 3 and ours["k_dc"] == 5
    with contextlib.redirect_stdout(io.StringIO()):
        r3, r5 = compute_prdc(x.numpy(), y.numpy(), 3), compute_prdc(x.numpy(), y.numpy(), 5)
    for key, ref in (("precision", r3), ("recall", r3), ("density", r5), ("coverage", r5)):
        assert ours[key] == pytest.approx(float(ref[key]), abs=1e-12), key
    assert 0.9 < ours["density"] < 1.1 and ours["coverage"] > 0.9  # ~1 and ~1 - 2^-5


def test_knn_radii_and_errors():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    torch.testing.assert_close(knn_radii(x, 1), torch.tensor([1.0, 1.0, 2.0, 4.0], dtype=torch.float64))
    torch.testing.assert_close(knn_radii(x, 2, chunk_elements=1), torch.tensor([3.0, 2.0, 3.0, 6.0],
                                                                               dtype=torch.float64))
    with pytest.raises(ConfigError):
        knn_radii(x, 4)
    with pytest.raises(DataError, match="NaN"):
        prdc(torch.full((5, 2), float("nan")), x.repeat(1, 2))


def test_kid_of_float32_features_uses_float32_products_with_float64_sums():
    x, y = _gauss(400, 16, 4), _gauss(400, 16, 5, shift=0.2)
    exact = polynomial_mmd2(x, y)
    fast = polynomial_mmd2(x.float(), y.float())
    # only the products are float32: the result keeps ~float32 relative accuracy of the kernel means
    assert fast == pytest.approx(polynomial_mmd2(x.float().double(), y.float().double()), rel=1e-4)
    assert fast == pytest.approx(exact, rel=1e-4)
    assert polynomial_mmd2(x.float(), y) == pytest.approx(exact, rel=1e-6)  # mixed: float64


def test_kid_float32_kernel_error_is_far_below_float32_sums():
    """Row sums added in float64 keep a 1000 x 128-d subset within 1e-8 of the float64 estimate."""
    x, y = _gauss(1000, 128, 6).float(), _gauss(1000, 128, 7, shift=0.1).float()
    exact = polynomial_mmd2(x.double(), y.double())
    assert abs(polynomial_mmd2(x, y) - exact) < 1e-8
