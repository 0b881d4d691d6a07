"""A tiny embedding + linear regression problem with seeded batches, shared by the optimizer tests."""

from __future__ import annotations

import torch
from torch import nn


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
