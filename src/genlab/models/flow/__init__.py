"""Normalizing flows: the NICE, RealNVP and Glow models (`model`) and their bijective layers.

Every layer is a `Bijection`: `forward(x) -> (y, logdet)` in the data -> latent direction with the
per-example log|det dy/dx| in float32, and `inverse(y) -> x`. `FlowSequence` composes them;
`Split` and `Prior` factor out latents (multi-scale architecture) and `MultiScaleFlow` assembles a
whole density model. Papers: NICE (Dinh, Krueger & Bengio, arXiv:1410.8516), RealNVP (Dinh,
Sohl-Dickstein & Bengio, arXiv:1605.08803), Glow (Kingma & Dhariwal, arXiv:1807.03039).
"""

from genlab.models.flow.actnorm import ActNorm
from genlab.models.flow.base import Bijection, FlowSequence
from genlab.models.flow.coupling import AdditiveCoupling, AffineCoupling, ScaleLayer
from genlab.models.flow.invconv import InvConv1x1
from genlab.models.flow.masks import checkerboard_mask, parity_mask
from genlab.models.flow.model import NICE, FlowModel, Glow, RealNVP
from genlab.models.flow.multiscale import MultiScaleFlow, Prior, Split
from genlab.models.flow.nets import coupling_net
from genlab.models.flow.permute import Permute
from genlab.models.flow.squeeze import Squeeze

__all__ = [
    "NICE", "ActNorm", "AdditiveCoupling", "AffineCoupling", "Bijection", "FlowModel", "FlowSequence",
    "Glow", "InvConv1x1", "RealNVP",
    "MultiScaleFlow", "Permute", "Prior", "ScaleLayer", "Split", "Squeeze", "checkerboard_mask",
    "coupling_net", "parity_mask",
]
