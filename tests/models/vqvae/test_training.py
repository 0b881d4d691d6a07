"""VQ-VAE on the real trainer: per-step statistics across micro-batches and processes, and the two
stages end to end through `genlab train` (the first stage is no Sampler: hooks skip its samples)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from genlab.cli import main
from genlab.config import ModelSpec, load_config
from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec, Sampler, StepContext
from genlab.eval.evaluate import likelihood_metrics
from genlab.models.vqvae import VQVAE, VQVAEPrior
from genlab.runs import load_run
from genlab.train.build import build

ROOT = Path(__file__).resolve().parents[3]
FAST = ["train.device=cpu", "train.progress=false", "train.log_every=1", "data.batch_size=16",
        "eval.n_test=32", "eval.batch_size=32"]
SPEC = DataSpec((1, 8, 8), levels=17)


def tiny(**kw):
    torch.manual_seed(0)
    return VQVAE(VQVAE.Config(codes=4, dim=2, hidden=8, res_blocks=1, **kw), SPEC)


def test_step_statistics_are_summed_over_micro_batches_once_per_step():
    x = torch.rand(8, 1, 8, 8)
    whole, parts = tiny(restart_threshold=0.0), tiny(restart_threshold=0.0)
    for _ in range(2):
        list(whole.train_step({"x": x}, StepContext(0)))
        whole.on_step_end(StepContext(0))
        for half in x.chunk(2):
            list(parts.train_step({"x": half}, StepContext(0)))
        parts.on_step_end(StepContext(0))
    assert int(whole.quantizer.steps) == int(parts.quantizer.steps) == 2
    for key, value in whole.state_dict().items():
        assert torch.allclose(value.float(), parts.state_dict()[key].float(), atol=1e-5), key
    assert not torch.equal(whole.quantizer.codebook, tiny().quantizer.codebook)  # it did update


def test_first_stage_is_an_encoder_with_a_bound_but_no_sampler():
    model = tiny().eval()
    assert not isinstance(model, Sampler)
    x = torch.rand(3, 1, 8, 8)
    assert model.encode(x).shape == (3, 2 * 2 * 2)
    est = model.likelihood_estimates(x)["elbo_uniform_prior"]
    out = model.decode_codes(model.codes(x))
    assert torch.allclose(est, model.log_px_given_codes(x, out) - 4 * math.log(4))


def test_config_errors_are_clear():
    with pytest.raises(ConfigError, match="model.codebook"):
        VQVAE.Config(codebook="kmeans")
    with pytest.raises(ConfigError, match="divisible"):
        VQVAE(VQVAE.Config(hidden=6, downsample=2), SPEC)
    with pytest.raises(ConfigError, match="image data"):
        VQVAE(VQVAE.Config(), DataSpec((2,)))
    with pytest.raises(ConfigError, match="exactly one"):
        VQVAEPrior.Config()


def test_two_stages_train_and_evaluate_end_to_end(tmp_path):
    first, second = tmp_path / "vq", tmp_path / "prior"
    small = ["model.hidden=8", "model.codes=8", "model.dim=4", "model.res_blocks=1"]
    assert main(["train", "vqvae-digits", "--out", str(first), *FAST, *small, "train.steps=4",
                 "train.eval_every=4"]) == 0
    records = [json.loads(line) for line in (first / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "perplexity" in r]
    assert logged and all(1.0 <= r["perplexity"] <= 8.0 and 0 < r["codes_used"] <= 1 for r in logged)
    assert any(math.isfinite(r.get("eval/elbo_uniform_prior_nats", math.nan)) for r in records)
    assert not (first / "samples").exists() or not list((first / "samples").iterdir())

    assert main(["train", "vqvae-prior-digits", "--out", str(second), *FAST, f"model.run={first}",
                 "model.hidden=8", "model.layers=1", "train.steps=3", "train.n_samples=4"]) == 0
    assert list((second / "samples").glob("*.png"))
    run, vq = load_run(second, device="cpu"), load_run(first, device="cpu")
    frozen = run.model.first_stage.state_dict()
    assert all(torch.equal(v, frozen[k]) for k, v in vq.model.state_dict().items())
    cfg = load_config(str(second / "config.yaml"))
    result = likelihood_metrics(run.model, run.dataset, run.pixels, cfg.eval, torch.device("cpu"))
    assert math.isfinite(result["elbo_nats"]) and 0 < result["elbo_bits_per_dim"] < 30
    assert run.model.sample(2).shape == (2, 1, 8, 8)


def test_prior_refuses_a_run_of_another_model(tmp_path):
    assert main(["train", "vae-digits", "--out", str(tmp_path / "vae"), *FAST, "train.steps=1"]) == 0
    cfg = VQVAEPrior.Config(run=str(tmp_path / "vae"))
    assert VQVAEPrior.upstream_runs(cfg) == {"first_stage": str(tmp_path / "vae")}
    with pytest.raises(ConfigError, match="not a vqvae run"):
        build(ModelSpec("vqvae-prior", cfg), SPEC)
    with pytest.raises(ConfigError, match="passed in by the model builder"):
        VQVAEPrior(cfg, SPEC)  # a model never loads a run itself
    with pytest.raises(ConfigError, match=r"builds on run .*missing \(first_stage\): .* does not exist"):
        build(ModelSpec("vqvae-prior", VQVAEPrior.Config(run=str(tmp_path / "missing"))), SPEC)


def test_the_builder_passes_the_first_stage_in_and_keeps_the_callers_seed(tmp_path):
    assert main(["train", "vqvae-digits", "--out", str(tmp_path / "vq"), *FAST, "train.steps=1",
                 "model.hidden=8", "model.codes=8", "model.dim=4", "model.res_blocks=1"]) == 0
    cfg = ModelSpec("vqvae-prior", VQVAEPrior.Config(run=str(tmp_path / "vq"), hidden=8, layers=1))
    built = {}
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        built.setdefault(seed, []).append(build(cfg, SPEC).prior.state_dict())
    # the upstream load reseeds only a forked generator: the prior's weights follow the caller's seed
    (a, b), (c,) = built[5], built[6]
    assert all(torch.equal(v, b[k]) for k, v in a.items())
    assert not all(torch.equal(v, c[k]) for k, v in a.items())
    model = build(cfg, SPEC)
    frozen = load_run(tmp_path / "vq", "cpu").model.state_dict()
    assert all(torch.equal(v, frozen[k]) for k, v in model.first_stage.state_dict().items())
    assert not any(p.requires_grad for p in model.first_stage.parameters())


SCRIPT = """
import sys, torch, yaml
import torch.distributed as dist
from genlab.config import Config
from genlab.train import Trainer
cfg_path, run, out = sys.argv[1:4]
t = Trainer(Config.from_dict(yaml.safe_load(open(cfg_path))), run)
try:
    t.fit()
    torch.save({k: v.detach().clone() for k, v in t.model.state_dict().items()},
               f"{out}.rank{dist.get_rank()}.pt")
finally:
    t.close()
"""


@pytest.mark.slow
def test_ema_buffers_stay_identical_across_two_processes(tmp_path):
    raw = {"model": {"name": "vqvae", "codes": 8, "dim": 4, "hidden": 8, "downsample": 1, "res_blocks": 1,
                     "restart_threshold": 2.0},
           "data": {"name": "digits", "batch_size": 16, "pixels": "dequantize"},
           "optim": {"default": {"lr": 1e-3}},
           "train": {"steps": 6, "log_every": 2, "ckpt_every": 0, "progress": False, "grad_accum": 2}}
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    script = tmp_path / "child.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(cfg), str(tmp_path / "run"), str(tmp_path / "state")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    r0, r1 = (torch.load(tmp_path / f"state.rank{r}.pt", weights_only=True) for r in (0, 1))
    for key in ("quantizer.codebook", "quantizer.cluster_size", "quantizer.embed_sum", "quantizer.steps",
                "residual.ema"):
        assert torch.equal(r0[key], r1[key]), key
    assert int(r0["quantizer.steps"]) == 6  # once per optimizer step, not per micro-batch
    assert r0["quantizer.cluster_size"].sum() > 0
    assert all(torch.equal(r0[k], r1[k]) for k in r0)


def write_idx(path: Path, array) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype("uint8").tobytes())


def test_fashion_presets_smoke(tmp_path):
    import numpy as np

    data = tmp_path / "fashion"
    data.mkdir()
    rng = np.random.default_rng(0)
    for stem, n in (("train", 24), ("t10k", 8)):
        write_idx(data / f"{stem}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(data / f"{stem}-labels-idx1-ubyte", rng.integers(0, 10, (n,)))
    over = [*FAST, f"data.data_dir={data}", "data.batch_size=8", "eval.n_test=8", "eval.batch_size=8"]
    assert main(["train", "vqvae-fashion", "--out", str(tmp_path / "vq"), *over, "train.steps=2",
                 "model.hidden=8", "model.codes=8", "model.dim=4", "model.res_blocks=1"]) == 0
    assert main(["train", "vqvae-prior-fashion", "--out", str(tmp_path / "prior"), *over,
                 "train.steps=1", f"model.run={tmp_path / 'vq'}", "model.hidden=8", "model.layers=1",
                 "train.n_samples=2"]) == 0
    assert list((tmp_path / "prior" / "samples").glob("*.png"))
