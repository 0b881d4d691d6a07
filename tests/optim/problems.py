"""A tiny embedding + linear regression problem with seeded batches, and one factory per optimizer
and wrapper (composed too), shared by the optimizer tests."""

from __future__ import annotations

import torch
from torch import nn

from genlab.optim import (
    DampedDynamicsSGD,
    DecoupledWeightDecay,
    Heun,
    LayerwiseAdaptation,
    LazyRows,
    Lookahead,
)


class TinyModel(nn.Module):
    """Embedding bag -> linear; batches touch only some embedding rows, so lazy rows matter."""

    def __init__(self, seed: int = 0, sparse: bool = False, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.emb = nn.Embedding(12, 3, sparse=sparse, dtype=dtype)
        self.lin = nn.Linear(3, 2, dtype=dtype)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lin(self.emb(tokens).mean(dim=1))


def batch(step: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch number `step`: tokens drawn from 4 of the first 8 rows (rows 8-11 are never used)."""
    gen = torch.Generator().manual_seed(1000 + step)
    rows = torch.randperm(8, generator=gen)[:4]
    tokens = rows[torch.randint(0, 4, (5, 3), generator=gen)]
    return tokens, torch.randn(5, 2, generator=gen, dtype=dtype)


def loss_at(model: TinyModel, step: int) -> torch.Tensor:
    tokens, target = batch(step, model.lin.weight.dtype)
    return ((model(tokens) - target) ** 2).mean()


def backward_at(model: TinyModel, opt: torch.optim.Optimizer, step: int) -> torch.Tensor:
    opt.zero_grad()
    loss = loss_at(model, step)
    loss.backward()
    return loss


# name -> optimizer for a TinyModel: every wrapper, a composition, and the closure-based optimizers
FACTORIES = {
    "lookahead-sgd": lambda m: Lookahead(torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), k=3),
    "lookahead-adam": lambda m: Lookahead(torch.optim.Adam(m.parameters(), lr=0.05), k=5, alpha=0.3),
    "decoupled-adam": lambda m: DecoupledWeightDecay(torch.optim.Adam(m.parameters(), lr=0.05), 0.1),
    "layerwise-adam": lambda m: LayerwiseAdaptation(torch.optim.Adam(m.parameters(), lr=0.05)),
    "lazy-adam": lambda m: LazyRows(torch.optim.Adam(m.parameters(), lr=0.05), params=[m.emb.weight]),
    "lazy-moving-state": lambda m: LazyRows(torch.optim.Adam(m.parameters(), lr=0.05), params=[m.emb.weight],
                                            freeze_state=False),
    "layerwise-clamped-sgd": lambda m: LayerwiseAdaptation(
        torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), exclude=None, max_weight_norm=0.5),
    "composed": lambda m: Lookahead(LazyRows(LayerwiseAdaptation(DecoupledWeightDecay(
        torch.optim.Adam(m.parameters(), lr=0.05), 0.1)), params=[m.emb.weight]), k=3),
    "damped-half-nesterov": lambda m: DampedDynamicsSGD(m.parameters(), gamma=0.3, lam=1.0, nesterov="half"),
    "heun": lambda m: Heun(m.parameters(), lr=0.05),
}
