"""GAN objectives x Lipschitz constraints on 8-Gaussians and 25-Gaussians (not run in CI).

Every combination trains the same MLP generator/critic for a fixed number of generator steps
through genlab's real Trainer, for each seed, then draws samples and scores them with the
VEEGAN/PacGAN mode-coverage protocol (`genlab.eval.metrics.toy2d.mode_coverage`, 3 std): modes
captured, fraction of high-quality samples, reverse KL over modes; plus training steps/s.

    python benchmarks/gan_toy.py --jobs 2        # the full grid, two single-thread workers
    python benchmarks/gan_toy.py --quick         # a reduced budget: see QUICK below
    python benchmarks/gan_toy.py --objectives wasserstein --constraints gp --datasets 25gaussians

Each finished run is appended to benchmarks/results/gan_toy.runs.jsonl together with its
protocol, so an interrupted grid resumes where it stopped (runs of another protocol are ignored;
--fresh starts over). Prints one objective x constraint matrix per dataset (mean modes / mean HQ %
over seeds) and writes benchmarks/results/gan_toy.json.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import torch

from genlab.config import Config
from genlab.eval.metrics.toy2d import mode_coverage
from genlab.train import Trainer

OBJECTIVES = {
    "minimax": {"objective": "minimax"},
    "nonsaturating": {"objective": "nonsaturating"},
    "hinge": {"objective": "hinge"},
    "least_squares": {"objective": "least_squares"},
    "wasserstein": {"objective": "wasserstein"},
    **{f"fgan-{d}": {"objective": "fgan", "divergence": d}
       for d in ("kl", "reverse_kl", "pearson_chi2", "neyman_chi2", "squared_hellinger",
                 "jensen_shannon", "gan", "total_variation")},
}
CONSTRAINTS = {
    "none": {},
    "clip": {"clip": 0.01},
    "gp": {"penalty": "gp", "penalty_weight": 0.1},
    "gp-one-sided": {"penalty": "gp", "penalty_mode": "one_sided", "penalty_weight": 0.1},
    "fd": {"penalty": "fd", "penalty_weight": 0.1},
    "r1": {"r1_weight": 0.1},
    "sn": {"spectral_norm": True},
    "gn": {"grad_norm": "gn"},
    "gran": {"grad_norm": "gran"},
}
DATASETS = ("8gaussians", "25gaussians")
FULL = {"steps": 800, "seeds": 3, "hidden": 64, "batch": 64, "n_critic": 5, "lr": 5e-4}
QUICK = {"steps": 250, "seeds": 1, "hidden": 64, "batch": 64, "n_critic": 5, "lr": 5e-4,
         "objectives": ["minimax", "nonsaturating", "hinge", "least_squares", "wasserstein",
                        "fgan-kl"]}
PROTOCOL_KEYS = ("steps", "hidden", "batch", "n_critic", "lr", "n_eval")


def protocol_key(p: dict) -> dict:
    """The settings a logged run must share to be reused (seeds and the grid's extent excluded)."""
    return {k: p[k] for k in PROTOCOL_KEYS}


def run_one(dataset: str, objective: str, constraint: str, seed: int, p: dict) -> dict:
    """Train one combination for p['steps'] generator steps; score p['n_eval'] samples."""
    raw = {
        "model": {"name": "gan", "critic": {**OBJECTIVES[objective], **CONSTRAINTS[constraint],
                                            "n_critic": p["n_critic"]},
                  "latent_dim": 2, "net": "mlp", "hidden": p["hidden"], "depth": 3},
        "data": {"name": dataset, "batch_size": p["batch"] * p["n_critic"], "n_samples": 100000},
        "optim": {"default": {"name": "adam", "lr": p["lr"], "betas": [0.5, 0.9]}},
        "train": {"steps": p["steps"], "seed": seed, "log_every": max(1, p["steps"] // 10),
                  "ckpt_every": 0, "progress": False, "device": "cpu", "n_samples": 16},
    }
    cfg = Config.from_dict(raw)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, tmp)
        t0 = time.perf_counter()
        try:
            trainer.fit()
            error = None
        except Exception as err:  # a diverged combination is a result, not a crash
            error = f"{type(err).__name__}: {err}"
        elapsed = time.perf_counter() - t0
        info = trainer.dataset.info
        torch.manual_seed(10_000 + seed)
        trainer.model.eval()
        with torch.no_grad():
            samples = trainer.model.sample(p["n_eval"])
    out = {"dataset": dataset, "objective": objective, "constraint": constraint, "seed": seed,
           "steps_per_s": trainer.step / elapsed, "error": error}
    if error is None and torch.isfinite(samples).all():
        out.update(mode_coverage(samples, info["centers"], info["std"], threshold=3.0))
    else:
        out.update({"modes": 0, "high_quality": 0.0, "reverse_kl": math.inf, "n_modes": len(info["centers"])})
    if not math.isfinite(out["reverse_kl"]):
        out["reverse_kl"] = None  # JSON has no inf
    return out


def _worker(job: tuple) -> dict:
    torch.set_num_threads(1)
    dataset, objective, constraint, seed, p = job
    return {"protocol": protocol_key(p), **run_one(dataset, objective, constraint, seed, p)}


def summarise(runs: list[dict]) -> list[dict]:
    rows: dict[tuple, list[dict]] = {}
    for r in runs:
        rows.setdefault((r["dataset"], r["objective"], r["constraint"]), []).append(r)
    return [{"dataset": dataset, "objective": objective, "constraint": constraint, "seeds": len(rs),
             "modes": statistics.mean(r["modes"] for r in rs), "n_modes": rs[0]["n_modes"],
             "modes_min": min(r["modes"] for r in rs),
             "high_quality": statistics.mean(r["high_quality"] for r in rs),
             "steps_per_s": statistics.mean(r["steps_per_s"] for r in rs),
             "errors": sum(r["error"] is not None for r in rs)}
            for (dataset, objective, constraint), rs in rows.items()]


def print_matrix(title: str, cells: dict[tuple[str, str], str], objectives: list[str],
                 constraints: list[str]) -> None:
    """One markdown table: a row per objective, a column per constraint."""
    print(f"\n{title}")
    print("| objective | " + " | ".join(constraints) + " |")
    print("|---|" + "---:|" * len(constraints))
    for o in objectives:
        print(f"| {o} | " + " | ".join(cells.get((o, c), "") for c in constraints) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"reduced budget: {QUICK}")
    ap.add_argument("--steps", type=int, help="generator steps per run")
    ap.add_argument("--seeds", type=int, help="seeds 0..N-1")
    ap.add_argument("--hidden", type=int, help="MLP width (3 hidden layers)")
    ap.add_argument("--batch", type=int, help="examples per critic step (and per generator step)")
    ap.add_argument("--n-critic", type=int, help="critic steps per generator step")
    ap.add_argument("--lr", type=float, help="Adam learning rate (betas 0.5, 0.9), both nets")
    ap.add_argument("--objectives", help=f"comma list of {', '.join(OBJECTIVES)}")
    ap.add_argument("--constraints", help=f"comma list of {', '.join(CONSTRAINTS)}")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--n-eval", type=int, default=2500, help="samples scored per run")
    ap.add_argument("--jobs", type=int, default=1, help="parallel worker processes, one thread each")
    ap.add_argument("--fresh", action="store_true", help="ignore runs already in the run log")
    ap.add_argument("--shard", default="0/1", help="I/N: run only every N-th missing run from the I-th "
                    "(split the grid over invocations that share the run log)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gan_toy.json"))
    args = ap.parse_args(argv)

    p = dict(QUICK if args.quick else FULL)
    for key in ("steps", "seeds", "hidden", "batch", "n_critic", "lr"):
        if getattr(args, key) is not None:
            p[key] = getattr(args, key)
    p["n_eval"] = args.n_eval
    objectives = args.objectives.split(",") if args.objectives else p.pop("objectives", list(OBJECTIVES))
    p.pop("objectives", None)
    constraints = args.constraints.split(",") if args.constraints else list(CONSTRAINTS)
    datasets = args.datasets.split(",")
    for name, valid in ((objectives, OBJECTIVES), (constraints, CONSTRAINTS), (datasets, DATASETS)):
        bad = [n for n in name if n not in valid]
        if bad:
            ap.error(f"unknown {bad[0]!r}; choose from {', '.join(valid)}")

    protocol = (f"protocol: MLP G/D 3x{p['hidden']} ReLU, 2-D N(0, I) noise, {p['steps']} generator "
                f"steps, {p['n_critic']} critic steps per generator step, batch {p['batch']} per step, "
                f"Adam(lr {p['lr']}, betas 0.5, 0.9), seeds 0..{p['seeds'] - 1}, {p['n_eval']} samples "
                f"scored at 3 std; GP/FD weight 0.1, R1 0.1, clip 0.01; steps/s of one single-thread "
                f"worker, whole Trainer step incl. logging")
    print(protocol, flush=True)

    out = Path(args.out)
    log = out.with_suffix(".runs.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    key = protocol_key(p)
    done: dict[tuple, dict] = {}
    if log.exists() and not args.fresh:
        for line in log.read_text().splitlines():
            r = json.loads(line)
            if r.get("protocol") == key:
                done[(r["dataset"], r["objective"], r["constraint"], r["seed"])] = r
    wanted = [(d, o, c, s) for d in datasets for o in objectives for c in constraints
              for s in range(p["seeds"])]
    shard, n_shards = (int(v) for v in args.shard.split("/"))
    todo = [(*w, p) for w in wanted if w not in done]
    print(f"{len(wanted) - len(todo)} of {len(wanted)} runs already in {log}", flush=True)
    todo = todo[shard::n_shards]

    with log.open("w" if args.fresh else "a") as f, \
            multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        for r in pool.imap_unordered(_worker, todo):
            f.write(json.dumps(r) + "\n")
            f.flush()
            done[(r["dataset"], r["objective"], r["constraint"], r["seed"])] = r
            print(f"  {r['dataset']:12s} {r['objective']:20s} {r['constraint']:13s} seed {r['seed']}: "
                  f"{r['modes']}/{r['n_modes']} modes, {100 * r['high_quality']:.1f}% HQ, "
                  f"{r['steps_per_s']:.1f} steps/s{' ' + r['error'] if r['error'] else ''}", flush=True)

    missing = [w for w in wanted if w not in done]
    if missing:
        print(f"{len(missing)} runs of the grid are not in {log} yet (other shards?); no table")
        return 0
    runs = [done[w] for w in wanted]
    table = summarise(runs)
    print(f"\n{protocol}")
    for dataset in datasets:
        rows = [t for t in table if t["dataset"] == dataset]
        print_matrix(f"{dataset}: mean modes captured (of {rows[0]['n_modes']}) / mean % high-quality "
                     "samples over seeds; * = a seed diverged",
                     {(t["objective"], t["constraint"]): f"{t['modes']:.1f} / {100 * t['high_quality']:.0f}"
                      f"{'*' if t['errors'] else ''}" for t in rows}, objectives, constraints)
    rates: dict[tuple[str, str], list[float]] = {}
    for t in table:
        rates.setdefault((t["objective"], t["constraint"]), []).append(t["steps_per_s"])
    print_matrix("generator steps/s (mean over datasets and seeds)",
                 {k: f"{statistics.mean(v):.0f}" for k, v in rates.items()}, objectives, constraints)
    out.write_text(json.dumps({"protocol": protocol, "params": p, "table": table, "runs": runs},
                              indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
