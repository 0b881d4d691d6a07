"""Vector quantisation (arXiv:1711.00937): straight-through values and gradients, nearest codes,
perplexity, the EMA codebook on planted clusters, per-step statistics and dead-code restart."""

import math

import pytest
import torch
from scipy.stats import entropy

from genlab.models.vqvae import EMACodebook, VectorQuantizer, nearest_codes, perplexity, straight_through


def identity(t):
    return t


def test_straight_through_value_is_z_q_and_gradient_is_upstream():
    torch.manual_seed(0)
    z = torch.randn(4, 3, 5, 5, requires_grad=True)
    z_q = torch.randn(4, 3, 5, 5)
    out = straight_through(z, z_q)
    assert torch.equal(out, z_q) or torch.allclose(out, z_q, atol=1e-6)
    upstream = torch.randn_like(z)
    (grad,) = torch.autograd.grad((out * upstream).sum(), z)
    assert torch.equal(grad, upstream)


@pytest.mark.parametrize("cls", [VectorQuantizer, EMACodebook])
def test_quantizer_outputs_nearest_codes_with_identity_gradient(cls):
    torch.manual_seed(1)
    q = cls(codes=7, dim=3)
    q.codebook.data.copy_(torch.randn(7, 3))
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    out = q(z)
    flat = z.detach().movedim(1, -1).reshape(-1, 3)
    brute = torch.cdist(flat, q.codebook.detach()).argmin(1)
    assert torch.equal(out.codes.flatten(), brute)
    assert torch.equal(nearest_codes(flat, q.codebook.detach()), brute)
    expected = q.codebook.detach()[brute].view(2, 4, 4, 3).movedim(-1, 1)
    assert torch.allclose(out.z_q, expected, atol=1e-6)
    upstream = torch.randn_like(z)
    (grad,) = torch.autograd.grad((out.z_q * upstream).sum(), z)
    assert torch.equal(grad, upstream)


def test_quantizer_losses_follow_eq3():
    torch.manual_seed(2)
    q = VectorQuantizer(codes=5, dim=2, beta=0.25)
    z = torch.randn(3, 2, 2, 2, requires_grad=True)
    out = q(z)
    e = q.codebook[out.codes].movedim(-1, 1)
    mse = ((z - e) ** 2).mean()
    assert out.loss.item() == pytest.approx(1.25 * mse.item(), rel=1e-5)
    # codebook term moves only the codes; commitment only the encoder (weight beta)
    gz, ge = torch.autograd.grad(out.loss, [z, q.codebook])
    assert torch.allclose(gz, 0.25 * 2 * (z - e).detach() / z.numel(), atol=1e-7)
    want = torch.zeros_like(q.codebook).index_add_(
        0, out.codes.flatten(), (2 * (e - z).detach() / z.numel()).movedim(1, -1).reshape(-1, 2))
    assert torch.allclose(ge, want, atol=1e-7)
    # the EMA codebook keeps the commitment term only
    ema = EMACodebook(codes=5, dim=2, beta=0.25)
    ema.codebook.copy_(q.codebook.detach())
    assert ema(z).loss.item() == pytest.approx(0.25 * mse.item(), rel=1e-5)


def test_perplexity_closed_forms():
    assert perplexity(torch.full((8,), 5.0)).item() == pytest.approx(8.0, rel=1e-6)
    assert perplexity(torch.tensor([0.0, 12.0, 0.0])).item() == pytest.approx(1.0)
    counts = torch.tensor([3.0, 0.0, 1.0, 7.0, 2.0])
    assert perplexity(counts).item() == pytest.approx(math.exp(entropy(counts.numpy())), rel=1e-6)


def planted(seed=0, n=60):
    g = torch.Generator().manual_seed(seed)
    centers = torch.tensor([[10.0, 0.0], [-10.0, 0.0], [0.0, 10.0]])
    labels = torch.arange(n) % 3
    points = centers[labels] + torch.randn(n, 2, generator=g)
    return centers, labels, points.T.reshape(1, 2, n, 1)  # (B=1, D=2, H=n, W=1)


def test_ema_codebook_converges_to_planted_cluster_means():
    centers, labels, z = planted()
    q = EMACodebook(codes=3, dim=2, decay=0.99, restart_threshold=0.0)
    q.codebook.copy_(centers + torch.tensor([3.0, -2.0]))  # offset, but each nearest its own cluster
    for _ in range(30):
        q(z, collect=True)
        q.end_step(identity)
    flat = z[0, :, :, 0].T
    means = torch.stack([flat[labels == i].mean(0) for i in range(3)])
    assert torch.allclose(q.codebook, means, atol=1e-3)
    assert q.usage() == pytest.approx(torch.full((3,), 20.0), rel=1e-6)


def test_ema_step_statistics_are_summed_over_micro_batches():
    _, _, z = planted(seed=1)
    whole, parts = (EMACodebook(codes=3, dim=2, restart_threshold=0.0) for _ in range(2))
    parts.load_state_dict(whole.state_dict())
    for _ in range(3):
        whole(z, collect=True)
        whole.end_step(identity)
        for half in z.chunk(2, dim=2):
            parts(half, collect=True)
        parts.end_step(identity)
    for key, value in whole.state_dict().items():
        assert torch.allclose(value.float(), parts.state_dict()[key].float(), atol=1e-6), key


def test_ema_update_is_the_paper_formula_without_restart():
    # one step from zero buffers: N = (1-g) n, m = (1-g) sum z; debiased then smoothed
    _, _, z = planted(seed=2)
    g, eps = 0.9, 1e-5
    q = EMACodebook(codes=4, dim=2, decay=g, epsilon=eps, restart_threshold=0.0)
    q.codebook.copy_(torch.tensor([[9.0, 0.0], [-9.0, 0.0], [0.0, 9.0], [50.0, 50.0]]))
    out = q(z, collect=True)
    q.end_step(identity)
    flat, idx = z[0, :, :, 0].T, out.codes.flatten()
    n = torch.bincount(idx, minlength=4).float()
    sums = torch.zeros(4, 2).index_add_(0, idx, flat)
    smoothed = (n + eps) / (n.sum() + 4 * eps) * n.sum()
    assert torch.allclose(q.codebook, sums / smoothed.unsqueeze(1), atol=1e-5)
    assert torch.allclose(q.cluster_size, (1 - g) * n)
    assert torch.equal(q.codebook[3], torch.zeros(2))  # unused: m = 0, no division by zero


@pytest.mark.parametrize("cls", [VectorQuantizer, EMACodebook])
def test_dead_codes_restart_on_encoder_outputs(cls):
    torch.manual_seed(3)
    z = (torch.randn(4, 2, 3, 3) * 0.1 + 1.0)  # every vector near (1, 1)
    q = cls(codes=4, dim=2, restart_threshold=1.0)
    with torch.no_grad():
        q.codebook.copy_(torch.tensor([[1.0, 1.0], [-40.0, 0.0], [0.0, -40.0], [40.0, 40.0]]))
    out = q(z, collect=True)
    assert (out.codes == 0).all()
    q.end_step(identity)
    flat = z.movedim(1, -1).reshape(-1, 2)
    for i in (1, 2, 3):  # moved onto some encoder output of the step
        assert (flat - q.codebook[i].detach()).abs().amax(1).min() < 1e-6, i
    used = flat.mean(0) if cls is EMACodebook else torch.tensor([1.0, 1.0])
    assert torch.allclose(q.codebook[0].detach(), used, atol=1e-5)  # the used code is not restarted
    assert (q.usage() >= 1.0).all()  # restarted codes start at the mean usage


def test_restart_can_be_switched_off():
    z = torch.randn(2, 2, 3, 3) * 0.1 + 1.0
    q = EMACodebook(codes=3, dim=2, restart_threshold=0.0)
    q.codebook.copy_(torch.tensor([[1.0, 1.0], [-40.0, 0.0], [0.0, -40.0]]))
    q(z, collect=True)
    q.end_step(identity)
    assert torch.equal(q.codebook[1:], torch.zeros(2, 2))  # unused codes follow m / N = 0


def test_bad_options_fail_clearly():
    with pytest.raises(ValueError, match="model.decay"):
        EMACodebook(codes=3, dim=2, decay=1.0)
    with pytest.raises(ValueError, match="model.codes"):
        VectorQuantizer(codes=0, dim=2)
