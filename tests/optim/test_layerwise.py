import pytest
import torch
from pytorch_optimizer import Lamb

from genlab.optim import DecoupledWeightDecay, LayerwiseAdaptation
from tests.optim.problems import TinyModel, backward_at

LR, BETAS = 0.02, (0.9, 0.99)


def _params() -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(0)
    shapes, scales = [(5, 6), (4, 5), (4,)], [4.0, 1.0, 1.0]  # ||first|| ~ 22 > 10: the clamp matters
    return [torch.nn.Parameter(s * torch.randn(*shape, generator=gen, dtype=torch.float64))
            for shape, s in zip(shapes, scales)]


def _set_grads(params: list[torch.nn.Parameter], step: int) -> None:
    """Dense random gradients (eps = 0 below needs v > 0 everywhere)."""
    gen = torch.Generator().manual_seed(100 + step)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen, dtype=p.dtype)


def _kozistr_lamb(params, weight_decay):
    # adam_debias=True makes the step size lr (not lr / (1 - beta1^t)); pre_norm=False: no gradient
    # rescaling; eps=0: Adam's and LAMB's eps are placed differently, so they only agree without it.
    return Lamb(params, lr=LR, betas=BETAS, weight_decay=weight_decay, weight_decouple=True,
                fixed_decay=False, rectify=False, grad_averaging=True, adam=False, pre_norm=False,
                eps=0.0, foreach=False, adam_debias=True)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_matches_pytorch_optimizer_lamb(weight_decay):
    # Trust ratio ||p|| / ||update / lr|| makes the step scale-free, so torch Adam's bias corrections
    # (which only rescale m / sqrt(v) when eps = 0) drop out; pytorch_optimizer applies decoupled decay
    # before measuring ||p||, which is DecoupledWeightDecay outside the trust-ratio wrapper.
    ours, ref = _params(), _params()
    inner = LayerwiseAdaptation(torch.optim.Adam(ours, lr=LR, betas=BETAS, eps=0.0),
                                exclude=None, max_weight_norm=10.0)
    opt = DecoupledWeightDecay(inner, weight_decay=weight_decay)
    ref_opt = _kozistr_lamb(ref, weight_decay)
    for t in range(15):
        _set_grads(ours, t)
        _set_grads(ref, t)
        opt.step()
        ref_opt.step()
    assert ours[0].norm() > 10.0
    for p, q in zip(ours, ref):
        # why: float64; the wrapper reads the update back as a difference (cancellation ~1e-16 / lr)
        torch.testing.assert_close(p, q, rtol=1e-11, atol=1e-12)


def test_decay_inside_equals_lamb_paper_algorithm():
    # LAMB (arXiv:1904.00962, Alg. 2, phi = identity): r = m_hat / (sqrt(v_hat) + eps),
    # x <- x - lr ||x|| / ||r + wd x|| (r + wd x); written out by hand for each tensor.
    wd, eps = 0.05, 1e-8
    ours = _params()
    ref = [p.detach().clone() for p in ours]
    m = [torch.zeros_like(p) for p in ref]
    v = [torch.zeros_like(p) for p in ref]
    opt = LayerwiseAdaptation(DecoupledWeightDecay(
        torch.optim.Adam(ours, lr=LR, betas=BETAS, eps=eps), weight_decay=wd), exclude=None)
    b1, b2 = BETAS
    for t in range(1, 11):
        _set_grads(ours, t)
        grads = [p.grad.clone() for p in ours]
        opt.step()
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            r = (m[i] / (1 - b1**t)) / ((v[i] / (1 - b2**t)).sqrt() + eps) + wd * ref[i]
            ref[i] = ref[i] - LR * ref[i].norm() / r.norm() * r
    for p, q in zip(ours, ref):
        torch.testing.assert_close(p.detach(), q, rtol=1e-11, atol=1e-12)  # why: as above


def test_excluded_and_zero_norm_tensors_get_the_base_update():
    ours, ref = TinyModel(), TinyModel()
    for m in (ours, ref):
        with torch.no_grad():
            m.emb.weight.zero_()  # ||p|| = 0: ratio 1
    opt = LayerwiseAdaptation(torch.optim.Adam(ours.parameters(), lr=LR))  # default: 1-D excluded
    ref_opt = torch.optim.Adam(ref.parameters(), lr=LR)
    backward_at(ours, opt, 0)
    backward_at(ref, ref_opt, 0)
    opt.step()
    ref_opt.step()
    assert torch.equal(ours.lin.bias, ref.lin.bias)
    assert torch.equal(ours.emb.weight, ref.emb.weight)
    assert ours.emb.weight.abs().sum() > 0


def test_step_length_is_lr_times_weight_norm():
    params = _params()
    before = [p.detach().clone() for p in params]
    opt = LayerwiseAdaptation(torch.optim.SGD(params, lr=LR, momentum=0.9), exclude=None)
    for t in range(3):
        _set_grads(params, t)
        before = [p.detach().clone() for p in params]
        opt.step()
        for p, b in zip(params, before):
            torch.testing.assert_close((p.detach() - b).norm(), LR * b.norm())


@pytest.mark.parametrize("kwargs", [{"max_weight_norm": 0.0}, {"max_weight_norm": -1.0}, {"eps": -1e-8}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        LayerwiseAdaptation(torch.optim.Adam(TinyModel().parameters()), **kwargs)
