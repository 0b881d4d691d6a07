"""Exact W2 between sample sets: POT's exact EMD, brute force over permutations, toy_metrics."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from genlab.config import DataConfig
from genlab.core.assignment import optimal_pairing
from genlab.core.errors import DataError
from genlab.data import load_dataset
from genlab.eval.metrics import wasserstein2
from genlab.eval.samples import toy_metrics


def test_matches_pot_exact_emd():
    ot = pytest.importorskip("ot")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, generator=g, dtype=torch.float64)
    y = 0.7 * torch.randn(300, 2, generator=g, dtype=torch.float64) + torch.tensor([1.0, -0.5])
    m = ot.dist(x.numpy(), y.numpy(), metric="sqeuclidean")
    w = torch.full((300,), 1 / 300, dtype=torch.float64).numpy()
    ref = math.sqrt(ot.emd2(w, w, m))
    assert wasserstein2(x, y)["w2"] == pytest.approx(ref, rel=1e-10)


def test_matches_brute_force_and_pairing():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64)
    y = torch.randn(6, 3, generator=g, dtype=torch.float64)
    sq = torch.cdist(x, y).square()
    best = min(float(sq[torch.arange(6), list(p)].mean()) for p in itertools.permutations(range(6)))
    out = wasserstein2(x, y)
    assert out["n"] == 6 and out["w2"] == pytest.approx(math.sqrt(best), rel=1e-12)
    perm, d = optimal_pairing(x, y)
    assert sorted(perm.tolist()) == list(range(6))
    torch.testing.assert_close(d, sq[torch.arange(6), perm])
    # a shuffled copy is at distance 0 and the pairing undoes the shuffle; a translation costs |shift|
    shuffle = torch.randperm(6, generator=g)
    assert torch.equal(optimal_pairing(x, x[shuffle])[0], torch.argsort(shuffle))
    shift = torch.tensor([0.3, -0.4, 1.2], dtype=torch.float64)
    assert wasserstein2(x, x[shuffle])["w2"] == 0.0
    assert wasserstein2(x, x + shift)["w2"] == pytest.approx(float(shift.norm()), rel=1e-12)


def test_bad_input():
    with pytest.raises(DataError, match="equal shape"):
        wasserstein2(torch.zeros(5, 2), torch.zeros(4, 2))
    with pytest.raises(DataError):
        wasserstein2(torch.full((3, 2), float("nan")), torch.zeros(3, 2))


def test_toy_metrics_report_w2_with_its_n():
    data = load_dataset(DataConfig(name="moons", n_samples=2000))
    same = toy_metrics(data.train[:600], data)
    assert same["w2_n"] == 400 == len(data.test)  # min(n_fake, n_test, 2000)
    moved = toy_metrics(data.train[:600] + torch.tensor([1.0, 0.0]), data)
    assert same["w2"] < 0.3 < 0.9 < moved["w2"]  # measured 0.18 (two samples of 400) and about 1
