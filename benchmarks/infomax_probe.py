"""Benchmark Deep InfoMax's representation on Fashion-MNIST with a linear probe.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/infomax_probe.py            # the preset: 4000 steps
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/infomax_probe.py --steps 300  # a quick look

Trains the `infomax-fashion` preset with genlab's Trainer on one CPU thread (only `train.steps` may
change), then runs `genlab.eval.probe.linear_probe`: logistic regression on frozen features fitted on
(a fixed subset of) the official train split, accuracy on the full test split, against the same
classifier on raw pixels and on a randomly initialised encoder of the same architecture. Each of the
three layers Hjelm et al. 2019 (arXiv:1808.06670) evaluate is probed: `conv` (the local feature map),
`feature` (the global feature, their "fc") and `code` (the code mean, their "Y"); the preset's
`model.probe_layer` is the first row. Writes benchmarks/results/infomax_probe.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import torch

from genlab.config import load_config
from genlab.eval.probe import linear_probe
from genlab.models.infomax.model import PROBE_LAYERS
from genlab.train import Trainer

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    p.add_argument("--probe-n-train", type=int, default=10000,
                   help="train examples fitting the probe (0: all 60000)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", help="folder holding Fashion-MNIST")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    run = RESULTS / "runs" / "infomax-fashion"
    shutil.rmtree(run, ignore_errors=True)
    over = ["train.progress=false", "train.ckpt_every=0", "train.device=cpu", "train.log_every=500",
            f"eval.probe_n_train={args.probe_n_train}", "eval.batch_size=500"]
    if args.steps is not None:
        over.append(f"train.steps={args.steps}")
    if args.data_dir:
        over.append(f"data.data_dir={args.data_dir}")
    cfg = load_config("infomax-fashion", over)
    trainer = Trainer(cfg, run)
    t0 = time.perf_counter()
    last = trainer.fit()
    train_seconds = time.perf_counter() - t0
    load_after_training = os.getloadavg()

    model = trainer.model.eval()
    headline = model.cfg.probe_layer
    probes, t0 = {}, time.perf_counter()
    for layer in (headline, *(name for name in PROBE_LAYERS if name != headline)):
        model.cfg = replace(model.cfg, probe_layer=layer)  # the random-init copy is built from it too
        probes[layer] = linear_probe(model, trainer.dataset, trainer.pixels, cfg.eval, trainer.device)
    model.cfg = replace(model.cfg, probe_layer=headline)
    probe_seconds = time.perf_counter() - t0

    steps = cfg.train.steps
    result = {"preset": "infomax-fashion", "steps": steps, "batch_size": cfg.data.batch_size,
              "epochs": round(steps * cfg.data.batch_size / len(trainer.dataset.train), 2),
              "train_seconds": round(train_seconds, 1), "probe_seconds": round(probe_seconds, 1),
              "threads": args.threads, "loadavg_after_training": load_after_training,
              "final_train_logs": {k: last.get(k) for k in ("loss", "mi_global", "mi_local", "kl")},
              "probe_layer": headline, "probe": probes[headline], "probe_by_layer": probes}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "infomax_probe.json").write_text(json.dumps(result, indent=2) + "\n")

    first = probes[headline]
    print(f"Fashion-MNIST linear probe ({first['probe_n_train']} train -> {first['probe_n_test']} test), "
          f"DIM trained {steps} steps ({result['epochs']} epochs, {train_seconds:.0f} s, "
          f"{args.threads} thread(s), load {load_after_training[0]:.2f})\n")
    print("| features | Deep InfoMax | random-init encoder | raw pixels |")
    print("|---|---|---|---|")
    for layer, probe in probes.items():
        mark = " (preset)" if layer == headline else ""
        print(f"| {layer}{mark} | {probe['probe_accuracy']:.4f} | {probe['probe_random_init_accuracy']:.4f} "
              f"| {probe['probe_raw_pixels_accuracy']:.4f} |")
    stopped = sorted({name for probe in probes.values() for name in probe.get("not_converged", "").split(", ")
                      if name})
    if stopped:
        print(f"\n(L-BFGS stopped at {first['classifier_max_iter']} iterations for: {', '.join(stopped)})")


if __name__ == "__main__":
    main()
