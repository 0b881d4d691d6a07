"""IGEBM-style EBM on 8-Gaussians and 25-Gaussians: mode coverage of its Langevin samples (not run in CI).

Each dataset trains its preset (`ebm-8gaussians`, `ebm-25gaussians`) through genlab's real Trainer for
`--steps` steps per seed (one thread), then scores with the VEEGAN/PacGAN protocol
(`genlab.eval.metrics.toy2d.mode_coverage`, 3 std: modes captured, fraction of high-quality samples,
reverse KL over modes):

* "sample": `genlab eval`'s own toy metrics (`genlab.eval.evaluate.sample_metrics`: `--n-eval` draws
  of `model.sample` under the evaluation seed), the path `genlab sample` draws from too: chains of
  `model.sample_steps` Langevin steps started from the replay buffer (5 % from uniform noise);
* "noise": the other start, fresh chains from uniform noise of the same length (`sample_from: noise`);
* "long": fresh chains from uniform noise of `--long-steps` steps (long-run chains);
* "buffer": the replay buffer's own contents (the training negatives).

    OMP_NUM_THREADS=1 python benchmarks/ebm_toy.py                       # both datasets, the presets
    OMP_NUM_THREADS=1 python benchmarks/ebm_toy.py --steps 1000 --seeds 2 --datasets 8gaussians

Prints a markdown table (with the load average) and writes benchmarks/results/ebm_toy.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import torch

from genlab.config import load_config
from genlab.eval.evaluate import sample_metrics
from genlab.eval.metrics.toy2d import mode_coverage
from genlab.train import Trainer

DATASETS = ("8gaussians", "25gaussians")


def run_one(dataset: str, seed: int, steps: int | None, n_eval: int, long_steps: int) -> dict:
    overrides = [f"train.seed={seed}", "train.ckpt_every=0", "train.eval_every=0", "train.sample_every=0",
                 "train.progress=false", "train.device=cpu"]
    if steps is not None:
        overrides += [f"train.steps={steps}", f"train.log_every={max(1, steps // 10)}"]
    cfg = load_config(f"ebm-{dataset}", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, tmp)
        t0 = time.perf_counter()
        trainer.fit()
        elapsed = time.perf_counter() - t0
        info, model = trainer.dataset.info, trainer.model
        model.eval()
        sample_steps = model.cfg.sample_steps or model.cfg.n_steps
        # exactly what `genlab eval` computes for this run: model.sample under the evaluation seed
        t0 = time.perf_counter()
        ev = sample_metrics(model, trainer.dataset, None, cfg.eval, torch.device("cpu"), n_samples=n_eval)
        eval_s = time.perf_counter() - t0
        draws = {}
        torch.manual_seed(20_000 + seed)
        draws["noise"] = model.langevin(model.buffer.noise(n_eval), sample_steps)
        torch.manual_seed(30_000 + seed)
        draws["long"] = model.langevin(model.buffer.noise(n_eval), long_steps)
        draws["buffer"] = model.buffer.decode(model.buffer.data)
    scores = {k: mode_coverage(x, info["centers"], info["std"], threshold=3.0) for k, x in draws.items()}
    scores["sample"] = {k: ev[k] for k in ("modes", "n_modes", "high_quality", "reverse_kl")}
    for r in scores.values():
        if not math.isfinite(r["reverse_kl"]):
            r["reverse_kl"] = None  # JSON has no inf
    return {"dataset": dataset, "seed": seed, "steps": trainer.step, "train_s": elapsed,
            "steps_per_s": trainer.step / elapsed, "eval_s": eval_s, "sample_steps": sample_steps,
            "long_steps": long_steps, "sample_from": model.cfg.sample_from, **scores,
            "loadavg": os.getloadavg(), "model": json.loads(json.dumps(cfg.to_dict()["model"]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, help="training steps per run (default: the preset's)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--n-eval", type=int, default=2500, help="samples scored per run")
    ap.add_argument("--long-steps", type=int, default=500, help="length of the long-run chains from noise")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "ebm_toy.json"))
    args = ap.parse_args(argv)
    datasets = args.datasets.split(",")
    bad = [d for d in datasets if d not in DATASETS]
    if bad:
        ap.error(f"unknown dataset {bad[0]!r}; choose from {', '.join(DATASETS)}")
    torch.set_num_threads(1)

    runs = []
    for dataset in datasets:
        for seed in range(args.seeds):
            r = run_one(dataset, seed, args.steps, args.n_eval, args.long_steps)
            runs.append(r)
            print(f"  {dataset} seed {seed}: " + ", ".join(
                f"{k} {r[k]['modes']}/{r[k]['n_modes']} modes {100 * r[k]['high_quality']:.1f}% HQ"
                for k in ("sample", "noise", "long", "buffer")), flush=True)

    print(f"\n1 thread; load average (1, 5, 15 min) after the last run: {os.getloadavg()}")
    print("sample: genlab eval's metrics of model.sample; noise: fresh chains of the same length; "
          "long: fresh chains of --long-steps; buffer: the replay buffer\n")
    print("| dataset | seed | steps | train s | sample path | modes | HQ % | reverse KL | noise: modes, HQ % "
          "| long: modes, HQ % | buffer: modes, HQ % |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        rkl = "inf" if r["sample"]["reverse_kl"] is None else f"{r['sample']['reverse_kl']:.3f}"
        other = " | ".join(f"{r[k]['modes']}, {100 * r[k]['high_quality']:.1f}"
                           for k in ("noise", "long", "buffer"))
        print(f"| {r['dataset']} | {r['seed']} | {r['steps']} | {r['train_s']:.0f} | {r['sample_from']}, "
              f"{r['sample_steps']} steps | {r['sample']['modes']}/{r['sample']['n_modes']} | "
              f"{100 * r['sample']['high_quality']:.1f} | {rkl} | {other} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    protocol = ("preset settings, mode coverage at 3 std of n_eval draws: model.sample (sample), fresh "
                "noise chains of the same length (noise) and of long_steps (long), the buffer (buffer)")
    out.write_text(json.dumps({"protocol": protocol, "n_eval": args.n_eval, "runs": runs}, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
