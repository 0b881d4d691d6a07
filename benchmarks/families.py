"""Every sampling family on Fashion-MNIST at one fixed CPU budget, measured the way `genlab eval`
measures a run (not run in CI).

Families: VAE (arXiv:1312.6114), VQ-VAE + PixelCNN prior (arXiv:1711.00937), GAN (SN-GAN with the
hinge loss, arXiv:1802.05957), flow (multi-scale RealNVP, arXiv:1605.08803), EBM (IGEBM,
arXiv:1903.08689), AAE (arXiv:1511.05644), ALI (arXiv:1606.00704), diffusion (DDPM,
arXiv:2006.11239, sampled by DDIM, arXiv:2010.02502, and by respaced ancestral steps), NCSN (NCSNv2
choices, arXiv:2006.09011) and flow matching (OT-CFM, arXiv:2302.00482). The shipped Fashion-MNIST
presets are used where they exist (`vqvae-fashion`, `vqvae-prior-fashion`, `sngan-hinge-fashion`,
`realnvp-fashion`, `ebm-fashion`); the others get the same DCGAN-style conv stacks
(`genlab.nets.conv`, base width 32) and their digits preset's objective and optimizer; the three
time-conditioned families share one small U-Net (below). Nets therefore differ in size by family;
the table lists each one's parameter count. Rows in `VARIANTS` evaluate another row's trained run
under runtime options (another sampler), so they share its training; NFE is the network evaluations
per sample of the iterative samplers.

Protocol, per family: build the `Config` from the preset (or the dict below), time a short probe
run through `genlab.train.Trainer`, set `train.steps` so that training takes about `--seconds` of
this process's CPU time on one thread (`time.process_time`: other jobs on a shared machine slow
the wall clock, not the budget; warm-ups longer than a tenth of the run are shortened to a tenth),
train, then reload the finished run folder with `genlab.runs.load_run` (EMA weights where kept)
and evaluate it with `genlab.eval.evaluate.evaluate`, the function behind `genlab eval`:
FD / precision / recall / coverage / density / KID in genlab's shipped Fashion-MNIST feature CNN
(no download), `--n-eval` samples against the first `--n-eval` test images, and bits/dim on
`--n-test` test images where the family defines a likelihood. The VQ-VAE's budget is split
between its two stages (`--vq-split` for the autoencoder, the rest for the prior); its steps per
CPU second are given per stage.

    OMP_NUM_THREADS=1 python benchmarks/families.py            # 150 CPU s per family, ~25 CPU min in all
    OMP_NUM_THREADS=1 python benchmarks/families.py --quick    # smoke test, ~5 CPU min
    OMP_NUM_THREADS=1 python benchmarks/families.py --only vae,gan --force

Resumable: finished families are kept in the JSON (benchmarks/results/families.json, or
families-quick.json with --quick) and skipped on the next run with the same settings; --force
redoes them. Run folders go to benchmarks/results/families-runs/. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from genlab.config import Config, DataConfig
from genlab.core.errors import GenlabError
from genlab.data import Dataset, load_dataset
from genlab.presets import load_preset_dict

RESULTS = Path(__file__).parent / "results"
FORMAT = 2  # of the JSON records; bump when their keys change
DATA = {"name": "fashion-mnist", "batch_size": 64, "pixels": "dequantize"}

# name -> (preset or None, overrides / full config). Without a preset: conv nets of base width 32.
FAMILIES: dict[str, tuple[str | None, dict[str, Any]]] = {
    "vae": (None, {
        "model": {"name": "vae", "latent_dim": 32, "net": "conv", "hidden": 32, "decoder": "gaussian"},
        "data": DATA, "optim": {"default": {"name": "adam", "lr": 1.0e-3, "grad_clip": 100.0}}}),
    "vqvae": ("vqvae-fashion", {}),
    "vqvae-prior": ("vqvae-prior-fashion", {}),  # second stage of "vqvae" (not a family of its own)
    "gan": ("sngan-hinge-fashion", {}),
    "flow": ("realnvp-fashion", {}),
    "ebm": ("ebm-fashion", {}),
    "aae": (None, {
        "model": {"name": "aae", "latent_dim": 32, "net": "conv", "hidden": 32,
                  "reconstruction": "bernoulli", "schedule": "phased",
                  "critic": {"objective": "nonsaturating", "hidden": 256, "depth": 2}},
        "data": DATA, "optim": {"default": {"name": "adam", "lr": 1.0e-3},
                                "critic": {"name": "adam", "lr": 2.0e-4, "betas": [0.5, 0.999]}}}),
    "ali": (None, {
        # Batch norm in the decoder as in ALI's generator: without it the decoder collapsed to a
        # constant black image within 300 steps (dead ReLUs under a winning critic).
        "model": {"name": "ali", "latent_dim": 32, "encoder": "gaussian", "net": "conv", "hidden": 32,
                  "output": "sigmoid", "generator_loss": "swap", "decoder_norm": "batch",
                  "critic": {"objective": "nonsaturating", "hidden": 256, "depth": 2}},
        "data": DATA, "optim": {"default": {"name": "adam", "lr": 1.0e-4, "betas": [0.5, 0.999]}}}),
}
# The diffusion, score and flow-matching families share one small U-Net (genlab.nets.unet: base 16,
# levels 28/14/7, no attention, 0.26M parameters) and batch 64. The -fashion presets' nets (base 32
# with attention) take 3-4 CPU s a step on one thread, so 300 CPU s would be fewer than 100 steps.
UNET = {"net": "unet", "mults": [1, 2, 2], "attention": False, "groups": 8}
MODERN_OPTIM = {"default": {"name": "adam", "lr": 1.0e-3, "schedule": "cosine", "warmup_steps": 100,
                            "min_lr_ratio": 0.05, "grad_clip": 1.0, "ema": 0.999}}
FAMILIES.update({
    # DDPM: T = 1000, linear schedule, ε-prediction; the bound from 50 sampled KL terms
    "diffusion": (None, {
        "model": {"name": "diffusion", "timesteps": 1000, "schedule": "linear", "prediction": "eps",
                  "base": 16, **UNET, "sampler": "ddim", "sample_steps": 50, "eta": 0.0, "clip_x0": 1.0,
                  "likelihoods": ["bound"], "bound_terms": 50},
        "data": {**DATA, "range": "symmetric"}, "optim": MODERN_OPTIM, "eval": {"n_test": 1000}}),
    # NCSNv2 noise levels (sigma_1 from the data, L by its rule) and its 5 Langevin steps per level
    "ncsn": (None, {
        "model": {"name": "ncsn", "base": 16, **UNET, "sigma_min": 0.01, "steps_per_level": 5,
                  "denoise": True},
        "data": DATA, "optim": MODERN_OPTIM}),
    # OT-CFM from N(0, I); dopri5 sampling, Hutchinson ODE likelihood (one probe) on fewer test images
    "cfm": (None, {
        "model": {"name": "cfm", "path": "otcfm", "sigma": 0.0, "source": "normal", "hidden": 16,
                  **{k: v for k, v in UNET.items() if k != "groups"},  # cfm's U-Net uses its default groups
                  "solver": "dopri5", "atol": 1.0e-4, "rtol": 1.0e-4, "divergence": "hutchinson"},
        "data": {**DATA, "range": "symmetric"}, "optim": MODERN_OPTIM, "eval": {"n_test": 500}}),
})
# Rows that evaluate another row's trained run under runtime options (no retraining): row -> (run, overrides).
# DDPM's ancestral sampler over all T = 1000 steps would take ~90 CPU minutes for 2000 samples here; the
# row respaces it to 100 steps (Nichol & Dhariwal 2021, arXiv:2102.09672, section 4).
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "diffusion-ddpm": ("diffusion", ["model.sampler=ddpm", "model.sample_steps=100"]),
    # one Langevin step per level: a fifth of the NFE, but technique 4's step size for T = 1 is so
    # large that the chains of a model this briefly trained do not contract
    "ncsn-t1": ("ncsn", ["model.steps_per_level=1"]),
}
ORDER = ["vae", "vqvae", "gan", "flow", "ebm", "aae", "ali", "diffusion", "diffusion-ddpm", "ncsn", "ncsn-t1",
         "cfm"]
LABELS = {"vae": "VAE (conv)", "vqvae": "VQ-VAE + PixelCNN prior", "gan": "GAN (SN, hinge)",
          "flow": "Flow (RealNVP)", "ebm": "EBM (IGEBM, Langevin)", "aae": "AAE (conv)",
          "ali": "ALI (conv)", "diffusion": "Diffusion (DDPM, DDIM 50 steps)",
          "diffusion-ddpm": "Diffusion (same run, DDPM ancestral, 100 respaced steps)",
          "ncsn": "NCSN (annealed Langevin, 5 steps per level)",
          "ncsn-t1": "NCSN (same run, 1 step per level)", "cfm": "Flow matching (OT-CFM, dopri5)"}


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        both = isinstance(v, dict) and isinstance(out.get(k), dict)
        out[k] = merge(out[k], v) if both else copy.deepcopy(v)
    return out


def make_config(name: str, steps: int, args: argparse.Namespace, first_stage: Path | None = None) -> Config:
    preset, over = FAMILIES[name]
    raw = merge(load_preset_dict(preset), over) if preset else copy.deepcopy(over)
    if first_stage is not None:
        raw["model"]["run"] = str(first_stage)
    if args.data_dir:
        raw["data"]["data_dir"] = args.data_dir
    for group in raw.get("optim", {}).values():  # scale warm-ups to short runs
        if group.get("warmup_steps", 0) > steps // 10:
            group["warmup_steps"] = steps // 10
    raw["train"] = {**raw.get("train", {}), "steps": steps, "seed": args.seed, "device": "cpu",
                    "log_every": max(1, min(100, steps)), "ckpt_every": 0, "sample_every": 0,
                    "eval_every": 0, "progress": False}
    # a family's own n_test caps --n-test (ODE likelihoods cost hundreds of network passes per image)
    n_test = min(args.n_test, over.get("eval", {}).get("n_test", args.n_test))
    raw["eval"] = {**raw.get("eval", {}), "n_test": n_test, "batch_size": 500,
                   "importance_samples": args.importance_samples}
    return Config.from_dict(raw)


def train(name: str, seconds: float, dataset: Dataset, folder: Path, args: argparse.Namespace,
          first_stage: Path | None = None) -> dict[str, Any]:
    """Calibrate the step count on a probe run, then train for about `seconds` of CPU time."""
    from genlab.train import Trainer

    probe_dir = folder.with_name(folder.name + "-probe")
    shutil.rmtree(probe_dir, ignore_errors=True)
    with Trainer(make_config(name, args.probe_steps, args, first_stage), probe_dir, dataset=dataset) as t:
        c0 = time.process_time()
        t.fit()
        rate = args.probe_steps / (time.process_time() - c0)
    shutil.rmtree(probe_dir, ignore_errors=True)
    steps = max(args.probe_steps, int(rate * seconds))
    cfg = make_config(name, steps, args, first_stage)
    with Trainer(cfg, folder, dataset=dataset) as trainer:
        c0, t0 = time.process_time(), time.perf_counter()
        last = trainer.fit()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        params = sum(p.numel() for p in trainer.model.parameters())
    return {"steps": steps, "train_cpu_seconds": cpu, "train_wall_seconds": wall,
            "steps_per_cpu_s": steps / cpu, "params": params, "batch_size": cfg.data.batch_size,
            "last_log": {k: v for k, v in last.items() if "loss" in k}, "config": cfg.to_dict()}


def evaluate_run(folder: Path, dataset: Dataset, args: argparse.Namespace,
                 overrides: list[str] | None = None, likelihood: bool = True) -> dict[str, Any]:
    """`genlab eval RUN [overrides]` without the CLI (and without the linear probe), plus sampling speed;
    `likelihood=False`: the sample metrics only."""
    from genlab.eval.evaluate import evaluate, json_safe, sample_metrics
    from genlab.runs import load_run

    run = load_run(folder, "cpu", overrides=overrides or ())
    c0 = time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if likelihood:
            result = evaluate(run.model, dataset, run.pixels, run.cfg.eval, "cpu", n_samples=args.n_eval,
                              n_real=args.n_eval, probe=False)
        else:
            run.model.eval()
            found = sample_metrics(run.model, dataset, run.pixels, run.cfg.eval, torch.device("cpu"),
                                   args.n_eval, None, args.n_eval)
            result = {"samples": json_safe(found)}
    eval_cpu = time.process_time() - c0
    n = min(args.n_eval, 200)
    torch.manual_seed(0)
    c0 = time.process_time()
    with torch.no_grad():
        run.model.sample(n)
    sample_rate = n / (time.process_time() - c0)
    nfe = getattr(run.model, "last_nfe", None)  # iterative samplers: network evaluations per sample
    return {"eval": result, "ema_weights": run.ema_weights, "eval_cpu_seconds": eval_cpu,
            "samples_per_cpu_s": sample_rate, "nfe": nfe if isinstance(nfe, int) else None,
            "overrides": overrides or [], "warnings": sorted({str(w.message) for w in caught})}


def run_family(name: str, dataset: Dataset, args: argparse.Namespace,
               results: dict[str, Any] | None = None) -> dict[str, Any]:
    runs = RESULTS / ("families-runs-quick" if args.quick else "families-runs")
    if name in VARIANTS:  # the trained run of another row, evaluated with other runtime options
        base, overrides = VARIANTS[name]
        if not (results or {}).get(base):
            raise GenlabError(f"{name} evaluates the run of {base}: run {base} first (--only {base},{name})")
        rec = {k: results[base][k] for k in ("steps", "train_cpu_seconds", "train_wall_seconds",
                                             "steps_per_cpu_s", "params", "batch_size")}
        rec.update(evaluate_run(runs / base, dataset, args, overrides, likelihood=False))
        # the likelihood does not depend on the sampler: the base row's figure (not recomputed)
        rec["eval"]["likelihood"] = results[base]["eval"].get("likelihood", {})
        return rec
    folder = runs / name
    shutil.rmtree(folder, ignore_errors=True)
    load0 = os.getloadavg()
    if name == "vqvae":  # two stages: the autoencoder, then the prior over its codes
        stage1 = train("vqvae", args.seconds * args.vq_split, dataset, folder, args)
        prior_dir = runs / "vqvae-prior"
        shutil.rmtree(prior_dir, ignore_errors=True)
        stage2 = train("vqvae-prior", args.seconds * (1 - args.vq_split), dataset, prior_dir, args, folder)
        rec = {"stages": {"vqvae": stage1, "prior": stage2},
               "steps": stage1["steps"] + stage2["steps"],
               **{k: stage1[k] + stage2[k] for k in ("train_cpu_seconds", "train_wall_seconds")},
               "params": stage2["params"]}  # the prior model holds the frozen first stage too
        folder = prior_dir
    else:
        rec = train(name, args.seconds, dataset, folder, args)
    rec.update(evaluate_run(folder, dataset, args))
    rec["load_average_before"], rec["load_average_after"] = load0, os.getloadavg()
    return rec


def cell(x: Any, fmt: str) -> str:
    return "n/a" if x is None or isinstance(x, str) else format(x, fmt)


def estimator_label(key: str, likelihood: dict[str, Any]) -> str:
    """What a likelihood key is, for the table: exact, a bound, or an estimate, and on how many images."""
    n = likelihood.get("n_test")
    on = f", {n} images" if n is not None else ""
    if key.startswith("elbo_") and key.endswith("_terms"):  # diffusion: K sampled KL terms of T - 1
        k, total = key.removeprefix("elbo_").removesuffix("_terms").split("_of_")
        return f"bound, {k} of {total} terms{on}"
    named = {"elbo": "bound", "log_likelihood_is": f"IS, K={likelihood.get('importance_samples')}",
             "log_likelihood": "exact", "log_likelihood_ode": "exact ODE",
             "log_likelihood_ode_exact": "exact ODE", "log_likelihood_ode_hutchinson": "ODE, Hutchinson"}
    return named.get(key, key) + on


def best_bpd(likelihood: dict[str, Any]) -> tuple[float | None, str]:
    """The tightest bits/dim figure a family reports (lowest), with its estimator's label."""
    found = {k.removesuffix("_bits_per_dim"): v for k, v in likelihood.items()
             if k.endswith("_bits_per_dim") and isinstance(v, float)}
    if not found:
        return None, ""
    k = min(found, key=found.get)
    return found[k], estimator_label(k, likelihood)


def table(results: dict[str, Any]) -> str:
    head = ("| family | params | steps | train CPU s | steps / CPU s | FD ↓ | precision ↑ | recall ↑ "
            "| coverage ↑ | bits/dim ↓ | NFE | samples / CPU s |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for name in ORDER:
        r = results.get(name)
        if r is None:
            continue
        s = r["eval"].get("samples", {})
        bpd, how = best_bpd(r["eval"].get("likelihood", {}))
        if name == "vqvae":
            st = r["stages"]
            rate = f"{st['vqvae']['steps_per_cpu_s']:.2f} + {st['prior']['steps_per_cpu_s']:.2f}"
            steps = f"{st['vqvae']['steps']} + {st['prior']['steps']}"
        else:
            rate, steps = f"{r['steps_per_cpu_s']:.2f}", str(r["steps"])
        lines.append(
            f"| {LABELS[name]} | {r['params'] / 1e6:.2f}M | {steps} | {r['train_cpu_seconds']:.0f} | {rate} "
            f"| {cell(s.get('fd_fashion'), '.1f')} | {cell(s.get('precision_fashion'), '.3f')} "
            f"| {cell(s.get('recall_fashion'), '.3f')} | {cell(s.get('coverage_fashion'), '.3f')} "
            f"| {cell(bpd, '.3f')}{f' ({how})' if how else ''} | {r.get('nfe') or '—'} "
            f"| {r['samples_per_cpu_s']:.3g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=150.0,
                    help="training budget per family in CPU seconds of this process (time.process_time)")
    ap.add_argument("--n-eval", type=int, default=2000, help="samples vs test images for the sample metrics")
    ap.add_argument("--n-test", type=int, default=2000, help="test images for bits/dim")
    ap.add_argument("--importance-samples", type=int, default=100, help="VAE importance-sampled bound's K")
    ap.add_argument("--vq-split", type=float, default=0.6, help="share of the VQ-VAE budget for stage 1")
    ap.add_argument("--probe-steps", type=int, default=5, help="steps of the timing probe")
    ap.add_argument("--only", help="comma-separated families (default: all)")
    ap.add_argument("--force", action="store_true", help="redo families already in the JSON")
    ap.add_argument("--quick", action="store_true", help="smoke test: 20 s per family, 500 samples")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir")
    ap.add_argument("--out", help="JSON path (default: benchmarks/results/families[-quick].json)")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.n_eval, args.n_test, args.importance_samples = 20.0, 500, 200, 10
        args.probe_steps = 3
    if not 0 < args.vq_split < 1:
        ap.error("--vq-split must lie in (0, 1)")
    if not args.seconds > 0:
        ap.error("--seconds must be > 0")
    for flag in ("n_eval", "n_test", "importance_samples", "probe_steps", "threads"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be >= 1")
    names = ORDER if not args.only else args.only.split(",")
    for name in names:
        if name not in ORDER:
            ap.error(f"unknown family {name!r}; choose from {', '.join(ORDER)}")
    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else RESULTS / ("families-quick.json" if args.quick else "families.json")
    settings = {k: getattr(args, k) for k in ("seconds", "n_eval", "n_test", "importance_samples", "vq_split",
                                              "probe_steps", "threads", "seed")}
    settings["format"] = FORMAT  # results of another format (or other settings) are not reused
    try:
        from genlab.eval.features import require_feature_net

        net = require_feature_net("fashion-mnist")  # shipped with genlab: nothing is downloaded
        dataset = load_dataset(DataConfig(**{**DATA, "data_dir": args.data_dir}), seed=args.seed)
    except GenlabError as err:
        print(f"families: {err}", file=sys.stderr)
        return 1
    previous = json.loads(out.read_text()) if out.is_file() else {}
    results: dict[str, Any] = previous.get("results", {}) if previous.get("settings") == settings else {}
    for name in names:
        if name in results and not args.force:
            print(f"  {name}: kept from {out}", flush=True)
            continue
        try:
            results[name] = run_family(name, dataset, args, results)
        except GenlabError as err:  # e.g. a diverged run: recorded, the others still run
            print(f"  {name}: failed: {err}", file=sys.stderr, flush=True)
            continue
        r = results[name]
        print(f"  {name}: {r['steps']} steps in {r['train_cpu_seconds']:.0f} CPU s "
              f"({r['train_wall_seconds']:.0f} s wall), eval {r['eval_cpu_seconds']:.0f} CPU s, "
              f"{json.dumps(r['eval'].get('samples', {}).get('fd_fashion'))} FD", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"settings": settings, "feature_net": net.describe(),
                                   "machine": platform.processor() or platform.machine(),
                                   "torch": torch.__version__, "results": results}, indent=1) + "\n")
    print(f"\nFashion-MNIST, ~{args.seconds:.0f} CPU s of training per family on {args.threads} thread(s); "
          f"sample metrics: {args.n_eval} samples vs {args.n_eval} test images in the "
          f"{net.entry.get('id', 'fashion')} feature space; bits/dim on {args.n_test} test images"
          f"{f' (VAE: K={args.importance_samples})' if 'vae' in results else ''}; VQ-VAE: "
          f"{args.vq_split:.0%} of its budget for the autoencoder, the rest for the prior.\n")
    print(table(results))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
