"""GAN objectives and the eight f-divergences (conjugates, fused forms, critic optimum)."""

import math

import pytest
import torch
import torch.nn.functional as F

from genlab.adversarial import DIVERGENCES, build_objective, get_divergence
from genlab.adversarial.objectives import FGAN
from genlab.core.errors import ConfigError

EIGHT = ("total_variation", "kl", "reverse_kl", "pearson_chi2", "neyman_chi2", "squared_hellinger",
         "jensen_shannon", "gan")
# Two discrete distributions on 5 points, both with full support.
P = torch.tensor([0.10, 0.40, 0.20, 0.25, 0.05], dtype=torch.float64)
Q = torch.tensor([0.30, 0.10, 0.25, 0.15, 0.20], dtype=torch.float64)


def closed_form(name: str) -> float:
    """Each divergence written directly from its textbook definition."""
    m = (P + Q) / 2
    kl = lambda a, b: float((a * (a / b).log()).sum())  # noqa: E731
    return {
        "total_variation": 0.5 * float((P - Q).abs().sum()),
        "kl": kl(P, Q),
        "reverse_kl": kl(Q, P),
        "pearson_chi2": float(((P - Q) ** 2 / Q).sum()),
        "neyman_chi2": float(((Q - P) ** 2 / P).sum()),
        "squared_hellinger": float(((P.sqrt() - Q.sqrt()) ** 2).sum()),
        "jensen_shannon": 0.5 * kl(P, m) + 0.5 * kl(Q, m),
        "gan": kl(P, m) + kl(Q, m) - math.log(4),
    }[name]


def test_all_eight_registered():
    assert set(DIVERGENCES) == set(EIGHT)
    with pytest.raises(ConfigError, match="choose one of"):
        get_divergence("jeffrey")


@pytest.mark.parametrize("name", EIGHT)
def test_f_is_a_divergence_generator(name):
    div = get_divergence(name)
    f1 = -math.log(4) if name == "gan" else 0.0  # the paper's GAN row is 2 JSD - log 4
    assert float(div.f(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(f1, abs=1e-12)
    assert float(div.divergence(P, Q)) == pytest.approx(closed_form(name), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", EIGHT)
def test_fenchel_young_and_fused_form(name):
    div = get_divergence(name)
    u = torch.logspace(-2, 2, 41, dtype=torch.float64)
    v = torch.linspace(-4, 4, 81, dtype=torch.float64)
    t = div.activation(v)
    lo, hi = div.t_range
    assert bool(((t > lo) & (t < hi)).all()), "activation must map into the conjugate's domain"
    # Fenchel-Young: f(u) + g(t) >= u t for all u > 0, t in the domain ...
    gap = div.f(u)[:, None] + div.conjugate(t)[None, :] - u[:, None] * t[None, :]
    assert float(gap.min()) > -1e-9
    # ... with equality at t = f'(u) (TV: only where f is differentiable, u != 1).
    uu = u[(u - 1).abs() > 1e-6]
    tight = div.f(uu) + div.conjugate(div.f_prime(uu)) - uu * div.f_prime(uu)
    assert torch.allclose(tight, torch.zeros_like(tight), atol=1e-10)
    # the fused g(T(v)) is the composition
    assert torch.allclose(div.fused_conjugate(v), div.conjugate(t), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", EIGHT)
def test_critic_optimum_recovers_divergence(name):
    div = get_divergence(name)
    # T*(x) = f'(p(x)/q(x)) attains sup_T E_p T - E_q g(T) = D_f(P || Q)
    t_star = div.f_prime(P / Q)
    value = float((P * t_star).sum() - (Q * div.conjugate(t_star)).sum())
    assert value == pytest.approx(closed_form(name), rel=1e-9, abs=1e-12)
    # and a free critic v(x) trained on the f-GAN critic loss (fused form) gets there too
    v = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    obj = FGAN(name)
    opt = torch.optim.LBFGS([v], lr=0.5, max_iter=50, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        # expectations as weighted sums: E_p T(v) - E_q g(T(v)), negated
        loss = -(P * div.activation(v)).sum() + (Q * div.fused_conjugate(v)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    learned = -float(closure().detach())
    tol = 2e-3 if name == "total_variation" else 1e-7  # tanh only approaches +-1/2
    assert learned == pytest.approx(closed_form(name), abs=tol)
    assert learned <= closed_form(name) + 1e-9  # a variational lower bound
    # the objective's batch-mean loss is the same quantity on samples
    assert obj.critic_loss(v[:2], v[2:]).ndim == 0


@pytest.mark.parametrize("name", EIGHT)
def test_optimal_raw_critic_scores_real_data_high(name):
    div = get_divergence(name)
    # the critic's raw score v at the optimum of E_p T(v) - E_q g(T(v)), found per atom
    v = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([v], lr=0.5, max_iter=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = -(P * div.activation(v)).sum() + (Q * div.fused_conjugate(v)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    v = v.detach()
    assert float((P * v).sum()) > float((Q * v).sum()), "E_real v must exceed E_fake v"
    if name == "total_variation":  # T* = sign(p - q) / 2: v only runs off towards +-inf
        assert bool(((v > 0) == (P > Q)).all())
    else:  # v rises with the density ratio p/q, atom by atom
        order = torch.argsort(P / Q)
        assert bool((v[order].diff() > 0).all())


def test_gan_divergence_is_the_original_gan():
    v = torch.randn(100, dtype=torch.float64)
    fgan, mm, ns = FGAN("gan", "minimax"), build_objective("minimax"), build_objective("nonsaturating")
    real, fake = v[:50], v[50:]
    assert torch.allclose(fgan.critic_loss(real, fake), mm.critic_loss(real, fake))
    assert torch.allclose(fgan.generator_loss(fake), mm.generator_loss(fake))
    assert torch.allclose(FGAN("gan", "alt").generator_loss(fake), ns.generator_loss(fake))


def test_objective_values_follow_real_high_convention():
    real = torch.tensor([2.0, 3.0])
    fake = torch.tensor([-1.0, 0.5])
    w = build_objective("wasserstein")
    assert float(w.critic_loss(real, fake)) == pytest.approx(-0.25 - 2.5)
    assert float(w.generator_loss(fake)) == pytest.approx(0.25)
    h = build_objective("hinge")
    assert float(h.critic_loss(real, fake)) == pytest.approx(0.0 + (0.0 + 1.5) / 2)
    ls = build_objective("least_squares")
    assert float(ls.critic_loss(real, fake)) == pytest.approx(0.5 * (1 + 4) / 2 + 0.5 * (1 + 0.25) / 2)
    assert float(ls.generator_loss(fake)) == pytest.approx(0.5 * (4 + 0.25) / 2)
    bce = build_objective("minimax")
    expect = F.binary_cross_entropy_with_logits(real, torch.ones(2)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros(2))
    assert torch.allclose(bce.critic_loss(real, fake), expect)
    # from a confused critic, every critic loss falls as real scores rise and fake scores fall
    r, f = torch.tensor([-1.0, 0.2]), torch.tensor([0.5, 0.9])
    for name in ("minimax", "hinge", "least_squares", "wasserstein"):
        o = build_objective(name)
        assert o.critic_loss(r + 0.3, f - 0.3) < o.critic_loss(r, f), name
        assert o.generator_loss(f - 0.3) > o.generator_loss(f), name


def test_bad_objective_names():
    with pytest.raises(ConfigError, match="wasserstein"):
        build_objective("wgan")
    with pytest.raises(ConfigError, match="alt"):
        build_objective("fgan", "kl", "nope")
