"""Bijective layers for normalizing flows: NICE, RealNVP and Glow.

Every layer is a `Bijection`: `forward(x) -> (y, logdet)` in the data -> latent direction with the
per-example log|det dy/dx| in float32, and `inverse(y) -> x`. `FlowSequence` composes them;
`Split` and `Prior` factor out latents (multi-scale architecture) and `MultiScaleFlow` assembles a
whole density model. Papers: NICE (Dinh, Krueger & Bengio, arXiv:1410.8516), RealNVP (Dinh,
Sohl-Dickstein & Bengio, arXiv:1605.08803), Glow (Kingma & Dhariwal, arXiv:1807.03039).
"""

from genlab.flows.actnorm import ActNorm
from genlab.flows.base import Bijection, FlowSequence
from genlab.flows.coupling import AdditiveCoupling, AffineCoupling, ScaleLayer
from genlab.flows.invconv import InvConv1x1
from genlab.flows.masks import checkerboard_mask, parity_mask
from genlab.flows.multiscale import MultiScaleFlow, Prior, Split
from genlab.flows.nets import coupling_net
from genlab.flows.permute import Permute
from genlab.flows.squeeze import Squeeze

__all__ = [
    "ActNorm", "AdditiveCoupling", "AffineCoupling", "Bijection", "FlowSequence", "InvConv1x1",
    "MultiScaleFlow", "Permute", "Prior", "ScaleLayer", "Split", "Squeeze", "checkerboard_mask",
    "coupling_net", "parity_mask",
]
