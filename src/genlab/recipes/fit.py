"""Train a recipe's genlab `Model` on an in-memory `Dataset` with genlab's Trainer in a throw-away folder.

The model class is registered under `name` for the call only, so recipes add nothing to `MODELS`.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from typing import Any

from genlab.core.protocol import Model
from genlab.data.dataset import Dataset


def fit_in_memory(name: str, model_cls: type[Model], params: Any, dataset: Dataset, steps: int,
                  batch_size: int, optim: dict[str, Any], seed: int = 0, device: str = "cpu") -> Model:
    """Train `model_cls(params, dataset.spec)` for `steps` with `optim` (an `optim.default` mapping, e.g.
    {"name": "adam", "lr": 1e-3, "ema": 0.999}); returns the model on the CPU in eval mode, carrying its
    EMA weights where `optim` keeps an EMA."""
    from genlab.config import Config
    from genlab.models.registry import MODELS
    from genlab.train import Trainer

    raw = {
        "model": {"name": name, **dataclasses.asdict(params)},
        "data": {"name": dataset.name, "batch_size": batch_size},
        "optim": {"default": optim},
        "train": {"steps": steps, "seed": seed, "device": device, "progress": False, "log_every": steps,
                  "ckpt_every": 0, "keep_checkpoints": 1},
    }
    with (MODELS.temporary(name, model_cls), tempfile.TemporaryDirectory() as run,
          Trainer(Config.from_dict(raw), run, dataset=dataset) as trainer):
        trainer.fit()
        with trainer.ema_weights():
            model = copy.deepcopy(trainer.model)
    return model.cpu().eval()
