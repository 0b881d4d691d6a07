"""The PixelCNN prior (arXiv:1601.06759): masked convolutions are causal in raster order, so the
product of its conditionals is a normalised distribution over code grids."""

import itertools

import pytest
import torch

from genlab.models.vqvae import MaskedConv2d, PixelCNN


def randomise(net, scale=1.0, seed=0):
    """Larger random weights than the default init, so the conditionals are far from uniform."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return net


@pytest.mark.parametrize("kernel", [3, 5])
def test_output_at_i_ignores_inputs_at_and_after_i(kernel):
    torch.manual_seed(0)
    net = randomise(PixelCNN(codes=4, hidden=6, layers=2, kernel=kernel), 0.5)
    h, w = 5, 4
    inp = torch.randn(1, 6, h, w, requires_grad=True)
    out = net.body(inp)
    for i, j in itertools.product(range(h), range(w)):
        (grad,) = torch.autograd.grad(out[0, :, i, j].sum(), inp, retain_graph=True)
        seen = grad.abs().sum(1)[0]  # (h, w): influence of each input position
        order = torch.arange(h * w).view(h, w)
        assert (seen[order >= i * w + j] == 0).all(), (i, j)
        if j > 0:  # it can fail: the left neighbour does reach the output
            assert seen[i, j - 1] > 0


def test_mask_a_hides_the_centre_and_mask_b_shows_it():
    a, b = MaskedConv2d(1, 1, 3, "A").mask, MaskedConv2d(1, 1, 3, "B").mask
    assert torch.equal(a, torch.tensor([[1.0, 1, 1], [1, 0, 0], [0, 0, 0]]))
    assert torch.equal(b, torch.tensor([[1.0, 1, 1], [1, 1, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="odd"):
        MaskedConv2d(1, 1, 4, "A")


def test_prior_sums_to_one_over_all_2x2_grids_of_3_codes():
    net = randomise(PixelCNN(codes=3, hidden=5, layers=2, kernel=3), 1.0, seed=1)
    grids = torch.tensor(list(itertools.product(range(3), repeat=4))).view(81, 2, 2)
    log_p = net.log_prob(grids).double()
    assert torch.logsumexp(log_p, 0).exp().item() == pytest.approx(1.0, abs=1e-5)
    assert log_p.max() - log_p.min() > 1.0  # not trivially uniform


def test_samples_follow_the_model():
    # 1x2 grid of 2 codes: compare sample frequencies with the 4 exact probabilities
    torch.manual_seed(2)
    net = randomise(PixelCNN(codes=2, hidden=4, layers=1, kernel=3), 1.0, seed=3)
    grids = torch.tensor(list(itertools.product(range(2), repeat=2))).view(4, 1, 2)
    exact = net.log_prob(grids).exp().detach()
    s = net.sample(4000, (1, 2), torch.device("cpu"))
    freq = torch.stack([((s == g).flatten(1).all(1)).float().mean() for g in grids])
    assert torch.allclose(freq, exact, atol=0.03)
