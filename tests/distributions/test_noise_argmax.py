import numpy as np
import pytest
import torch
from scipy import integrate, stats

from genlab.distributions import noise_argmax_probs, quadrature_rule

# Test vector of the spec (generative.md section 13, [checked]).
MU = [1.0, 0.3, -0.5, 2.0, 0.0]


def probit_log_reference(mu: list[float]) -> np.ndarray:
    """Gaussian-noise argmax log-probabilities by adaptive scipy quadrature of the density form."""
    mu = np.asarray(mu)

    def win(i: int) -> float:
        others, centre = np.delete(mu, i), (mu.max() - mu[i]) / 2  # the integrand peaks near centre
        f = lambda e: np.exp(stats.norm.logpdf(e) + stats.norm.logcdf(mu[i] - others + e).sum())  # noqa: E731
        return integrate.quad(f, centre - 15, centre + 15, points=[centre], epsabs=0, epsrel=1e-11,
                              limit=200)[0]

    return np.log([win(i) for i in range(len(mu))])


def test_plain_rule_gumbel_error_shrinks_as_spec_table():
    mu = torch.tensor(MU, dtype=torch.float64)
    # Spec table ([checked]): Gumbel max error vs softmax, midpoint nodes, no shift.
    spec = {10: 7.7e-3, 50: 3.4e-4, 200: 2.1e-5, 1000: 8.6e-7}
    errors = [(noise_argmax_probs(mu, "gumbel", K=K, nodes="midpoint", gap_shift=0) - mu.softmax(-1))
              .abs().max().item() for K in spec]
    assert all(a > b for a, b in zip(errors, errors[1:]))
    for err, expected in zip(errors, spec.values()):
        assert expected / 1.1 < err < expected * 1.1  # why: the spec quotes two significant digits
    # Measured order: about K^-2 (each 5x more nodes cut the error by ~20-25x).
    assert errors[0] / errors[1] > 15 and errors[2] / errors[3] > 15
    # The default (nodes shifted by the logit gap) is more accurate at every K and still monotone.
    shifted = [(noise_argmax_probs(mu, "gumbel", K=K) - mu.softmax(-1)).abs().max().item() for K in spec]
    assert all(a > b for a, b in zip(shifted, shifted[1:]))
    assert all(s < e / 3 for s, e in zip(shifted, errors))


def test_plain_rule_gaussian_sums_and_nodes_match_spec():
    mu = torch.tensor(MU, dtype=torch.float64)
    # Spec [checked]: total mass with midpoints 0.980 / 0.9974 / 0.99962 / 0.99996, k/(K+1) nodes
    # 0.939 / 0.980 / 0.994 / 0.9986 at K = 10 / 50 / 200 / 1000; tolerance = half the last quoted digit.
    Ks, tol = (10, 50, 200, 1000), [5e-4, 5e-5, 5e-6, 5e-6]
    mid = [noise_argmax_probs(mu, "gaussian", K=K, nodes="midpoint", gap_shift=0).sum().item() for K in Ks]
    for got, want, t in zip(mid, [0.980, 0.9974, 0.99962, 0.99996], tol):
        assert abs(got - want) <= t
    interior = [noise_argmax_probs(mu, "gaussian", K=K, nodes="interior", gap_shift=0).sum().item()
                for K in Ks]
    for got, want, t in zip(interior, [0.939, 0.980, 0.994, 0.9986], [5e-4, 5e-4, 5e-4, 5e-5]):
        assert abs(got - want) <= t
    # Spec's log-space values at K=200: [0.2004, 0.0673, 0.0142, 0.6784, 0.0392].
    torch.testing.assert_close(noise_argmax_probs(mu, "gaussian", K=200, nodes="midpoint", gap_shift=0),
                               torch.tensor([0.2004, 0.0673, 0.0142, 0.6784, 0.0392], dtype=torch.float64),
                               atol=5e-5, rtol=0)


def test_gaussian_matches_adaptive_quadrature():
    mu = torch.tensor(MU, dtype=torch.float64)
    ref = torch.from_numpy(probit_log_reference(MU)).exp()
    torch.testing.assert_close(noise_argmax_probs(mu, "gaussian", K=1000), ref, atol=2e-5, rtol=0)
    torch.testing.assert_close(noise_argmax_probs(mu, "gaussian", K=64, renormalize=True).sum(),
                               torch.tensor(1.0, dtype=torch.float64))


def test_far_behind_categories_keep_relative_accuracy():
    # Gaps up to 10: the last winning probabilities are ~1e-14 (Gaussian) and ~4e-5 (Gumbel).
    mu_list = [-2.29, 3.75, -0.62, 0.48, -2.70, 0.49, -6.29]
    mu = torch.tensor(mu_list, dtype=torch.float64)
    ref = torch.from_numpy(probit_log_reference(mu_list))
    log_p = noise_argmax_probs(mu, "gaussian", K=256, log=True)
    assert (log_p - ref).abs().max() < 2e-3  # measured 1e-3 at K=256, ~K^-1.6
    # The blog's plain rule (midpoints, no shift): the far category's log-probability is wrong by tens
    # of nats.
    plain = noise_argmax_probs(mu, "gaussian", K=256, log=True, nodes="midpoint", gap_shift=0)
    assert (plain - ref).abs().max() > 10
    gumbel = noise_argmax_probs(mu, "gumbel", K=64, log=True)
    assert (gumbel - mu.log_softmax(-1)).abs().max() < 1e-3  # measured 3e-4, same for every category


def test_gumbel_batched_random_logits_match_softmax():
    g = torch.Generator().manual_seed(0)
    logits = 2 * torch.randn(3, 4, 7, generator=g, dtype=torch.float64)
    p = noise_argmax_probs(logits, "gumbel", K=400)
    assert p.shape == logits.shape
    # why: relative error of every p_i is ~3e-4 * (64/K) here (measured)
    torch.testing.assert_close(p, logits.softmax(-1), atol=0, rtol=1e-4)
    torch.testing.assert_close(p[1, 2], noise_argmax_probs(logits[1, 2], "gumbel", K=400))


@pytest.mark.parametrize("noise", ["gaussian", "gumbel"])
def test_sum_to_one_shift_invariance_and_log(noise):
    logits = torch.tensor([[0.5, -1.0, 2.0, 0.0], [3.0, 3.0, -2.0, 1.0]], dtype=torch.float64)
    p = noise_argmax_probs(logits, noise, K=1000)
    torch.testing.assert_close(p.sum(-1), torch.ones(2, dtype=torch.float64), atol=1e-4, rtol=0)
    torch.testing.assert_close(noise_argmax_probs(logits + 5.0, noise, K=1000), p)
    torch.testing.assert_close(noise_argmax_probs(logits, noise, K=1000, log=True).exp(), p)
    assert p[1, 0] == p[1, 1]  # ties give equal probabilities
    assert (p[0].argsort() == logits[0].argsort()).all()  # order-preserving


def test_custom_distribution_objects():
    mu = torch.tensor(MU, dtype=torch.float64)
    zero, one = torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
    gumbel = noise_argmax_probs(mu, torch.distributions.Gumbel(zero, one), K=200)  # plain rule for objects
    torch.testing.assert_close(gumbel, mu.softmax(-1), atol=3e-5, rtol=0)
    shifted = noise_argmax_probs(mu, torch.distributions.Gumbel(zero, one), K=200, gap_shift=1)
    torch.testing.assert_close(shifted, noise_argmax_probs(mu, "gumbel", K=200))
    normal = noise_argmax_probs(mu, torch.distributions.Normal(0.0, 1.0), K=200, gap_shift=0.5)
    torch.testing.assert_close(normal, noise_argmax_probs(mu, "gaussian", K=200))
    laplace = noise_argmax_probs(mu, torch.distributions.Laplace(0.0, 1.0), K=2000)
    assert abs(laplace.sum().item() - 1) < 1e-3 and laplace.argmax() == 3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtypes_and_gradient(dtype):
    mu = torch.tensor(MU, dtype=dtype, requires_grad=True)
    p = noise_argmax_probs(mu, "gumbel", K=200)
    assert p.dtype == dtype
    torch.testing.assert_close(p, mu.softmax(-1), atol=3e-5, rtol=0)  # why: K=200 error is 2.1e-5
    # d p_3 / d mu must match softmax's Jacobian row up to quadrature error.
    (grad,) = torch.autograd.grad(p[3], mu)
    (ref,) = torch.autograd.grad(mu.softmax(-1)[3], mu)
    torch.testing.assert_close(grad, ref, atol=2e-4, rtol=0)


def test_gradcheck_gaussian():
    mu = torch.tensor([[0.2, -0.4, 1.1]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: noise_argmax_probs(x, "gaussian", K=16), (mu,))


def test_bad_inputs():
    mu = torch.tensor(MU)
    with pytest.raises(ValueError, match="K"):
        noise_argmax_probs(mu, K=1)
    with pytest.raises(ValueError, match="noise"):
        noise_argmax_probs(mu, noise="cauchy-ish")
    with pytest.raises(ValueError, match="nodes"):
        noise_argmax_probs(mu, nodes="trapezoid")
    with pytest.raises(ValueError, match="logits"):
        noise_argmax_probs(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="logits"):
        noise_argmax_probs(torch.tensor([0.0, float("inf")]))
    with pytest.raises(TypeError, match="noise"):
        noise_argmax_probs(mu, noise=object())
    with pytest.raises(ValueError, match="gap_shift"):
        noise_argmax_probs(mu, gap_shift=-1.0)
    with pytest.raises(ValueError, match="K"):
        quadrature_rule(2.5)


def random_logits(rows: int = 100, n: int = 8, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(rows, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_graded_rule_converges_at_third_order_on_random_logits():
    """The docstring's claim: the default graded rule falls ~80x per 4x nodes (~K^-3), ~3e-12 at
    K=1000, where equal-weight midpoints are only first order (the t^(1/p - 1) endpoint singularity)."""
    mu = random_logits()
    err = {K: (noise_argmax_probs(mu, "gumbel", K=K) - mu.softmax(-1)).abs().max().item()
           for K in (250, 1000, 4000)}
    assert err[1000] < 1e-10
    assert err[250] / err[1000] > 40 and err[1000] / err[4000] > 40  # better than K^-2.6
    plain = {K: (noise_argmax_probs(mu, "gumbel", K=K, nodes="midpoint", gap_shift=0) - mu.softmax(-1))
             .abs().max().item() for K in (250, 1000, 4000)}
    assert 3 < plain[250] / plain[1000] < 6 and 3 < plain[1000] / plain[4000] < 6  # first order
    assert plain[1000] > 1e-5


def test_graded_rule_gaussian_self_convergence():
    mu = random_logits(rows=20)
    ref = noise_argmax_probs(mu, "gaussian", K=20000)
    err = {K: (noise_argmax_probs(mu, "gaussian", K=K) - ref).abs().max().item() for K in (250, 1000)}
    assert err[1000] < 1e-9 and err[250] / err[1000] > 40
