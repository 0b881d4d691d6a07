"""The multi-task example (`multitask-digits`) with every task weighting, MGDA and MGDA-UB included.

    .venv/bin/python benchmarks/multitask.py           # 1000 steps, 1 thread: ~4.3 CPU-min (reported)
    .venv/bin/python benchmarks/multitask.py --quick   # 300 steps and a narrower network: a smoke run
    .venv/bin/python benchmarks/multitask.py --full    # the preset's 3000 steps

Each weighting of `genlab.models.multitask.TASK_WEIGHTINGS` trains the preset's model through the
Trainer for 3 seeds; each task's test metric is measured on the digits test split (class accuracy on
upright images, reconstruction MSE, rotation accuracy), with the mean weights of the last log window.
Writes benchmarks/results/multitask.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import torch

from genlab.config import load_config
from genlab.models.multitask import TASK_WEIGHTINGS
from genlab.train import Trainer
from genlab.train.runlog import read_metrics

RESULTS = Path(__file__).parent / "results"
EXTRA = {"power_mean": ["model.gamma=2.0"]}  # gamma 0 would repeat "geometric"
METRICS = ("accuracy", "reconstruction_mse", "rotation_accuracy")
TASKS = ("class", "reconstruction", "rotation")


BUDGETS = {"quick": ["train.steps=300", "train.log_every=50", "model.hidden=128"],
           "default": ["train.steps=1000", "train.log_every=100"],
           "full": []}


def run(weighting: str, seed: int, level: str) -> dict:
    out_dir = RESULTS / "runs" / f"multitask-{weighting}-{seed}"
    shutil.rmtree(out_dir, ignore_errors=True)
    over = [f"model.task_weighting={weighting}", f"train.seed={seed}", "train.device=cpu",
            "train.progress=false", "train.ckpt_every=0", *EXTRA.get(weighting, []), *BUDGETS[level]]
    cfg = load_config("multitask-digits", over)
    trainer = Trainer(cfg, out_dir)
    t0 = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - t0
    test = trainer.dataset.split_tensors("test")
    x = trainer.pixels(test["x"].to(trainer.device))
    metrics = trainer.model.task_metrics(x, test["y"].to(trainer.device), seed=seed)
    last = [r for r in read_metrics(out_dir / "metrics.jsonl") if "weight/class" in r][-1]
    trainer.close()
    return {"weighting": weighting, "seed": seed, "steps": cfg.train.steps, "seconds": seconds, **metrics,
            **{f"weight/{t}": last[f"weight/{t}"] for t in TASKS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="300 steps, a narrower network")
    budget.add_argument("--full", action="store_true", help="the preset's 3000 steps")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    level = "quick" if args.quick else "full" if args.full else "default"
    rows = []
    for weighting in TASK_WEIGHTINGS.names():
        for seed in range(args.seeds):
            rows.append(run(weighting, seed, level))
            print(json.dumps(rows[-1]), flush=True)
    (RESULTS / "multitask.json").write_text(json.dumps({"budget": level, "runs": rows}, indent=1))

    def cell(values: list[float]) -> str:
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    steps = rows[0]["steps"]
    print(f"\n### multitask-digits, test split ({args.seeds} seeds, {steps} steps, mean ± sd; "
          "weights: last log window)\n")
    print("| weighting | class acc ↑ | recon MSE ↓ | rotation acc ↑ | w class | w recon | w rotation "
          "| s/run |")
    print("|---|---|---|---|---|---|---|---|")
    for weighting in TASK_WEIGHTINGS.names():
        rs = [r for r in rows if r["weighting"] == weighting]
        name = weighting + (f" ({EXTRA[weighting][0].split('.')[1]})" if weighting in EXTRA else "")
        cells = [cell([r[m] for r in rs]) for m in METRICS]
        weights = [f"{statistics.mean(r[f'weight/{t}'] for r in rs):.3g}" for t in TASKS]
        seconds = statistics.mean(r["seconds"] for r in rs)
        print(f"| {name} | " + " | ".join(cells + weights) + f" | {seconds:.1f} |")


if __name__ == "__main__":
    main()
