"""Benchmark genlab's flows: test bits/dim and samples, 2-D toy NLL vs the true density, and a
time-per-step / log-likelihood comparison against `normflows` on an identical Glow.

    .venv/bin/python benchmarks/flows.py            # the reduced CPU budget below (~10 min, 1 thread)
    .venv/bin/python benchmarks/flows.py --scale 5  # 5x the training steps

Every image model is trained by genlab's own Trainer from its preset, only `train.steps` changed
(cosine schedule and warm-up are rescaled to the shorter run), then evaluated with
`genlab.eval.evaluate.likelihood_metrics` (bits/dim via `genlab.eval.metrics.bits_per_dim`, the one
convention). Writes benchmarks/results/flows.json and sample grids benchmarks/results/flows-*.png.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import torch

from genlab.config import load_config
from genlab.eval.evaluate import likelihood_metrics
from genlab.train import Trainer

RESULTS = Path(__file__).parent / "results"
# Reference points on the Fashion-MNIST test set (shared/spec/metrics.md sec. 4.1, measured there).
FASHION_BASELINES = {"uniform over 256 levels": 8.0, "per-pixel 256-way histogram": 4.588,
                     "full-cov Gaussian in logit space (alpha=1e-6)": 4.231}
IMAGE_RUNS = {  # preset -> (training steps at --scale 1, warm-up steps, test examples evaluated)
    "realnvp-digits": (600, 100, 0),
    "glow-digits": (600, 100, 0),
    "realnvp-fashion": (700, 100, 2000),
    "glow-fashion": (700, 100, 2000),
}
TOY_RUNS = {"realnvp-moons": ("moons", 800), "realnvp-8gaussians": ("8gaussians", 800)}


def train_and_eval(preset: str, steps: int, warmup: int, n_test: int, data: list[str]) -> dict:
    run = RESULTS / "runs" / preset
    shutil.rmtree(run, ignore_errors=True)
    over = [f"train.steps={steps}", f"optim.default.warmup_steps={warmup}", "train.progress=false",
            "train.ckpt_every=0", "train.device=cpu", f"eval.n_test={n_test}", "eval.batch_size=500",
            *data]
    cfg = load_config(preset.replace("-8gaussians", "-moons"), over)
    trainer = Trainer(cfg, run)
    t0 = time.perf_counter()
    last = trainer.fit()
    seconds = time.perf_counter() - t0
    model = trainer.model.eval()
    lik = likelihood_metrics(model, trainer.dataset, trainer.pixels, cfg.eval, trainer.device)
    out = {"preset": preset, "steps": steps, "batch_size": cfg.data.batch_size,
           "train_seconds": round(seconds, 1), "final_train_loss": last.get("loss"),
           "n_test": lik["n_test"], "test_nll_nats": -lik["log_likelihood_nats"],
           "params": sum(p.numel() for p in model.parameters())}
    if trainer.pixels is not None:
        out["test_bits_per_dim"] = lik["log_likelihood_bits_per_dim"]
    if "pixels" in lik:
        out["pixels"] = lik["pixels"]
    samples = sorted((run / "samples").glob("*.png"))
    if samples:
        dst = RESULTS / f"flows-{preset}.png"
        shutil.copy(samples[-1], dst)
        out["samples"] = str(dst.relative_to(RESULTS.parent.parent))
    if not trainer.dataset.is_image and "std" in trainer.dataset.info:
        out["true_density_test_nll_nats"] = true_mixture_nll(trainer.dataset)
    return out


def true_mixture_nll(dataset) -> float:
    """-mean log p_true(x_test) for an equal-weight isotropic Gaussian mixture toy."""
    centers = torch.tensor(dataset.info["centers"], dtype=torch.float64)
    std = float(dataset.info["std"])
    x = dataset.test.double()
    d2 = ((x[:, None, :] - centers[None]) ** 2).sum(-1)
    log_comp = -0.5 * d2 / std**2 - 2 * math.log(std) - math.log(2 * math.pi)
    log_p = torch.logsumexp(log_comp, 1) - math.log(len(centers))
    return float(-log_p.mean())


# ---------------------------------------------------------------------- normflows comparison
def normflows_twin(model):
    """A normflows MultiscaleFlow with exactly the architecture and weights of a one-level genlab
    Glow on 1-channel images (squeeze, K x (ActNorm, LU 1x1 conv, sigmoid affine coupling),
    learned per-channel top prior)."""
    import normflows as nf

    flow = model.flow
    steps = [flow.stages[0].layers[i : i + 3] for i in range(1, len(flow.stages[0].layers), 3)]
    c, h, w = flow.latent_shapes[0]
    blocks = []
    for actnorm, conv, coupling in steps:
        blk = nf.flows.GlowBlock(c, model.cfg.hidden, scale=True, scale_map="sigmoid",
                                 split_mode="channel", leaky=0.0, init_zeros=True, use_lu=True)
        nf_coupling, nf_conv, nf_actnorm = blk.flows
        with torch.no_grad():
            nf_actnorm.s.copy_(-actnorm.log_scale.view(1, -1, 1, 1))
            nf_actnorm.t.copy_(-actnorm.bias.view(1, -1, 1, 1))
            nf_actnorm.data_dep_init_done.fill_(1.0)
            nf_conv.P.copy_(conv.perm)
            nf_conv.L.copy_(conv.lower)
            nf_conv.U.copy_(conv.upper)
            nf_conv.log_S.copy_(conv.log_s)
            nf_conv.sign_S.copy_(conv.sign_s)
            src, dst = coupling.net, nf_coupling.flows[1].param_map.net
            for i in (0, 2, 4):
                dst[i].weight.copy_(src[i].weight)
                dst[i].bias.copy_(src[i].bias)
            # genlab: (x_b + t) * s (Glow's code); normflows: (x_b - t) * s -> negate shift outputs.
            dst[4].weight[0::2].neg_()
            dst[4].bias[0::2].neg_()
        blocks.append(blk)
    base = nf.distributions.GlowBase((c, h, w))
    with torch.no_grad():
        base.loc.copy_(flow.top.mean.view(1, -1, 1, 1))
        base.log_scale.copy_(flow.top.log_std.view(1, -1, 1, 1))
    flows = [*reversed(blocks), nf.flows.Squeeze()]  # normflows lists flows latent -> data
    return nf.MultiscaleFlow([base], [flows], [], class_cond=False)


def time_steps(loss_fn, params, x, n: int) -> float:
    opt = torch.optim.Adam(params, 1e-4)
    for _ in range(2):  # warm-up
        opt.zero_grad()
        loss_fn(x).backward()
        opt.step()
    t0 = time.perf_counter()
    for _ in range(n):
        opt.zero_grad()
        loss_fn(x).backward()
        opt.step()
    return (time.perf_counter() - t0) / n


def compare_normflows(size: int, steps: int, hidden: int, batch: int, n: int) -> dict:
    from genlab.models import MODELS

    torch.manual_seed(0)
    cls = MODELS.get("glow")
    model = cls(cls.Config(hidden=hidden, levels=1, steps=steps, scale="sigmoid"), (1, size, size))
    x = torch.rand(batch, 1, size, size)
    model.train()
    model.log_likelihood(x)  # ActNorm data-dependent init
    with torch.no_grad():  # move away from the identity-like init so the check is meaningful
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    twin = normflows_twin(model)
    model.eval()
    twin.eval()
    with torch.no_grad():
        ours, theirs = model.log_likelihood(x).double(), twin.log_prob(x, None).double()
    dims = x[0].numel()
    model.train()
    twin.train()
    t_ours = t_theirs = 0.0
    for _ in range(2):  # interleave to share CPU contention fairly
        t_ours += time_steps(lambda v: -model.log_likelihood(v).mean() / dims,
                             list(model.parameters()), x, n) / 2
        t_theirs += time_steps(lambda v: -twin.log_prob(v, None).mean() / dims,
                               list(twin.parameters()), x, n) / 2
    return {"architecture": f"Glow L=1 K={steps} hidden={hidden}, sigmoid affine coupling, LU 1x1 conv, "
                            f"learned top prior, input 1x{size}x{size}, batch {batch}",
            "max_abs_loglik_diff_nats": float((ours - theirs).abs().max()),
            "mean_loglik_nats": float(ours.mean()),
            "genlab_s_per_step": t_ours, "normflows_s_per_step": t_theirs,
            "ratio_genlab_over_normflows": t_ours / t_theirs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every run's steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=["images", "toys", "normflows"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "flows.json"
    # --only reruns one section and keeps the others from an earlier flows.json.
    previous = json.loads(path.read_text()) if args.only and path.is_file() else {}
    out: dict = {**previous, "budget": {"scale": args.scale, "threads": args.threads, "device": "cpu",
                            "torch": torch.__version__}}
    for section in ("images", "toys", "normflows"):
        if args.only in (None, section) or section not in out:
            out[section] = []
    if args.only in (None, "images"):
        for preset, (steps, warm, n_test) in IMAGE_RUNS.items():
            out["images"].append(train_and_eval(preset, int(steps * args.scale), warm, n_test, []))
            print(json.dumps(out["images"][-1]))
    if args.only in (None, "toys"):
        for name, (dataset, steps) in TOY_RUNS.items():
            out["toys"].append(train_and_eval(name, int(steps * args.scale), 100, 0,
                                              [f"data.name={dataset}"]))
            print(json.dumps(out["toys"][-1]))
    if args.only in (None, "normflows"):
        for size, k in ((8, 4), (28, 4)):
            out["normflows"].append(compare_normflows(size, k, 64, 64, 5))
            print(json.dumps(out["normflows"][-1]))
    out["fashion_baselines_bpd"] = FASHION_BASELINES
    path.write_text(json.dumps(out, indent=2))
    print_tables(out)
    print(f"wrote {path}")


def print_tables(out: dict) -> None:
    if out["images"]:
        print(f"\n{'preset':18} {'steps':>6} {'train s':>8} {'n_test':>7} {'test bpd':>9}  pixels")
        for r in out["images"]:
            px = r.get("pixels", {})
            how = f"logit a={px['logit_alpha']}" if px.get("logit_alpha") else px.get("range", "")
            print(f"{r['preset']:18} {r['steps']:>6} {r['train_seconds']:>8} {r['n_test']:>7} "
                  f"{r['test_bits_per_dim']:>9.3f}  {how}")
        fashion = [r for r in out["images"] if "fashion" in r["preset"]]
        for name, bpd in FASHION_BASELINES.items():
            beats = ", ".join(f"{r['preset']} {'beats' if r['test_bits_per_dim'] < bpd else 'does NOT beat'}"
                              for r in fashion)
            print(f"  Fashion-MNIST reference {bpd:.3f} bpd ({name}): {beats}")
    if out["toys"]:
        print(f"\n{'toy':20} {'steps':>6} {'flow test NLL':>14} {'true-density NLL':>17}")
        for r in out["toys"]:
            true = r.get("true_density_test_nll_nats")
            print(f"{r['preset']:20} {r['steps']:>6} {r['test_nll_nats']:>14.3f} "
                  f"{'unknown' if true is None else f'{true:.3f}':>17}")
    for r in out["normflows"]:
        print(f"\nnormflows: {r['architecture']}\n  max |log p genlab - log p normflows| = "
              f"{r['max_abs_loglik_diff_nats']:.2e} nats (mean log p {r['mean_loglik_nats']:.1f})\n"
              f"  s/step genlab {r['genlab_s_per_step']:.4f}, normflows {r['normflows_s_per_step']:.4f}, "
              f"ratio {r['ratio_genlab_over_normflows']:.2f}")


if __name__ == "__main__":
    main()
