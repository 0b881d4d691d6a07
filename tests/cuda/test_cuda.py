"""The CUDA path, end to end: mixed precision (bf16, fp16) training and resume, channels_last,
torch.compile, fused Adam, EMA, sampling and `genlab eval` on the device, and a one-GPU torchrun with
NCCL. Marked `cuda`: they run wherever a CUDA device is present (`make test-cuda` runs only them) and
skip elsewhere. `GENLAB_CUDA_TEST_DEVICE=cpu` runs the same checks on the CPU (to check the tests
themselves on a machine without a GPU; mixed precision then trains in fp32)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from genlab.cli import main

DEVICE = os.environ.get("GENLAB_CUDA_TEST_DEVICE", "cuda")
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(),
                                                   reason="needs a CUDA device")]

ROOT = Path(__file__).resolve().parents[2]


def conv_vae(tmp_path: Path, name: str = "cfg", **sections) -> Path:
    """A small conv VAE on the bundled 8x8 digits, on the GPU."""
    raw = {
        "model": {"name": "vae", "latent_dim": 4, "net": "conv", "hidden": 16},
        "data": {"name": "digits", "batch_size": 64},
        "optim": {"default": {"name": "adam", "lr": 1e-3, "ema": 0.99}},
        "train": {"steps": 20, "log_every": 5, "ckpt_every": 10, "progress": False, "device": DEVICE},
        "eval": {"n_test": 64, "importance_samples": 10},
    }
    for section, values in sections.items():
        raw[section].update(values)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def train(cfg: Path, run: Path, *overrides: str, resume: bool = False) -> None:
    args = ["train", str(cfg), "--out", str(run), *overrides] + (["--resume"] if resume else [])
    assert main(args) == 0


def weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(run / "checkpoints" / f"step-{step:07d}" / "model.safetensors")


def losses(run: Path) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if "loss" in r]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_resumes(tmp_path, precision):
    cfg = conv_vae(tmp_path, train={"precision": precision})
    train(cfg, tmp_path / "straight")
    train(cfg, tmp_path / "split", "train.steps=10")
    train(cfg, tmp_path / "split", "train.steps=20", resume=True)
    assert all(torch.isfinite(torch.tensor(losses(tmp_path / "straight"))))
    a, b = weights(tmp_path / "straight", 20), weights(tmp_path / "split", 20)
    # same kernels, same seeds: resume continues the run (cuBLAS may reorder sums: a small tolerance)
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)


def test_channels_last_matches_contiguous(tmp_path):
    cfg = conv_vae(tmp_path, train={"steps": 10})
    train(cfg, tmp_path / "plain")
    train(cfg, tmp_path / "nhwc", "train.channels_last=true")
    a, b = weights(tmp_path / "plain", 10), weights(tmp_path / "nhwc", 10)
    assert all(torch.allclose(a[k], b[k], atol=1e-3) for k in a)


def test_compile_matches_eager(tmp_path):
    cfg = conv_vae(tmp_path, train={"steps": 5, "log_every": 1})
    train(cfg, tmp_path / "eager")
    train(cfg, tmp_path / "compiled", "train.compile=true")
    assert losses(tmp_path / "compiled")[0] == pytest.approx(losses(tmp_path / "eager")[0], rel=1e-3)


def test_fused_adam_matches_foreach(tmp_path):
    cfg = conv_vae(tmp_path, train={"steps": 10})
    train(cfg, tmp_path / "foreach")
    train(cfg, tmp_path / "fused", "optim.default.fused=true")
    a, b = weights(tmp_path / "foreach", 10), weights(tmp_path / "fused", 10)
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)


def test_ema_sampling_and_eval_on_the_device(tmp_path):
    run = tmp_path / "run"
    train(conv_vae(tmp_path), run)
    state = torch.load(run / "checkpoints" / "step-0000020" / "state.pt", weights_only=True)
    assert state["ema"]  # the EMA shadow was kept on the device and saved
    assert main(["sample", str(run), "-n", "16", "-o", str(tmp_path / "grid.png"), "--device", DEVICE]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert main(["eval", str(run), "--device", DEVICE, "--n-samples", "200", "--n-real", "200"]) == 0
    result = (run / "eval.json").read_text()
    assert "bits_per_dim" in result and "fd" in result


def test_one_gpu_torchrun_with_nccl(tmp_path):
    cfg = conv_vae(tmp_path, train={"steps": 6, "ckpt_every": 3})
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
           "-m", "genlab", "train", str(cfg), "--out", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert (tmp_path / "ddp" / "checkpoints" / "step-0000006").is_dir()
