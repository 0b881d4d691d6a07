"""train.channels_last: NHWC weights and batches give the contiguous run's losses to float tolerance."""

import pytest
import torch

from genlab.config import Config
from genlab.data import Dataset
from genlab.train import Trainer
from genlab.train.runlog import read_metrics


def images(n: int) -> Dataset:
    g = torch.Generator().manual_seed(0)
    draw = lambda m: torch.randint(0, 256, (m, 1, 28, 28), dtype=torch.uint8, generator=g)  # noqa: E731
    return Dataset("random-28", draw(n), draw(16), levels=256)


def test_channels_last_matches_contiguous(tmp_path):
    data = images(64)
    losses, formats = {}, {}
    for flag in (False, True):
        cfg = Config.from_dict({
            "model": {"name": "gan", "net": "dcgan", "hidden": 8, "latent_dim": 8,
                      "critic": {"objective": "hinge"}, "mode": "single_loss"},
            "data": {"name": "digits", "batch_size": 16},
            "train": {"steps": 3, "log_every": 1, "ckpt_every": 0, "progress": False,
                      "channels_last": flag},
        })
        trainer = Trainer(cfg, tmp_path / str(flag), dataset=data)
        trainer.fit()
        records = read_metrics(tmp_path / str(flag) / "metrics.jsonl")
        losses[flag] = [(r["critic_loss"], r["d_fake"], r["gen_loss"]) for r in records if "d_fake" in r]
        conv = next(p for p in trainer.model.parameters() if p.ndim == 4)
        formats[flag] = conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert formats == {False: False, True: True}
    assert len(losses[True]) == 3
    for a, b in zip(losses[True], losses[False]):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
