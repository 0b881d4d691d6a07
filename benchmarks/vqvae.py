"""Benchmark genlab's VQ-VAE against pythae's (Chadebec et al. 2022, `pythae.models.VQVAE`).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/vqvae.py  # digits, 1000 steps (~5 min)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/vqvae.py --data fashion-mnist --no-defaults  # ~30 min

What is held equal (van den Oord et al. 2017, arXiv:1711.00937, is the reference for both):

* data: the same pre-drawn minibatches, in the same order, for every model (the preset's data, through
  genlab's dequantizing `Pixels`), and one fixed dequantized test set;
* nets: genlab's `VQEncoder` / `VQDecoder` with the preset's sizes (K, D, hidden, downsampling), wrapped
  as pythae `BaseEncoder` / `BaseDecoder`; the pythae model is given a copy of the genlab model's
  initial encoder, decoder and codebook weights (pythae's EMA sums, drawn independently by pythae from
  the same uniform law, start at that codebook too), so both start from identical parameters;
* objective and learning rate: genlab's loss is per-element means, `mse(x, x_hat) + codebook +
  beta * commitment`; pythae's is `sum over pixels of (x - x_hat)^2` averaged over the batch, plus
  the same per-element-mean VQ terms times `quantization_loss_factor` and `commitment_loss_factor`.
  With P pixels per example, the "matched" pythae rows set `quantization_loss_factor = P` and
  `commitment_loss_factor = beta * P` and back-propagate pythae's loss divided by P: that loss is
  then genlab's loss term by term, so the gradients and the Adam learning rate are the same (the
  script checks the two losses agree at initialisation). The "pythae defaults" rows keep pythae's
  factors (1, beta), still divided by P so the reconstruction gradient matches genlab's: there the VQ
  terms weigh P times less than in the paper's per-element convention;
* optimizer: Adam, same learning rate, one update per minibatch, plain loops (no trainer on either
  side);
* timing: the models are stepped in turn (step 1 of every model, then step 2, ...), one thread, so
  load changes on the machine hit all of them alike; seconds per step exclude the evaluations.

Differences of pythae (0.1.2) that remain, and make the EMA rows unequal by design of the libraries:

* pythae's EMA codebook has no zero-debiasing: counts start at 0 and sums at random values, so the
  first update sets every code that got no vector to (sum ~ 1/K) / (Laplace-smoothed count ~ 1e-5),
  thousands of units from the data (27 of 32 codes, largest norm 6.6e3, on digits); pythae also
  writes the smoothed counts back into its running counts, so those codes drift back only slowly
  (0.99^t shrinking sums over slowly growing counts; on digits all 27 are still beyond norm 5 at
  step 100, and 0 / 3 of them in the matched / defaults rows at step 300) and are out of play
  meanwhile. genlab debiases (as Sonnet's `VectorQuantizerEMA`) and smooths only when dividing, so
  with restart off its unused codes sit at the origin (m = 0) instead;
* pythae updates the EMA codebook in every training-mode forward (here exactly once per step, so the
  same count as genlab's once-per-optimizer-step update);
* pythae has no dead-code restart; the like-for-like genlab rows run with `restart_threshold=0`,
  and a "genlab ... +restart" row shows genlab's default.

Reports, at each of --eval-at steps: test reconstruction MSE per pixel (decoder of the nearest codes,
eval mode) and codes in use on the test set; and milliseconds per training step. Writes
benchmarks/results/vqvae-<data>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.config import DataConfig, load_config
from genlab.core.protocol import StepContext
from genlab.data import load_dataset, pixels_for
from genlab.models.vqvae import VQVAE
from genlab.models.vqvae.nets import VQDecoder, VQEncoder

RESULTS = Path(__file__).parent / "results"


class GenlabRun:
    """genlab's VQ-VAE with its own Adam: one `train_step` update and `on_step_end` per minibatch."""

    def __init__(self, model: VQVAE, lr: float):
        self.model = model
        self.opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        self.step_no = 0

    def loss(self, x: Tensor) -> Tensor:
        return next(iter(self.model.train_step({"x": x}, StepContext(self.step_no)))).loss

    def step(self, x: Tensor) -> None:
        for u in self.model.train_step({"x": x}, StepContext(self.step_no)):
            self.opt.zero_grad(set_to_none=True)
            u.loss.backward()
            self.opt.step()
        self.model.on_step_end(StepContext(self.step_no))
        self.step_no += 1

    @torch.no_grad()
    def evaluate(self, test: Tensor) -> tuple[float, int]:
        self.model.eval()
        codes = self.model.codes(test)
        mse = F.mse_loss(self.model.decode_codes(codes), test).item()
        self.model.train()
        return mse, int(codes.unique().numel())


class PythaeRun:
    """pythae's VQVAE on genlab's nets, started from `init`'s weights; back-propagates loss / `scale`."""

    def __init__(self, init: VQVAE, lr: float, commitment: float, quantization: float, scale: float):
        from pythae.models import VQVAE as PythaeVQVAE
        from pythae.models import VQVAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder

        cfg, c = init.cfg, init.shape[0]

        class Enc(BaseEncoder):
            def __init__(self):
                BaseEncoder.__init__(self)
                self.net = VQEncoder(c, cfg.dim, cfg.hidden, cfg.downsample, cfg.res_blocks)

            def forward(self, x):
                return ModelOutput(embedding=self.net(x))

        class Dec(BaseDecoder):
            def __init__(self):
                BaseDecoder.__init__(self)
                self.net = VQDecoder(c, cfg.dim, cfg.hidden, cfg.downsample, cfg.res_blocks)

            def forward(self, z):  # pythae hands the quantised map over channels-first (B, D, h, w)
                return ModelOutput(reconstruction=self.net(z))

        pcfg = VQVAEConfig(input_dim=init.shape, latent_dim=cfg.dim, commitment_loss_factor=commitment,
                           quantization_loss_factor=quantization, num_embeddings=cfg.codes,
                           use_ema=cfg.codebook == "ema", decay=cfg.decay)
        self.model = PythaeVQVAE(pcfg, encoder=Enc(), decoder=Dec())
        self.model.encoder.net.load_state_dict(init.encoder.state_dict())
        self.model.decoder.net.load_state_dict(init.decoder.state_dict())
        q = self.model.quantizer
        with torch.no_grad():
            if cfg.codebook == "ema":
                q.embeddings.copy_(init.quantizer.codebook)
                q.ema_embed.copy_(init.quantizer.codebook)
            else:
                q.embeddings.weight.copy_(init.quantizer.codebook)
        self.scale = scale
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.model.train()

    def loss(self, x: Tensor) -> Tensor:
        return self.model({"data": x}).loss / self.scale

    def step(self, x: Tensor) -> None:
        loss = self.loss(x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    @torch.no_grad()
    def evaluate(self, test: Tensor) -> tuple[float, int]:
        self.model.eval()  # no EMA update in eval mode
        out = self.model({"data": test})
        self.model.train()
        return F.mse_loss(out.recon_x, test).item(), int(out.quantized_indices.unique().numel())


def build_runs(base: VQVAE.Config, shape: tuple[int, ...], lr: float, defaults: bool) -> dict:
    """Every row's model, each genlab/pythae pair from one seeded genlab initialisation."""
    pixels = math.prod(shape)
    runs = {}
    for codebook in ("ema", "loss"):
        cfg = replace(base, codebook=codebook, restart_threshold=0.0)
        torch.manual_seed(0)
        g = VQVAE(cfg, shape)
        runs[f"genlab {codebook}"] = GenlabRun(g, lr)
        runs[f"pythae {codebook} (matched)"] = PythaeRun(g, lr, cfg.beta * pixels, float(pixels), pixels)
        if defaults:
            runs[f"pythae {codebook} (defaults)"] = PythaeRun(g, lr, cfg.beta, 1.0, pixels)
    torch.manual_seed(0)
    runs["genlab ema +restart"] = GenlabRun(VQVAE(replace(base, codebook="ema"), shape), lr)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits", choices=("digits", "fashion-mnist"))
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--eval-at", default="",
                    help="comma-separated steps (default: 10/25/50/100 %% of --steps)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--n-test", type=int, default=2000, help="test images scored (first n of the split)")
    ap.add_argument("--no-defaults", action="store_true", help="skip the 'pythae defaults' rows")
    args = ap.parse_args()
    torch.set_num_threads(1)
    eval_at = sorted({int(s) for s in args.eval_at.split(",") if s} or
                     {max(1, args.steps * f // 100) for f in (10, 25, 50, 100)})
    preset = "vqvae-fashion" if args.data == "fashion-mnist" else "vqvae-digits"
    model_cfg = load_config(preset, []).to_dict()["model"]
    base = VQVAE.Config(**{k: v for k, v in model_cfg.items() if k != "name"})

    data_cfg = DataConfig(name=args.data, batch_size=args.batch, pixels="dequantize")
    data = load_dataset(data_cfg, seed=0)
    pixels = pixels_for(data, data_cfg)
    torch.manual_seed(0)
    train = data.split_tensors("train")["x"]
    batches = [pixels(train[torch.randint(len(train), (args.batch,))]) for _ in range(args.steps)]
    test = pixels(data.test[: args.n_test])
    shape = tuple(data.spec.shape)

    runs = build_runs(base, shape, args.lr, not args.no_defaults)
    # the matched pythae objective equals genlab's at initialisation (same weights, same batch)
    check = {}
    for codebook in ("ema", "loss"):
        g, p = runs[f"genlab {codebook}"], runs[f"pythae {codebook} (matched)"]
        with torch.no_grad():
            p.model.eval()  # no EMA update during the check
            lg, lp = g.loss(batches[0]).item(), p.loss(batches[0]).item()
            p.model.train()
            g.model.quantizer._pending, g.model.residual._pending = {}, []  # drop the check's statistics
        check[codebook] = {"genlab": lg, "pythae_matched": lp}
        print(f"init loss on batch 1 ({codebook}): genlab {lg:.6f}  pythae matched / P {lp:.6f}")

    seconds = dict.fromkeys(runs, 0.0)
    history: dict[str, list] = {name: [] for name in runs}
    load = [os.getloadavg()]
    for i, x in enumerate(batches, 1):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run.step(x)
            seconds[name] += time.perf_counter() - t0
        if i in eval_at:
            for name, run in runs.items():
                mse, used = run.evaluate(test)
                history[name].append({"step": i, "test_mse": mse, "codes_used": used})
            load.append(os.getloadavg())
            print(f"step {i}: " + ", ".join(f"{n} {h[-1]['test_mse']:.5f}" for n, h in history.items()),
                  flush=True)

    print(f"\n{args.data}, K={base.codes}, D={base.dim}, beta={base.beta}, batch {args.batch}, "
          f"Adam lr {args.lr}, "
          f"1 thread; load average (1, 5, 15 min) at start {load[0]}, at end {load[-1]}\n")
    head = " | ".join(f"MSE @{s}" for s in eval_at)
    print(f"| model | {head} | codes used @{eval_at[-1]} | ms/step |")
    print("|---|" + "---:|" * (len(eval_at) + 2))
    for name, h in history.items():
        cells = " | ".join(f"{r['test_mse']:.5f}" for r in h)
        ms = 1000 * seconds[name] / args.steps
        print(f"| {name} | {cells} | {h[-1]['codes_used']}/{base.codes} | {ms:.2f} |")
    RESULTS.mkdir(exist_ok=True)
    out = {"data": args.data, "steps": args.steps, "batch": args.batch, "lr": args.lr, "n_test": len(test),
           "model": {k: getattr(base, k) for k in ("codes", "dim", "hidden", "downsample", "res_blocks",
                                                   "beta", "decay")},
           "init_loss_check": check, "loadavg": load, "threads": 1,
           "rows": {n: {"history": history[n], "ms_per_step": 1000 * seconds[n] / args.steps} for n in runs}}
    path = RESULTS / f"vqvae-{args.data}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
