"""The networks inside coupling layers: zero-initialised output so each coupling starts as identity.

Images: Glow's conv 3x3 -> ReLU -> conv 1x1 -> ReLU -> conv 3x3 (zero-initialised), arXiv:1807.03039,
sec. 3.3 / the official code. Vectors: an MLP with a zero-initialised last layer.
"""

from __future__ import annotations

from torch import nn

from genlab.nets import mlp


def coupling_net(n_in: int, n_out: int, hidden: int, image: bool, depth: int = 2) -> nn.Module:
    """A network mapping the kept part (n_in channels/features) to n_out coupling parameters."""
    if image:
        net = nn.Sequential(
            nn.Conv2d(n_in, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, n_out, 3, padding=1),
        )
    else:
        net = mlp(n_in, n_out, hidden, depth)
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net
