"""Multi-layer perceptrons."""

from __future__ import annotations

from torch import nn


def mlp(n_in: int, n_out: int, hidden: int = 256, depth: int = 2,
        act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """`depth` hidden layers of width `hidden`, each followed by `act`; a linear output layer."""
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), act()]
        width = hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)
