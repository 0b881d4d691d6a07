"""The contract between a model and genlab's trainer.

A model is a plain `nn.Module` subclassing `Model`. The trainer relies on exactly this:

* `Config`: a dataclass of the model's options (typed, loadable from YAML);
* `__init__(config, spec)`: `spec` is the `DataSpec` of the data (example shape, pixel levels,
  number of classes);
* `param_groups()`: named, disjoint parameter lists, one optimizer each ({"model": ...} by
  default; a GAN returns {"generator": ..., "critic": ...}). A group may instead be a list of
  parameter sets, `{"params": [...], "weight_decay": 0.0, "lr_scale": 1.0}`, for per-set options
  under one optimizer (see `genlab.optim.no_decay_sets`);
* `train_step(batch, ctx)`: a *generator* of `Update`s for one batch, a mapping of tensors (`x`,
  and `y` where the data set has labels). For each Update the trainer backpropagates into the
  named groups' parameters only, averages gradients across processes, clips, steps those
  groups' optimizers and EMAs, and only then resumes the generator. So a GAN yields `n_critic`
  critic updates, then a generator update that sees the new critic; a single-loss GAN yields one
  Update naming both groups; a VAE yields one Update.

Optional hooks: `on_step_end(ctx)` runs once per optimizer step, after every micro-batch and the
all-reduce (buffer updates such as an EMA codebook; `ctx.all_reduce_mean` keeps buffers equal
across processes); `extra_state()` / `load_extra_state(state)` carry per-process state (a replay
buffer) that checkpoints save for each rank, as they do the random state.

What a model can do beyond training is declared by capabilities, checked at run time with
`isinstance`: `Sampler.sample(n)`, `DensityModel.likelihood_estimates(x, importance_samples)` and
`Encoder.encode(x)`. Hooks and evaluators run only what a model offers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from torch import Tensor, nn

Batch = Mapping[str, Tensor]


@dataclass(frozen=True)
class DataSpec:
    """What a model may know about its data before seeing any: built from the dataset."""

    shape: tuple[int, ...]  # one example, e.g. (1, 28, 28) or (2,)
    levels: int | None = None  # discrete pixel values of image data; None for real vectors
    n_classes: int | None = None  # labelled data sets
    vocab_size: int | None = None  # token data

    @property
    def is_image(self) -> bool:
        return self.levels is not None

    def require(self, who: str, *, image: bool = False, vector: bool = False, labelled: bool = False,
                tokens: bool = False, square: bool = False) -> DataSpec:
        """This spec if the data is what `who` (e.g. "model.net=conv") needs, else a one-line ConfigError.

        `image`: (C, H, W) pixel data; `vector`: (D,) data; `labelled`: >= 2 classes; `tokens`: a
        vocabulary; `square`: H == W.

        >>> DataSpec((2,)).require("model.net=conv", image=True)
        Traceback (most recent call last):
          ...
        genlab.core.errors.ConfigError: model.net=conv needs image data (C, H, W), got example shape (2,)
        """
        from genlab.core.errors import ConfigError

        needs = []
        if image and (len(self.shape) != 3 or not self.is_image):
            needs.append("image data (C, H, W)")
        if vector and len(self.shape) != 1:
            needs.append("vector data (D,)")
        if square and (len(self.shape) != 3 or self.shape[1] != self.shape[2]):
            needs.append("square images")
        if labelled and (self.n_classes is None or self.n_classes < 2):
            needs.append("labelled data with >= 2 classes")
        if tokens and self.vocab_size is None:
            needs.append("token data")
        if needs:
            got = f"example shape {self.shape}"
            if labelled:
                got += f", n_classes {self.n_classes}"
            raise ConfigError(f"{who} needs {' and '.join(needs)}, got {got}")
        return self

    @classmethod
    def coerce(cls, spec: DataSpec | tuple[int, ...]) -> DataSpec:
        """A DataSpec as given, or one built from a bare example shape (vector data)."""
        return spec if isinstance(spec, DataSpec) else cls(tuple(int(d) for d in spec))


@dataclass
class Update:
    """One optimizer update of the parameters in `groups`.

    Either one `loss`, or several named `losses` with a `combine` rule: the trainer then
    backpropagates each loss separately, accumulates and all-reduces the per-task gradients, and
    steps along `sum_i w_i g_i` with `w = combine(mean losses, gradients)` (an object with a
    `weights(losses, grads)` method, e.g. from `genlab.mtl`; a rule with state, such as the
    initial losses, belongs in the model's `extra_state`). `logs` are scalars to record; every
    named loss is logged too. Parameters outside `groups` receive no gradient from this update.
    """

    groups: tuple[str, ...]
    loss: Tensor | None = None
    logs: dict[str, Tensor] = field(default_factory=dict)
    losses: dict[str, Tensor] | None = None
    combine: Any = None

    def __post_init__(self) -> None:
        if (self.loss is None) == (self.losses is None):
            raise ValueError("an Update needs exactly one of loss= or losses=")
        if self.losses is not None and (not self.losses or self.combine is None):
            raise ValueError("Update(losses=...) needs at least one loss and a combine rule")


@dataclass
class StepContext:
    """What a model may know about the training loop: the current (0-based) optimizer step, and
    a way to average a buffer over processes (identity in a single process)."""

    step: int
    all_reduce_mean: Callable[[Tensor], Tensor] = lambda t: t


class Model(nn.Module):
    """Base class of every genlab model (see the module docstring for the contract)."""

    Config: ClassVar[type]
    # Config fields that change how a trained model samples or is evaluated but no weights (a
    # sampler, its number of steps): `genlab sample/eval RUN model.KEY=VALUE` may set these only.
    runtime_options: ClassVar[tuple[str, ...]] = ()

    def param_groups(self) -> dict[str, list[nn.Parameter] | list[dict[str, Any]]]:
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def train_step(self, batch: Batch, ctx: StepContext) -> Iterator[Update]:
        raise NotImplementedError

    def on_step_end(self, ctx: StepContext) -> None:
        """Called once per optimizer step, after all micro-batches and the all-reduce."""

    def extra_state(self) -> dict[str, Any]:
        """Per-process state outside parameters and buffers (saved for each rank)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no extra state, got keys {sorted(state)}")


@runtime_checkable
class Sampler(Protocol):
    """Draws `n` new examples in model-input space."""

    def sample(self, n: int) -> Tensor: ...


@runtime_checkable
class DensityModel(Protocol):
    """Named per-example log-likelihood estimates or bounds (nats, model-input space).

    Models that importance-sample set `uses_importance_sampling = True`, so evaluations record K.
    """

    def likelihood_estimates(self, x: Tensor, importance_samples: int = 1000) -> dict[str, Tensor]: ...


@runtime_checkable
class Encoder(Protocol):
    """Maps examples to representation vectors (B, D), e.g. for a linear probe.

    The representation an evaluation reads is `representation(x)` where the model defines it, else
    `encode(x)` (`genlab.eval.probe.representation`). A model defines `representation` when its
    `encode` is structured (a VAE's posterior parameters, a flow's multi-scale latents) or is not the
    layer to evaluate; either way it is a (B, D) tensor.
    """

    def encode(self, x: Tensor) -> Tensor: ...
