"""Fréchet distance: closed forms, scipy's sqrtm value, torchmetrics' FID with a custom extractor."""

import socket
import warnings

import numpy as np
import pytest
import torch
from scipy import linalg
from torch import nn

from genlab.core.errors import DataError
from genlab.eval.metrics.frechet import (
    FeatureStats,
    frechet_distance,
    frechet_distance_features,
    trace_sqrt_product,
)


def _features(n, d, seed, shift=0.0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5
    return (torch.randn(n, d, generator=g, dtype=torch.float64) @ (torch.eye(d) + mix)) * scale + shift


def _scipy_fd(x, y):
    x, y = x.numpy(), y.numpy()
    m1, m2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access during a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_matches_scipy_sqrtm_on_well_conditioned_features():
    x, y = _features(3000, 32, 0), _features(3000, 32, 1, shift=0.3, scale=1.2)
    fd = frechet_distance_features(x, y)
    assert fd == pytest.approx(_scipy_fd(x, y), rel=1e-9, abs=1e-9)
    assert fd > 1.0


def test_closed_form_for_diagonal_covariances():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(10, generator=g, dtype=torch.float64) + 0.1, torch.rand(10, generator=g,
                                                                              dtype=torch.float64)
    mu1, mu2 = torch.randn(10, generator=g, dtype=torch.float64), torch.zeros(10, dtype=torch.float64)
    expected = (mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum()
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(float(expected),
                                                                                     rel=1e-12)


def test_commuting_covariances_and_basic_properties():
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3)))
    e1, e2 = torch.arange(1.0, 7.0, dtype=torch.float64), torch.linspace(0.5, 3, 6, dtype=torch.float64)
    s1, s2 = q @ torch.diag(e1) @ q.T, q @ torch.diag(e2) @ q.T
    assert trace_sqrt_product(s1, s2) == pytest.approx(float((e1 * e2).sqrt().sum()), rel=1e-10)
    x, y = _features(500, 8, 4), _features(500, 8, 5, shift=1.0)
    assert frechet_distance_features(x, x) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance_features(x, y) == pytest.approx(frechet_distance_features(y, x), rel=1e-9)
    # singular covariances (a collapsed generator) still give a finite, non-negative number
    collapsed = x[:1].repeat(50, 1)
    fd = frechet_distance(x.mean(0), torch.cov(x.T), collapsed.mean(0), torch.cov(collapsed.T))
    assert np.isfinite(fd) and fd > 0


def test_matches_torchmetrics_fid_with_custom_extractor(offline):
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Identity(nn.Module):
        num_features = 16

        def forward(self, x):
            return x

    x, y = _features(2000, 16, 6, shift=100.0, scale=10.0), _features(2000, 16, 7, shift=100.5, scale=10.0)
    fid = FrechetInceptionDistance(feature=Identity(), normalize=True)
    for part in x.split(500):
        fid.update(part, real=True)
    for part in y.split(500):
        fid.update(part, real=False)
    ours = frechet_distance_features(x, y)
    assert ours == pytest.approx(float(fid.compute()), rel=1e-6)


def test_streaming_stats_merge_save_load(tmp_path):
    x = _features(1000, 12, 8, shift=1e4)  # large mean: one-pass formulas would cancel
    whole = FeatureStats.of(x)
    parts = FeatureStats(12)
    for chunk in x.split(137):
        parts.update(chunk)
    other = FeatureStats.of(x[:400]).merge(FeatureStats.of(x[400:]))
    for s in (parts, other):
        assert s.n == 1000
        torch.testing.assert_close(s.mean, x.mean(0), rtol=1e-12, atol=1e-9)
        torch.testing.assert_close(s.cov, torch.cov(x.T), rtol=1e-9, atol=1e-9)
    path = whole.save(tmp_path / "stats.safetensors")
    back = FeatureStats.load(path)
    assert back.n == 1000 and torch.equal(back.mean, whole.mean) and torch.equal(back.scatter, whole.scatter)


def test_bad_input_and_rank_deficiency():
    x = _features(20, 32, 9)
    with pytest.warns(UserWarning, match="rank deficient"):
        frechet_distance_features(x, _features(20, 32, 10))
    with pytest.raises(DataError, match="at least 2"):
        frechet_distance_features(x[:1], x)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        frechet_distance_features(bad, x)
    with pytest.raises(DataError, match="dims"):
        FeatureStats(3).update(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frechet_distance_features(_features(200, 8, 11), _features(200, 8, 12))


def test_statistics_leave_inputs_alone_and_still_refuse_non_finite_values():
    x64 = torch.randn(50, 4, dtype=torch.float64)
    arr = x64.numpy().copy()
    for given in (x64, arr, x64[::2], x64.float()):
        before = torch.as_tensor(given).clone()
        FeatureStats.of(given)
        assert torch.equal(torch.as_tensor(given), before)
    assert np.array_equal(arr, x64.numpy())
    huge = torch.full((4, 2), 1e308, dtype=torch.float64)  # finite entries whose sum overflows
    assert FeatureStats.of(huge).n == 4
    for bad in (float("nan"), float("inf")):
        y = torch.randn(10, 3)
        y[3, 1] = bad
        with pytest.raises(DataError, match="NaN or inf"):
            FeatureStats.of(y)
