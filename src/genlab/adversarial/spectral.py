"""Spectral normalization of every linear/convolutional layer of a critic.

Each weight W is replaced in the forward pass by W / sigma(W), sigma the largest singular value of
W reshaped to (out, in * kh * kw), estimated by one persistent power-iteration step per training
forward (Miyato et al. 2018, arXiv:1802.05957, Algorithm 1; https://kexue.fm/archives/6051). With
1-Lipschitz activations the critic is then (about) 1-Lipschitz. PyTorch's own parametrization does
the work; the reshaped-kernel norm only approximates a convolution's operator norm.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
          nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Spectrally normalise every Linear/Conv layer of `module` in place; returns `module`."""
    for layer in [m for m in module.modules() if isinstance(m, LAYERS)]:
        spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module


def spectral_normalized_layers(module: nn.Module) -> list[nn.Module]:
    """The layers of `module` that carry a spectral-norm parametrization."""
    return [m for m in module.modules()
            if isinstance(m, LAYERS) and hasattr(m, "parametrizations")
            and "weight" in m.parametrizations]


__all__ = ["apply_spectral_norm", "spectral_normalized_layers"]
