"""Bits/dim conventions: a uniform model on stored discrete pixels gives exactly log2(L) bits/dim."""

import math

import pytest
import torch

from genlab.data import Pixels
from genlab.eval.metrics import bits_per_dim


def _images(levels, n=8, size=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, levels, (n, 1, size, size), generator=g)


def test_uniform_model_on_8bit_data_is_exactly_8_bits():
    pixels = Pixels(256)  # uniform dequantization to [0, 1)
    z = pixels(_images(256))
    log_p = torch.zeros(len(z), dtype=torch.float64)  # uniform density on [0, 1)^D
    bpd = bits_per_dim(log_p, z, pixels)
    torch.testing.assert_close(bpd, torch.full_like(bpd, 8.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("pixels", [Pixels(256, range="symmetric"), Pixels(256, logit_alpha=0.05),
                                    Pixels(256, logit_alpha=1e-6)])
def test_uniform_model_stays_8_bits_through_each_preprocessing(pixels):
    """The density of U[0,1)^D seen in model-input space is 1/|det dz/dy|; the Jacobian undoes it."""
    z = pixels(_images(256, seed=1)).double()
    if pixels.logit_alpha is not None:
        a = pixels.logit_alpha
        s = torch.sigmoid(z)
        log_abs_det = (math.log(1 - 2 * a) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
    else:
        log_abs_det = torch.full((len(z),), z[0].numel() * math.log(2.0), dtype=torch.float64)
    bpd = bits_per_dim(-log_abs_det, z, pixels)
    torch.testing.assert_close(bpd, torch.full_like(bpd, 8.0), rtol=0, atol=1e-6)


def test_digits_alphabet_gives_log2_17():
    pixels = Pixels(17)
    z = pixels(_images(17, size=8))
    bpd = bits_per_dim(torch.zeros(len(z), dtype=torch.float64), z, pixels)
    torch.testing.assert_close(bpd, torch.full_like(bpd, math.log2(17)), rtol=0, atol=1e-12)


def test_vector_data_has_no_correction():
    x = torch.randn(4, 2)
    log_p = torch.full((4,), -2 * math.log(2.0))
    torch.testing.assert_close(bits_per_dim(log_p, x, None), torch.ones(4))
