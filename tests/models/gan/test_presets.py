"""End-to-end smoke run of every GAN preset through the real Trainer, on tiny offline data."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.config import load_config
from genlab.presets import load_preset_dict, preset_names
from genlab.runs import standard_hooks
from genlab.train import Trainer

GAN_PRESETS = [n for n in preset_names() if load_preset_dict(n)["model"]["name"] == "gan"]


def write_idx(path, array: np.ndarray) -> None:
    """An uncompressed IDX file of unsigned bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def tiny_fashion(folder) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for stem, n in (("train", 24), ("t10k", 8)):
        write_idx(folder / f"{stem}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{stem}-labels-idx1-ubyte", rng.integers(0, 10, (n,)))


def tiny_image_folder(folder) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_gan_presets_are_listed():
    expected = {"wgan-gp-toy", "wgan-gp-25gaussians", "wgan-clip-toy", "fgan-kl-toy",
                "gan-single-loss-toy", "gan-ns-digits", "gan-vi-digits", "wgan-gn-fashion",
                "sngan-hinge-fashion", "wgan-gp-fashion", "wgan-gp-resnet-folder"}
    assert expected <= set(GAN_PRESETS)


@pytest.mark.parametrize("name", GAN_PRESETS)
def test_preset_smoke(name, tmp_path):
    raw = load_preset_dict(name)
    n_critic = raw["model"].get("critic", {}).get("n_critic", 1)
    overrides = [
        "train.steps=3", "train.log_every=1", "train.ckpt_every=0", "train.sample_every=0",
        "train.n_samples=8", "train.progress=false", "train.device=cpu", "model.hidden=8",
        f"data.batch_size={2 * n_critic}",
    ]
    data = raw["data"]["name"]
    if data in ("8gaussians", "25gaussians"):
        overrides.append("data.n_samples=256")
    elif data == "fashion-mnist":
        tiny_fashion(tmp_path / "fashion")
        overrides.append(f"data.data_dir={tmp_path / 'fashion'}")
    elif data == "image-folder":
        tiny_image_folder(tmp_path / "images")
        overrides.append(f"data.data_dir={tmp_path / 'images'}")
    torch.manual_seed(0)
    cfg = load_config(name, overrides)
    trainer = Trainer(cfg, tmp_path / "run", hooks=standard_hooks(cfg))
    last = trainer.fit()
    assert trainer.step == 3
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in records if "gen_loss" in r]
    assert len(losses) == 3 and all(math.isfinite(r["gen_loss"]) for r in losses)
    assert "critic_loss" in last and math.isfinite(last["critic_loss"])
    assert list((tmp_path / "run" / "checkpoints").iterdir())
    assert list((tmp_path / "run" / "samples").glob("*.png"))
