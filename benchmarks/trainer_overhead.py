"""Time per step of genlab's trainer against a bare hand-written PyTorch loop.

Both train the same model (same initial weights, data, batch, optimizer, dequantization) in one
process; runs are interleaved and each reports the median over repetitions. The trainer's time is
its own steady-state window timing (the `steps_per_s` it logs: data, transform, step generator,
backward, optimizer, on-device loss bookkeeping and the periodic host sync), so the one-off work at
the end of a run (final checkpoint, sample grid, loss plot) is excluded, as it is from the loop.

The toy-GAN case is the smallest model genlab trains (MLP 3x64 generator and critic, 2-D data,
batch 64): there the per-update work of the trainer (update generator, optimizer calls, log
bookkeeping) weighs most. Its bare loop is the careful hand-written alternating step (critic update
on detached fakes, generator update backpropagated into the generator only).

    python benchmarks/trainer_overhead.py [--reps 5] [--steps 400] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from genlab.config import Config, DataConfig
from genlab.data import Dataset, Pixels, load_dataset
from genlab.models import build_model
from genlab.train import Trainer
from genlab.train.runlog import read_metrics


def random_images(n: int, size: int) -> Dataset:
    def draw(m: int) -> torch.Tensor:
        return torch.randint(0, 256, (m, 1, size, size), dtype=torch.uint8)

    return Dataset(f"random-{size}", draw(n), draw(64), levels=256)


CASES = {
    # name: (model section, dataset factory, batch size)
    "gan-mlp toy 2-D": ({"name": "gan", "net": "mlp", "hidden": 64, "depth": 3, "latent_dim": 2},
                        lambda: load_dataset(DataConfig(name="8gaussians")), 64),
    "vae-mlp digits 8x8": ({"name": "vae", "latent_dim": 16, "hidden": 256, "depth": 2},
                           lambda: load_dataset(DataConfig(name="digits")), 128),
    "vae-conv 28x28": ({"name": "vae", "latent_dim": 16, "net": "conv", "hidden": 32},
                       lambda: random_images(2048, 28), 64),
}


def config(model: dict, batch: int, steps: int, window: int) -> Config:
    return Config.from_dict({
        "model": model, "data": {"name": "digits", "batch_size": batch},
        "optim": {"default": {"name": "adam", "lr": 1e-3}},
        "train": {"steps": steps, "log_every": window, "ckpt_every": 0, "progress": False},
    })


def vae_step(model, opts):
    opt = opts["default"]

    def step(x: torch.Tensor) -> torch.Tensor:
        elbo, _, _ = model.elbo(x)
        loss = -elbo.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def gan_step(model, opts):
    g_params = list(model.generator.parameters())

    def step(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fake = model.generator(model.latents(x.shape[0]))
        d_loss = model.objective.critic_loss(model.score(x), model.score(fake))
        opts["critic"].zero_grad(set_to_none=True)
        d_loss.backward()
        opts["critic"].step()
        g_loss = model.objective.generator_loss(model.score(model.generator(model.latents(x.shape[0]))))
        opts["generator"].zero_grad(set_to_none=True)
        g_loss.backward(inputs=g_params)  # no critic weight gradients
        opts["generator"].step()
        return g_loss

    return step


def bare_loop(cfg: Config, dataset: Dataset, steps: int, window: int) -> list[float]:
    """The loop a person writes by hand: seconds per step of each window after the first."""
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model.name, cfg.model.params, dataset.spec)
    if cfg.model.name == "gan":
        opts = {g: torch.optim.Adam(ps, lr=1e-3) for g, ps in model.param_groups().items()}
        step_fn = gan_step(model, opts)
    else:
        step_fn = vae_step(model, {"default": torch.optim.Adam(model.parameters(), lr=1e-3)})
    pixels = Pixels(dataset.levels) if dataset.is_image else (lambda x: x)
    data, b = dataset.train, cfg.data.batch_size
    per_epoch = len(data) // b
    out, t0, perm = [], time.perf_counter(), torch.randperm(len(data))
    for step in range(steps):
        i = step % per_epoch
        if i == 0:
            perm = torch.randperm(len(data))
        loss = step_fn(pixels(data[perm[i * b:(i + 1) * b]]))
        if (step + 1) % window == 0:
            loss.item()  # the trainer also syncs once per window
            now = time.perf_counter()
            out.append((now - t0) / window)
            t0 = now
    return out[1:]


def genlab_trainer(cfg: Config, dataset: Dataset, steps: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        Trainer(cfg, tmp, dataset=dataset).fit()
        records = [r for r in read_metrics(Path(tmp) / "metrics.jsonl") if "steps_per_s" in r]
    return [1.0 / r["steps_per_s"] for r in records[1:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of the cases")
    ap.add_argument("--out", default="benchmarks/results/trainer_overhead.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    window = args.steps // 4
    rows = []
    for name in args.cases.split(","):
        model, make_data, batch = CASES[name]
        dataset = make_data()
        cfg = config(model, batch, args.steps, window)
        bare, lab = [], []
        for _ in range(args.reps):  # interleaved
            bare.append(statistics.median(bare_loop(cfg, dataset, args.steps, window)))
            lab.append(statistics.median(genlab_trainer(cfg, dataset, args.steps)))
        b, g = statistics.median(bare), statistics.median(lab)
        print(f"  {name}: genlab/bare {g / b:.3f}", flush=True)
        rows.append({"case": name, "batch": batch, "bare_ms": 1e3 * b, "genlab_ms": 1e3 * g,
                     "ratio": g / b, "overhead_pct": 100 * (g / b - 1),
                     "bare_all_ms": [1e3 * v for v in bare],
                     "genlab_all_ms": [1e3 * v for v in lab]})
    load = os.getloadavg()
    print(f"trainer overhead (CPU, {args.threads} threads, torch {torch.__version__}, {args.reps} "
          f"interleaved reps x {args.steps} steps, median of per-window step times, first window dropped; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    print(f"{'case':<22} {'batch':>5} {'bare ms/step':>13} {'genlab ms/step':>15} {'genlab/bare':>12}")
    for r in rows:
        print(f"{r['case']:<22} {r['batch']:>5} {r['bare_ms']:>13.3f} {r['genlab_ms']:>15.3f} "
              f"{r['ratio']:>12.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"load_average": load, "threads": args.threads, "steps": args.steps,
                                          "reps": args.reps, "torch": torch.__version__, "rows": rows},
                                         indent=2))


if __name__ == "__main__":
    main()
