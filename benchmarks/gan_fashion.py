"""Fréchet distance in genlab's Fashion-MNIST feature space after a fixed CPU budget, for the four
Lipschitz constraints WC / GP / SN / GN with the same DCGAN nets (not run in CI).

Each method trains through genlab's Trainer for about `--seconds` of CPU time (the step count is
calibrated from a short timed run), then `--n-eval` samples from the EMA generator are embedded
with genlab's shipped Fashion-MNIST feature CNN (`genlab.eval.features`) and compared with the same
number of test images (FD, lower is better). Objectives follow the papers: Wasserstein with 5
critic steps for weight clipping (arXiv:1701.07875), GP (arXiv:1704.00028) and SN (as in
https://kexue.fm/archives/6051); non-saturating BCE with 1 critic step for GN (arXiv:2109.02235).

    python benchmarks/gan_fashion.py [--seconds 300] [--n-eval 2000]

Needs Fashion-MNIST (`make data`, i.e. apt-get install dataset-fashion-mnist, or --data-dir).
Prints a table and writes benchmarks/results/gan_fashion.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from genlab.config import Config
from genlab.core.errors import GenlabError
from genlab.train import Trainer

NETS = {"net": "dcgan", "hidden": 32, "latent_dim": 64, "generator_norm": "batch", "output": "tanh"}
METHODS = {
    "WC": ({"objective": "wasserstein", "clip": 0.01, "n_critic": 5}, {"name": "rmsprop", "lr": 5e-5}),
    "GP": ({"objective": "wasserstein", "penalty": "gp", "penalty_weight": 10.0, "n_critic": 5},
           {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}),
    "SN": ({"objective": "wasserstein", "spectral_norm": True, "n_critic": 5},
           {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}),
    "GN": ({"objective": "nonsaturating", "grad_norm": "gn", "n_critic": 1},
           {"name": "adam", "lr": 2e-4, "betas": [0.0, 0.9]}),
}


def config(method: str, steps: int, batch: int, data_dir: str | None, seed: int) -> Config:
    model, optim = METHODS[method]
    return Config.from_dict({
        "model": {"name": "gan", **NETS, "critic": {"norm": "none", **model}},
        "data": {"name": "fashion-mnist", "data_dir": data_dir, "pixels": "dequantize",
                 "range": "symmetric", "batch_size": batch * model["n_critic"]},
        "optim": {"default": optim, "generator": {"ema": 0.999}},
        "train": {"steps": steps, "seed": seed, "log_every": max(1, min(100, steps)), "ckpt_every": 0,
                  "progress": False, "device": "cpu", "n_samples": 16},
    })


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300.0, help="CPU budget per method")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--batch", type=int, default=64, help="examples per critic/generator step")
    ap.add_argument("--n-eval", type=int, default=2000)
    ap.add_argument("--data-dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gan_fashion.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        from genlab.eval.features import reference, require_feature_net
        from genlab.eval.features.net import extract_features
        from genlab.eval.metrics import frechet_distance_features
        feature_net = require_feature_net("fashion-mnist")
    except (ImportError, GenlabError) as err:
        print(f"gan_fashion: genlab's Fashion-MNIST feature network is missing ({err}); "
              "nothing measured", file=sys.stderr)
        return 1

    results = []
    for method in args.methods.split(","):
        if method not in METHODS:
            ap.error(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        with tempfile.TemporaryDirectory() as tmp:
            try:  # calibrate: time a few steps, then train for the budget
                probe = Trainer(config(method, 5, args.batch, args.data_dir, args.seed), tmp)
            except GenlabError as err:
                print(f"gan_fashion: {err}", file=sys.stderr)
                return 1
            t0 = time.perf_counter()
            probe.fit()
            rate = 5 / (time.perf_counter() - t0)
            steps = max(10, int(rate * args.seconds))
            trainer = Trainer(config(method, steps, args.batch, args.data_dir, args.seed), Path(tmp) / "run")
            t0 = time.perf_counter()
            trainer.fit()
            elapsed = time.perf_counter() - t0
            torch.manual_seed(1234)
            with torch.no_grad(), trainer.ema_weights():
                trainer.model.eval()
                samples = trainer.pixels.to_unit(trainer.model.sample(args.n_eval))
            ref = reference(feature_net, trainer.dataset, "test", args.n_eval)
            fd = frechet_distance_features(extract_features(feature_net.net, samples), ref.features)
        results.append({"method": method, "steps": steps, "seconds": elapsed, "fd": fd,
                        "model": METHODS[method][0]})
        print(f"  {method}: {steps} steps in {elapsed:.0f} s, FD {fd:.2f}", flush=True)

    protocol = (f"protocol: Fashion-MNIST 28x28 in [-1, 1], DCGAN nets {NETS}, batch {args.batch} per "
                f"step, ~{args.seconds:.0f} s per method on {args.threads} thread(s) (step count calibrated "
                f"by a 5-step probe), EMA 0.999 "
                f"generator, FD over {args.n_eval} samples vs {args.n_eval} test images in the "
                f"{feature_net.entry.get('id', 'fashion')} feature space (sha256 {feature_net.sha256[:12]})")
    print(protocol)
    print(f"{'method':8s} {'steps':>7s} {'seconds':>8s} {'FD':>8s}")
    for r in results:
        print(f"{r['method']:8s} {r['steps']:7d} {r['seconds']:8.0f} {r['fd']:8.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"protocol": protocol, "results": results}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
