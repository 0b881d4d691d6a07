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

A model built on finished runs (a VQ-VAE prior on its frozen autoencoder, a reflow on the flow it
straightens) names them in the classmethod `upstream_runs(config) -> {name: run folder}`; the layer
that builds models (`genlab.train.build`) loads each run and passes the loaded models as
`__init__(config, spec, upstream={name: Model})`. A model never loads a run itself, so the model
families import nothing above them.

Optional hooks: `on_step_end(ctx)` runs once per optimizer step, after every micro-batch and the
all-reduce (buffer updates such as an EMA codebook; `ctx.all_reduce_mean` keeps buffers equal
across processes); `extra_state()` / `load_extra_state(state)` carry per-process state (a replay
buffer) that checkpoints save for each rank, as they do the random state.

Class defaults: `default_ema` is the EMA decay the trainer keeps of each parameter group whose
optimizer config leaves `ema` unset (None: no EMA, the base class's default). A family whose samples
are usually drawn from averaged weights (diffusion, flow matching) sets e.g. `default_ema = 0.9999`;
a run still turns it off with `optim.<group>.ema: 0`, or picks another decay.

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
    """What a model may know about its data before seeing any: built from the dataset.

    Example:
        The spec of 8x8 labelled images with 17 grey levels; a model checks it with `require`:

        >>> spec = DataSpec((1, 8, 8), levels=17, n_classes=10)
        >>> spec.is_image, spec.require("model.net=conv", image=True, labelled=True, square=True) is spec
        (True, True)
        >>> DataSpec.coerce((2,))  # a bare shape: real vectors
        DataSpec(shape=(2,), levels=None, n_classes=None, vocab_size=None)
    """

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

    Example:
        One loss for the parameter group "model", with a value to log beside it:

        >>> import torch
        >>> update = Update(("model",), loss=torch.tensor(1.5), logs={"recon": torch.tensor(1.25)})
        >>> update.groups, update.loss.item(), update.losses
        (('model',), 1.5, None)
        >>> Update(("model",))  # neither loss= nor losses=
        Traceback (most recent call last):
          ...
        ValueError: an Update needs exactly one of loss= or losses=
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
    a way to average a buffer over processes (identity in a single process).

    Example:
        >>> import torch
        >>> ctx = StepContext(step=3)
        >>> ctx.step, ctx.all_reduce_mean(torch.tensor([1.0, 2.0])).tolist()
        (3, [1.0, 2.0])
    """

    step: int
    all_reduce_mean: Callable[[Tensor], Tensor] = lambda t: t


class Model(nn.Module):
    """Base class of every genlab model (see the module docstring for the contract).

    Example:
        A model of a Gaussian with learned mean and unit variance: one Update per batch, and
        `sample`, which makes it a `Sampler` (`Trainer(cfg, run_dir, model=...)` trains such a model):

        >>> import dataclasses, torch
        >>> class GaussianMean(Model):
        ...     @dataclasses.dataclass
        ...     class Config:
        ...         init: float = 0.0
        ...     def __init__(self, config, spec):
        ...         super().__init__()
        ...         self.mean = nn.Parameter(torch.full(spec.shape, config.init))
        ...     def train_step(self, batch, ctx):
        ...         nll = 0.5 * ((batch["x"] - self.mean) ** 2).sum(1).mean()
        ...         yield Update(("model",), loss=nll)
        ...     def sample(self, n):
        ...         return self.mean + torch.randn(n, *self.mean.shape)
        >>> model = GaussianMean(GaussianMean.Config(), DataSpec((2,)))
        >>> list(model.param_groups())
        ['model']
        >>> opt = torch.optim.SGD(model.parameters(), lr=1.0)
        >>> for update in model.train_step({"x": torch.tensor([[1.0, 3.0], [3.0, 5.0]])}, StepContext(0)):
        ...     opt.zero_grad(); update.loss.backward(); opt.step()
        >>> model.mean.tolist(), isinstance(model, Sampler)  # one step of lr 1 lands on the data mean
        ([2.0, 4.0], True)
    """

    Config: ClassVar[type]
    default_ema: ClassVar[float | None] = None  # EMA decay for groups whose optim config leaves ema unset

    @classmethod
    def upstream_runs(cls, config: Any) -> dict[str, str]:
        """Finished run folders this model is built on, by name; each is loaded (EMA weights where
        kept) and passed to `__init__` as `upstream={name: Model}`. Only a model that names at least
        one receives `upstream`. Default: none."""
        return {}
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
    """Draws `n` new examples in model-input space.

    An iterative sampler (diffusion, score models, flow matching) also sets `last_nfe`, the network
    evaluations of its latest `sample` call, an int; `genlab eval` reports it as `samples.nfe`.

    Example:
        A capability checked with `isinstance`, e.g. on a VAE for 2-D points:

        >>> import torch
        >>> from genlab import MODELS, build_model
        >>> _ = torch.manual_seed(0)
        >>> vae = build_model("vae", MODELS.get("vae").Config(latent_dim=2, hidden=32), DataSpec((2,)))
        >>> isinstance(vae, Sampler), vae.sample(5).shape
        (True, torch.Size([5, 2]))
    """

    def sample(self, n: int) -> Tensor: ...


@runtime_checkable
class DensityModel(Protocol):
    """Named per-example log-likelihood estimates or bounds (nats, model-input space).

    Models that importance-sample set `uses_importance_sampling = True`, so evaluations record K.

    Example:
        A VAE gives its ELBO and an importance-sampled estimate with K samples:

        >>> import torch
        >>> from genlab import MODELS, build_model
        >>> _ = torch.manual_seed(0)
        >>> vae = build_model("vae", MODELS.get("vae").Config(latent_dim=2, hidden=32), DataSpec((2,)))
        >>> isinstance(vae, DensityModel), vae.uses_importance_sampling
        (True, True)
        >>> estimates = vae.likelihood_estimates(torch.zeros(3, 2), importance_samples=4)
        >>> {name: tuple(ll.shape) for name, ll in estimates.items()}
        {'elbo': (3,), 'log_likelihood_is': (3,)}
    """

    def likelihood_estimates(self, x: Tensor, importance_samples: int = 1000) -> dict[str, Tensor]: ...


@runtime_checkable
class Encoder(Protocol):
    """Maps examples to representation vectors (B, D), e.g. for a linear probe.

    The representation an evaluation reads is `representation(x)` where the model defines it, else
    `encode(x)` (`genlab.eval.probe.representation`). A model defines `representation` when its
    `encode` is structured (a VAE's posterior parameters, a flow's multi-scale latents) or is not the
    layer to evaluate; either way it is a (B, D) tensor.

    Example:
        Any object with `encode` qualifies (the check is structural):

        >>> import torch
        >>> class Flatten:
        ...     def encode(self, x):
        ...         return x.flatten(1)
        >>> isinstance(Flatten(), Encoder), isinstance(object(), Encoder)
        (True, False)
        >>> Flatten().encode(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 64])
    """

    def encode(self, x: Tensor) -> Tensor: ...
