"""Benchmark Deep InfoMax's representation on Fashion-MNIST with a linear probe.

    .venv/bin/python benchmarks/infomax_probe.py               # 300 steps: ~8 min on 2 busy CPU cores
    .venv/bin/python benchmarks/infomax_probe.py --steps 5000  # longer

Trains the `infomax-fashion` preset with genlab's Trainer (only `train.steps` changed), then runs
`genlab.eval.probe.linear_probe`: logistic regression on frozen code means fitted on (a fixed subset of)
the official train split, accuracy on the full test split, against the same classifier on raw pixels
and on a randomly initialised encoder of the same architecture. Writes
benchmarks/results/infomax_probe.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from genlab.config import load_config
from genlab.eval.probe import linear_probe
from genlab.train import Trainer

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--probe-n-train", type=int, default=10000,
                   help="train examples fitting the probe (0: all)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data-dir", help="folder holding Fashion-MNIST")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    run = RESULTS / "runs" / "infomax-fashion"
    shutil.rmtree(run, ignore_errors=True)
    over = [f"train.steps={args.steps}", "train.progress=false", "train.ckpt_every=0", "train.device=cpu",
            "train.log_every=100", f"eval.probe_n_train={args.probe_n_train}", "eval.batch_size=500"]
    if args.data_dir:
        over.append(f"data.data_dir={args.data_dir}")
    cfg = load_config("infomax-fashion", over)
    trainer = Trainer(cfg, run)
    t0 = time.perf_counter()
    last = trainer.fit()
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    probe = linear_probe(trainer.model.eval(), trainer.dataset, trainer.pixels, cfg.eval, trainer.device)
    probe_seconds = time.perf_counter() - t0

    result = {"preset": "infomax-fashion", "steps": args.steps, "batch_size": cfg.data.batch_size,
              "epochs": round(args.steps * cfg.data.batch_size / len(trainer.dataset.train), 2),
              "train_seconds": round(train_seconds, 1), "probe_seconds": round(probe_seconds, 1),
              "threads": args.threads, "final_train_logs": {k: last.get(k) for k in
                                                            ("loss", "mi_global", "mi_local", "kl")},
              "probe": probe}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "infomax_probe.json").write_text(json.dumps(result, indent=2) + "\n")

    print(f"Fashion-MNIST linear probe ({probe['probe_n_train']} train -> {probe['probe_n_test']} test), "
          f"DIM trained {args.steps} steps ({result['epochs']} epochs, {train_seconds:.0f} s)")
    print(f"{'features':<28}{'test accuracy':>14}")
    for name, key in (("Deep InfoMax code mean", "probe_accuracy"),
                      ("raw pixels", "probe_raw_pixels_accuracy"),
                      ("random-init encoder", "probe_random_init_accuracy")):
        value = probe[key]
        print(f"{name:<28}{value:>14.4f}" if isinstance(value, float) else f"{name:<28}{value:>14}")
    if "not_converged" in probe:
        print(f"(L-BFGS stopped at {probe['classifier_max_iter']} iterations for: {probe['not_converged']})")


if __name__ == "__main__":
    main()
