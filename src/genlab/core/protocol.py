"""The contract between a generative model and genlab's trainer.

A model is a plain `nn.Module` subclassing `GenerativeModel`. The trainer relies on exactly this:

* `Config` -- a dataclass of the model's options (typed, loadable from YAML);
* `__init__(config, shape)` -- `shape` is one example's shape, e.g. (1, 28, 28) or (2,);
* `param_groups()` -- named parameter lists, one optimizer each ({"model": ...} by default;
  a GAN returns {"generator": ..., "critic": ...});
* `train_step(x, ctx)` -- a *generator* of `Update`s for one batch of model inputs. For each Update
  the trainer zeroes the named groups' gradients, backpropagates the loss, averages gradients across
  processes, clips, steps those groups' optimizers and EMAs, and only then resumes the generator.
  So a GAN yields `n_critic` critic updates, then a generator update that sees the new critic; a
  single-loss GAN yields one Update naming both groups; a VAE yields one Update;
* `sample(n)` -- n samples in model-input space.

Optional: `log_likelihood(x)` (exact, per example, nats) and `likelihood_estimates(x,
importance_samples)`, a dict of named per-example log-likelihood estimates or bounds (e.g. the
ELBO and an importance-sampled estimate). Models that importance-sample set
`uses_importance_sampling = True` so evaluations record the number of samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from torch import Tensor, nn


@dataclass
class Update:
    """One optimizer update: backpropagate `loss` into the parameters of `groups` and step them.

    `logs` are scalars to record (detached by the trainer before use). Gradients of parameters
    outside `groups` are ignored and cleared, so a loss may touch other networks freely.
    """

    groups: tuple[str, ...]
    loss: Tensor
    logs: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class StepContext:
    """What a model may know about the training loop: the current (0-based) optimizer step."""

    step: int


class GenerativeModel(nn.Module):
    """Base class of every genlab model (see the module docstring for the protocol)."""

    Config: ClassVar[type]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def train_step(self, x: Tensor, ctx: StepContext) -> Iterator[Update]:
        raise NotImplementedError

    def sample(self, n: int) -> Tensor:
        raise NotImplementedError

    uses_importance_sampling: ClassVar[bool] = False

    def likelihood_estimates(self, x: Tensor, importance_samples: int = 1000) -> dict[str, Tensor]:
        """Named per-example log-likelihood estimates (nats, model-input space); {} if none."""
        if hasattr(self, "log_likelihood"):
            return {"log_likelihood": self.log_likelihood(x)}
        return {}
