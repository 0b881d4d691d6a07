"""Denoising score matching over noise levels (Vincent 2011; Song & Ermon 2019, arXiv:1907.05600).

Per level (Song & Ermon 2019, eq. 5): l(theta; sigma) = 1/2 E ||s_theta(x~, sigma) + (x~ - x) / sigma^2||^2
with x~ = x + sigma z, z ~ N(0, I), whose minimiser is the score of the smoothed data
q_sigma = q * N(0, sigma^2 I). The loss (eq. 6) averages lambda(sigma_i) l(theta; sigma_i) over the
levels with lambda(sigma) = sigma^2, which makes every term of order one:
sigma^2 l = 1/2 E ||sigma s_theta(x~, sigma) + z||^2. Sampling one level per example (as the official
code does) gives an unbiased estimate of that average.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

NoiseScore = Callable[[Tensor, Tensor], Tensor]  # s(x~ (B, ...), sigma (B,)) -> (B, ...)


def dsm_loss(score: NoiseScore, x: Tensor, sigma: Tensor, noise: Tensor) -> Tensor:
    """Per-example lambda(sigma) l = 1/2 ||sigma s(x + sigma z, sigma) + z||^2 (summed over dimensions),
    shape (B,); `sigma` (B,) is each example's level and `noise` the z (x's shape)."""
    if sigma.shape != (len(x),) or noise.shape != x.shape:
        raise ValueError(f"dsm_loss needs sigma of shape ({len(x)},) and noise of shape {tuple(x.shape)}, "
                         f"got {tuple(sigma.shape)} and {tuple(noise.shape)}")
    s = sigma.view(-1, *([1] * (x.ndim - 1)))
    residual = s * score(x + s * noise, sigma) + noise
    return 0.5 * residual.flatten(1).square().sum(1)


__all__ = ["NoiseScore", "dsm_loss"]
