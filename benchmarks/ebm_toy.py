"""IGEBM-style EBM on 8-Gaussians and 25-Gaussians: mode coverage of its Langevin samples (not run in CI).

Each dataset trains its preset (`ebm-8gaussians`, `ebm-25gaussians`) through genlab's real Trainer for
`--steps` steps per seed, then draws `--n-eval` samples with `model.sample` (Langevin chains started
from the replay buffer, as after training) and scores them with the VEEGAN/PacGAN protocol
(`genlab.eval.metrics.toy2d.mode_coverage`, 3 std): modes captured, fraction of high-quality samples,
reverse KL over modes; plus training steps/s. The buffer's own contents are scored too.

    python benchmarks/ebm_toy.py                       # both datasets, the presets' settings
    python benchmarks/ebm_toy.py --steps 1000 --seeds 2 --datasets 8gaussians

Prints a markdown table and writes benchmarks/results/ebm_toy.json.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from genlab.config import load_config
from genlab.eval.metrics.toy2d import mode_coverage
from genlab.train import Trainer

DATASETS = ("8gaussians", "25gaussians")


def run_one(dataset: str, seed: int, steps: int | None, n_eval: int) -> dict:
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
        torch.manual_seed(10_000 + seed)
        with torch.no_grad():
            samples = model.sample(n_eval)
        buffer = model.buffer.decode(model.buffer.data)
    out = {"dataset": dataset, "seed": seed, "steps": trainer.step, "steps_per_s": trainer.step / elapsed,
           **mode_coverage(samples, info["centers"], info["std"], threshold=3.0),
           "buffer": mode_coverage(buffer, info["centers"], info["std"], threshold=3.0),
           "model": json.loads(json.dumps(cfg.to_dict()["model"]))}
    for r in (out, out["buffer"]):
        if not math.isfinite(r["reverse_kl"]):
            r["reverse_kl"] = None  # JSON has no inf
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, help="training steps per run (default: the preset's)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--n-eval", type=int, default=2500, help="samples scored per run")
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
            r = run_one(dataset, seed, args.steps, args.n_eval)
            runs.append(r)
            print(f"  {dataset:12s} seed {seed}: {r['modes']}/{r['n_modes']} modes, "
                  f"{100 * r['high_quality']:.1f}% HQ (buffer {r['buffer']['modes']} modes, "
                  f"{100 * r['buffer']['high_quality']:.1f}% HQ), {r['steps_per_s']:.1f} steps/s", flush=True)

    print("\n| dataset | seed | steps | modes | HQ % | reverse KL | buffer modes | buffer HQ % | steps/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        rkl = "inf" if r["reverse_kl"] is None else f"{r['reverse_kl']:.3f}"
        print(f"| {r['dataset']} | {r['seed']} | {r['steps']} | {r['modes']}/{r['n_modes']} | "
              f"{100 * r['high_quality']:.1f} | {rkl} | {r['buffer']['modes']} | "
              f"{100 * r['buffer']['high_quality']:.1f} | {r['steps_per_s']:.1f} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"protocol": "preset settings, mode coverage at 3 std of n_eval model.sample "
                                           "draws (chains from the replay buffer)",
                               "n_eval": args.n_eval, "runs": runs}, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
