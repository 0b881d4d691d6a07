"""Tiny models for trainer tests (they show the protocol needs no trainer changes).

Importing this module registers nothing: tests get them through the `toy_models` fixture
(`tests/conftest.py`), which registers them for one test only; a child process that needs them
under a config name calls `register()`.
"""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from genlab.models import MODELS, Model, Update


class MeanModel(Model):
    """Learns the data mean by least squares; deterministic, so accumulation is exactly checkable."""

    @dataclass
    class Config:
        nan_at_step: int = -1  # emit a NaN loss from this step on

    def __init__(self, cfg, spec):
        shape = spec.shape
        super().__init__()
        self.cfg = cfg
        self.mu = nn.Parameter(torch.zeros(shape))
        self.lin = nn.Linear(int(torch.tensor(shape).prod()), 1)

    def train_step(self, batch, ctx):
        x = batch["x"]
        loss = ((x - self.mu) ** 2).flatten(1).sum(1).mean() + self.lin(x.flatten(1)).pow(2).mean()
        if 0 <= self.cfg.nan_at_step <= ctx.step:
            loss = loss * float("nan")
        yield Update(("model",), loss, {"loss": loss})

    def sample(self, n):
        return self.mu.detach().expand(n, *self.mu.shape) + 0.1 * torch.randn(n, *self.mu.shape)


class TwoGroups(Model):
    """A 'critic' a and a 'generator' b updated in turn; b's loss reads a after a's update."""

    @dataclass
    class Config:
        n_first: int = 2

    def __init__(self, cfg, spec):
        super().__init__()
        self.cfg = cfg
        self.a = nn.Parameter(torch.zeros(()))
        self.b = nn.Parameter(torch.zeros(()))
        self.seen: list[float] = []

    def param_groups(self):
        return {"first": [self.a], "second": [self.b]}

    def train_step(self, batch, ctx):
        for _ in range(self.cfg.n_first):
            yield Update(("first",), (self.a - 1 - self.b) ** 2, {"a": self.a})
        self.seen.append(self.a.item())
        # the loss also touches a; its gradient there must not leak into a's update
        yield Update(("second",), (self.b - 2) ** 2 + self.a * self.b, {"b": self.b})

    def sample(self, n):
        return torch.zeros(n, 2)


TOY_MODELS: dict[str, type[Model]] = {"test-mean": MeanModel, "test-two-groups": TwoGroups}


@contextmanager
def registered(models: dict[str, type[Model]] = TOY_MODELS) -> Iterator[None]:
    """`models` are in MODELS inside the block only."""
    with ExitStack() as stack:
        for name, cls in models.items():
            stack.enter_context(MODELS.temporary(name, cls))
        yield


def register() -> None:
    """Register the toy models for the rest of the process (for child processes only)."""
    for name, cls in TOY_MODELS.items():
        MODELS.register(name)(cls)
