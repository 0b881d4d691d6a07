"""StructuredDropout: masks shared along noise_shape's 1s, inverted scaling keeps the mean."""

import pytest
import torch

from genlab.regularizers import StructuredDropout


def test_mask_is_shared_along_unit_dims():
    torch.manual_seed(0)
    drop = StructuredDropout(0.5, (None, None, 1))  # drop whole token vectors of (B, T, D)
    y = drop(torch.ones(4, 6, 5))
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert (y == y[..., :1]).all()  # constant along D
    assert not (y == y[:, :1, :]).all()  # but not along T
    chan = StructuredDropout(0.5, (None, None, 1, 1))(torch.ones(8, 3, 4, 4))
    assert (chan == chan[:, :, :1, :1]).all()
    batch = StructuredDropout(0.5, (1, 4, 5))(torch.ones(3, 4, 5))  # the same mask for every sample
    assert (batch == batch[:1]).all()


def test_expectation_is_kept():
    torch.manual_seed(1)
    p, n = 0.3, 200_000
    x = torch.randn(1, 5)
    drop = StructuredDropout(p, (None, 1))
    y = drop(x.expand(n, 5))
    # per-row factor m/(1-p) has mean 1 and std sqrt(p/(1-p)); 6 standard errors of slack
    tol = 6 * (p / (1 - p)) ** 0.5 / n ** 0.5
    assert torch.allclose(y.mean(0), x[0], atol=tol * x.abs().max().item())
    kept = (y[:, 0] != 0).float().mean().item()
    assert kept == pytest.approx(1 - p, abs=6 * (p * (1 - p) / n) ** 0.5)


def test_identity_in_eval_and_p_zero_and_plain_dropout_default():
    x = torch.randn(3, 4)
    drop = StructuredDropout(0.9, (None, 1)).eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(StructuredDropout(0.0)(x), x)
    torch.manual_seed(2)
    y = StructuredDropout(0.5)(torch.ones(200, 50))
    assert not (y == y[:, :1]).all() and not (y == y[:1]).all()  # elementwise mask


def test_bad_arguments():
    with pytest.raises(ValueError, match="p must"):
        StructuredDropout(1.0)
    with pytest.raises(ValueError, match="noise_shape entries"):
        StructuredDropout(0.5, (0, None))
    with pytest.raises(ValueError, match="does not fit"):
        StructuredDropout(0.5, (3, 1))(torch.ones(2, 4))
    with pytest.raises(ValueError, match="dimensions"):
        StructuredDropout(0.5, (None, 1))(torch.ones(2, 4, 3))
