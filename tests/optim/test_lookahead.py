import copy

import pytest
import torch
from pytorch_optimizer import Lookahead as KozistrLookahead

from genlab.optim import Lookahead
from tests.optim.problems import TinyModel, backward_at, loss_at


def _pair(make_base, k, alpha):
    ours, ref = TinyModel(), TinyModel()
    return (ours, Lookahead(make_base(ours.parameters()), k=k, alpha=alpha),
            ref, KozistrLookahead(make_base(ref.parameters()), k=k, alpha=alpha))


@pytest.mark.parametrize("make_base", [
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: torch.optim.Adam(ps, lr=0.05),
])
@pytest.mark.parametrize(("k", "alpha"), [(5, 0.5), (3, 0.8), (1, 0.3)])
def test_matches_pytorch_optimizer_lookahead(make_base, k, alpha):
    # pytorch_optimizer syncs after every k-th step with p.lerp_(slow, 1 - alpha), slow <- p: the same
    # rule and the same floating-point operation, so the trajectories agree bit for bit.
    ours, opt, ref, ref_opt = _pair(make_base, k, alpha)
    for t in range(20):
        backward_at(ours, opt, t)
        backward_at(ref, ref_opt, t)
        opt.step()
        ref_opt.step()
        for p, q in zip(ours.parameters(), ref.parameters()):
            assert torch.equal(p, q), f"step {t}"


def test_slow_weights_start_at_initial_params_and_sync_by_hand():
    model = TinyModel()
    inner = copy.deepcopy(model)
    theta0 = [p.detach().clone() for p in model.parameters()]
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5), k=4, alpha=0.25)
    for p, t0 in zip(model.parameters(), theta0):
        assert torch.equal(opt.state[p]["slow"], t0)
    inner_opt = torch.optim.SGD(inner.parameters(), lr=0.1, momentum=0.5)
    for t in range(4):
        backward_at(model, opt, t)
        opt.step()
        backward_at(inner, inner_opt, t)
        inner_opt.step()
    for p, q, t0 in zip(model.parameters(), inner.parameters(), theta0):
        expected = t0 + 0.25 * (q.detach() - t0)  # slow + alpha (fast - slow)
        torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-15)
        assert torch.equal(opt.state[p]["slow"], p.detach())


def test_scheduler_on_wrapper_acts_on_base():
    a, b = TinyModel(), TinyModel()
    opt_a = Lookahead(torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9), k=3)
    base_b = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    opt_b = Lookahead(base_b, k=3)
    sched_a = torch.optim.lr_scheduler.StepLR(opt_a, step_size=2, gamma=0.5)
    sched_b = torch.optim.lr_scheduler.StepLR(base_b, step_size=2, gamma=0.5)
    assert opt_a.param_groups is opt_a.base.param_groups
    for t in range(9):
        backward_at(a, opt_a, t)
        backward_at(b, opt_b, t)
        opt_a.step()
        opt_b.step()
        sched_a.step()
        sched_b.step()
    assert opt_a.base.param_groups[0]["lr"] == base_b.param_groups[0]["lr"] == 0.1 * 0.5**4
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_grad_scaler_steps_through_and_skips_inf():
    plain, scaled = TinyModel(), TinyModel()
    opt_p = Lookahead(torch.optim.Adam(plain.parameters(), lr=0.05), k=2)
    opt_s = Lookahead(torch.optim.Adam(scaled.parameters(), lr=0.05), k=2)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=1000)
    for t in range(5):
        backward_at(plain, opt_p, t)
        opt_p.step()
        opt_s.zero_grad()
        scaler.scale(loss_at(scaled, t)).backward()
        scaler.step(opt_s)
        scaler.update()
    # a power-of-two loss scale and its inverse are exact, so unscaled gradients are bit-identical
    for p, q in zip(plain.parameters(), scaled.parameters()):
        assert torch.equal(p, q)
    before = [p.detach().clone() for p in scaled.parameters()]
    opt_s.zero_grad()
    scaler.scale(loss_at(scaled, 5)).backward()
    scaled.lin.weight.grad[0, 0] = float("inf")
    scaler.step(opt_s)
    scaler.update()
    assert opt_s.fast_steps == 5
    for p, b in zip(scaled.parameters(), before):
        assert torch.equal(p, b)


def test_slow_weights_context_restores_fast():
    model = TinyModel()
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), k=5)
    backward_at(model, opt, 0)
    opt.step()
    fast = [p.detach().clone() for p in model.parameters()]
    with opt.slow_weights():
        for p in model.parameters():
            assert torch.equal(p, opt.state[p]["slow"])
    for p, f in zip(model.parameters(), fast):
        assert torch.equal(p, f)


@pytest.mark.parametrize(("k", "alpha"), [(0, 0.5), (-1, 0.5), (2.5, 0.5), (True, 0.5), (5, -0.1), (5, 1.5)])
def test_bad_arguments(k, alpha):
    model = TinyModel()
    with pytest.raises(ValueError):
        Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), k=k, alpha=alpha)


def test_base_must_be_optimizer():
    with pytest.raises(TypeError):
        Lookahead([torch.zeros(2)])


def test_ema_after_each_step_averages_the_fast_weights():
    # The docstring's rule: update the EMA after every Lookahead step; it then averages the parameters
    # the step leaves (the fast weights, which are the slow weights right after a sync).
    from genlab.train.ema import EMA

    model = TinyModel()
    params = list(model.parameters())
    opt = Lookahead(torch.optim.SGD(params, lr=0.1, momentum=0.9), k=3, alpha=0.5)
    ema = EMA(params, decay=0.8)
    ref = [p.detach().clone() for p in params]
    for t in range(8):
        backward_at(model, opt, t)
        opt.step()
        if (t + 1) % 3 == 0:  # a sync step: the parameters are the slow weights
            assert all(torch.equal(p, opt.state[p]["slow"]) for p in params)
        ema.update()
        d = min(0.8, (1 + t) / (10 + t))  # the EMA's warm-up
        ref = [d * r + (1 - d) * p.detach() for r, p in zip(ref, params)]
    for s, r in zip(ema.shadow, ref):
        torch.testing.assert_close(s, r, rtol=1e-12, atol=1e-12)  # why: float64, lerp vs hand formula
    slow = [opt.state[p]["slow"] for p in params]
    assert any(not torch.equal(s, p) for s, p in zip(slow, params))  # step 8 is no sync: fast != slow
