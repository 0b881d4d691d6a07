"""Train a model class that is not in `MODELS` (a recipe's) on an in-memory `Dataset` with genlab's Trainer.

One path for every helper that trains such a model in a throw-away (or given) run folder:
`recipe_config` writes the run config naming the class (nothing is registered), `trained` builds the
model from it the way the registry path would (same seed, so the same initial weights) and hands it to
`Trainer(model=...)`. `fit_in_memory`, `genlab.recipes.labelled_run.train_labelled` and
`genlab.recipes.feature_net.train_feature_net` are built on them.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from genlab.config import Config
from genlab.core.protocol import Model
from genlab.data.dataset import Dataset
from genlab.models import MODELS
from genlab.train.trainer import Hook, Trainer


def recipe_config(name: str, model_cls: type[Model], options: Any, dataset: Dataset, *, steps: int,
                  batch_size: int, optim: Mapping[str, Mapping[str, Any]], seed: int = 0, device: str = "cpu",
                  log_every: int | None = None, data: Mapping[str, Any] | None = None) -> Config:
    """The run config that trains `model_cls` (called `name` in the run's config.yaml) on `dataset`.

    `options`: the model's `Config` instance or a mapping of its options; `optim`: per parameter group
    (`{"default": {...}}`); `data`: more `data.` options (e.g. pixels). Checkpoints only at the end
    (one kept), no progress bar, one log record per `log_every` steps (default: one at the end).
    A `name` of a library model is refused unless `model_cls` is that model.
    """
    if name in MODELS and MODELS.get(name) is not model_cls:
        raise ValueError(f"model name {name!r} is taken by a library model; pick another")
    if dataclasses.is_dataclass(options):
        options = dataclasses.asdict(options)
    return Config.from_dict({
        "model": {"name": name, **options},
        "data": {"name": dataset.name, "batch_size": batch_size, **(data or {})},
        "optim": {g: dict(o) for g, o in optim.items()},
        "train": {"steps": steps, "seed": seed, "device": device, "log_every": log_every or steps,
                  "ckpt_every": 0, "keep_checkpoints": 1, "progress": False},
    }, model_cls=model_cls)


@contextlib.contextmanager
def trained(cfg: Config, model_cls: type[Model], dataset: Dataset, hooks: Sequence[Hook] = (),
            run_dir: str | Path | None = None) -> Iterator[Trainer]:
    """Train `model_cls(cfg.model.params, dataset.spec)` per `cfg`; yields the finished Trainer.

    The run goes to `run_dir`, or to a temporary folder removed when the block exits (copy what you
    keep inside the block).
    """
    torch.manual_seed(cfg.train.seed)  # the initial weights the Trainer's own build would give
    model = model_cls(cfg.model.params, dataset.spec)
    folder = (tempfile.TemporaryDirectory(prefix=f"genlab-{cfg.model.name}-") if run_dir is None
              else contextlib.nullcontext(str(run_dir)))
    with folder as path, Trainer(cfg, path, dataset=dataset, hooks=hooks, model=model) as trainer:
        trainer.fit()
        yield trainer


def fit_in_memory(name: str, model_cls: type[Model], params: Any, dataset: Dataset, steps: int,
                  batch_size: int, optim: dict[str, Any], seed: int = 0, device: str = "cpu") -> Model:
    """Train `model_cls(params, dataset.spec)` for `steps` with `optim` (an `optim.default` mapping, e.g.
    {"name": "adam", "lr": 1e-3, "ema": 0.999}); returns the model on the CPU in eval mode, carrying its
    EMA weights where the run keeps an EMA."""
    cfg = recipe_config(name, model_cls, params, dataset, steps=steps, batch_size=batch_size,
                        optim={"default": optim}, seed=seed, device=device)
    with trained(cfg, model_cls, dataset) as trainer, trainer.ema_weights():
        model = copy.deepcopy(trainer.model)
    return model.cpu().eval()


__all__ = ["fit_in_memory", "recipe_config", "trained"]
