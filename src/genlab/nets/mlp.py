"""Multi-layer perceptrons: the plain body (VAE, flow couplings) and the GAN generator/critic built on it.

The GAN variants are the ReLU MLPs of the WGAN-GP toy setup (Gulrajani et al. 2017, arXiv:1704.00028).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import Tensor, nn

from genlab.nets.norm import Norm, Output, norm_layer, output_layer
from genlab.nets.scores import Scores


def mlp_layers(n_in: int, n_out: int, hidden: int = 256, depth: int = 2,
               act: Callable[[], nn.Module] = nn.ReLU, norm: Norm | None = None) -> list[nn.Module]:
    """`depth` x [Linear, (norm), act] then a linear output layer.

    `norm=None` leaves no norm slot (the plain layout); a name, even "none", adds one after each hidden
    Linear, so the parameter indices of both layouts stay those of existing checkpoints.
    """
    if depth < 0 or min(n_in, n_out, hidden) < 1:
        raise ValueError(f"mlp needs depth >= 0 and n_in, n_out, hidden >= 1; got {depth}, "
                         f"{n_in}, {n_out}, {hidden}")
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden))
        if norm is not None:
            layers.append(norm_layer(norm, hidden, feature=True))
        layers.append(act())
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return layers


def mlp(n_in: int, n_out: int, hidden: int = 256, depth: int = 2,
        act: Callable[[], nn.Module] = nn.ReLU, norm: Norm | None = None) -> nn.Sequential:
    """`depth` hidden layers of width `hidden`, each followed by `act`; a linear output layer."""
    return nn.Sequential(*mlp_layers(n_in, n_out, hidden, depth, act, norm))


class MLPGenerator(nn.Module):
    """z -> `depth` x [Linear, norm, ReLU] of width `hidden` -> output layer -> an example of `shape`.

    `norm=None` leaves no norm slot and `output=None` no output layer (the plain MLP decoder of
    `genlab.nets.autoencoder`); the GAN defaults keep both slots, as their checkpoints have them.
    """

    def __init__(self, latent_dim: int, shape: tuple[int, ...], hidden: int = 512, depth: int = 3,
                 norm: Norm | None = "none", output: Output | None = "none"):
        super().__init__()
        self.shape = tuple(shape)
        layers = mlp_layers(latent_dim, math.prod(shape), hidden, depth, nn.ReLU, norm)
        self.net = nn.Sequential(*layers, *([] if output is None else [output_layer(output)]))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)


def mlp_critic(shape: tuple[int, ...], hidden: int = 512, depth: int = 3, norm: Norm = "none") -> Scores:
    """Flatten -> `depth` x [Linear, norm, ReLU] of width `hidden` -> one score per example."""
    return Scores(nn.Sequential(nn.Flatten(), *mlp_layers(math.prod(shape), 1, hidden, depth, nn.ReLU, norm)))
