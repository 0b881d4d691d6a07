"""Reference table of genlab's sample metrics in each shipped feature space.

For every shipped feature network (digits, Fashion-MNIST when installed) the real set is the test
split (first --n images, at most 10k) and the "generated" sets are: a train subset of the same size
(the noise floor), train images with Gaussian pixel noise, blurred train images (3x3 binomial),
train images of half the classes only, and uniform-noise images. All fake images are rounded to the
dataset's pixel levels, like real data. Prints a table and writes
benchmarks/results/metrics_reference.json. Also times feature extraction and each metric, per 10k.

    .venv/bin/python benchmarks/metrics_reference.py [--n 10000] [--threads 1] [--kid-subsets 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from genlab.config import DataConfig
from genlab.core.errors import DataError
from genlab.data import load_dataset
from genlab.eval.features import extract_features, require_feature_net
from genlab.eval.features.store import SHIPPED_DIR, read_manifest
from genlab.eval.features.train import unit_images
from genlab.eval.metrics.frechet import FeatureStats, frechet_distance_stats
from genlab.eval.metrics.kid import kernel_distance
from genlab.eval.metrics.prdc import prdc
from genlab.eval.sample_quality import quantize

OUT = Path(__file__).parent / "results" / "metrics_reference.json"


def blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 2.0, 1.0])
    kernel = (torch.outer(k, k) / 16).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])


def variants(ds, n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """The 'generated' sets, as images in [0, 1] rounded to the dataset's levels."""
    train = unit_images(ds.train, ds.levels)
    perm = torch.randperm(len(train), generator=gen)
    base = train[perm[:n]]
    half = perm[ds.train_labels[perm] < 5][:n]
    out = {"train subset (noise floor)": base}
    for sigma in (0.05, 0.1, 0.2):
        out[f"train + N(0, {sigma}^2) pixel noise"] = base + sigma * torch.randn(base.shape, generator=gen)
    out["train blurred (3x3 binomial)"] = blur(base)
    out["classes 0-4 only (half dropped)"] = train[half]
    out["uniform-noise images"] = torch.rand(base.shape, generator=gen)
    return {k: quantize(v, ds.levels) for k, v in out.items()}


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def run_space(key: str, n: int, kid_subsets: int) -> dict:
    ds = load_dataset(DataConfig(name=key))
    fnet = require_feature_net(key)
    n_real = min(n, len(ds.test))
    real_imgs = unit_images(ds.test[:n_real], ds.levels)
    real, t_real = timed(extract_features, fnet.net, real_imgs)
    real_stats = FeatureStats.of(real)
    gen = torch.Generator().manual_seed(0)
    rows, times = [], {"features": [], "fd": [], "kid": [], "prdc": []}
    for name, imgs in variants(ds, n_real, gen).items():
        fake, t_f = timed(extract_features, fnet.net, imgs)
        fd, t_fd = timed(lambda f=fake: frechet_distance_stats(real_stats, FeatureStats.of(f)))
        kid, t_kid = timed(kernel_distance, real, fake, kid_subsets, 1000)
        pr, t_pr = timed(prdc, real, fake)
        for k, t in (("features", t_f), ("fd", t_fd), ("kid", t_kid), ("prdc", t_pr)):
            times[k].append(t)
        rows.append({"set": name, "n_fake": len(fake), "fd": fd, "kid": kid["kid"], "kid_std": kid["kid_std"],
                     "precision": pr["precision"], "recall": pr["recall"], "density": pr["density"],
                     "coverage": pr["coverage"]})
    mean = {k: sum(v) / len(v) for k, v in times.items()}
    per_10k = {
        "feature_extraction_s_per_10k_images": (t_real + sum(times["features"]))
        / (n_real * (len(rows) + 1)) * 1e4,
        "fd_s": mean["fd"], "kid_s": mean["kid"], "prdc_s": mean["prdc"],
        "metric_sizes": f"{n_real} real vs {n_real} fake; KID {kid_subsets} subsets of "
                        f"{min(1000, n_real)}",
    }
    return {"feature_net": fnet.describe(), "dataset": key, "reference_split": "test", "n_real": n_real,
            "kid_subsets": kid_subsets, "prdc_k": {"precision_recall": 3, "density_coverage": 5},
            "rows": rows, "timing": per_10k}


def print_table(res: dict) -> None:
    fn = res["feature_net"]
    print(f"\n{res['dataset']}: feature net {fn['id']} (sha256 {fn['sha256'][:12]}, test acc "
          f"{fn['test_accuracy']:.4f}); real = {res['n_real']} test images; P/R k=3, D/C k=5")
    print(f"{'generated set':34s} {'FD':>9s} {'KID':>18s} {'P':>6s} {'R':>6s} {'D':>6s} {'C':>6s}")
    for r in res["rows"]:
        kid = f"{r['kid']:.4f}±{r['kid_std']:.4f}"
        print(f"{r['set']:34s} {r['fd']:9.3f} {kid:>18s} {r['precision']:6.3f} {r['recall']:6.3f} "
              f"{r['density']:6.3f} {r['coverage']:6.3f}")
    t = res["timing"]
    print(f"time: features {t['feature_extraction_s_per_10k_images']:.2f} s per 10k images; "
          f"FD {t['fd_s'] * 1e3:.1f} ms, KID {t['kid_s']:.2f} s, PRDC {t['prdc_s']:.2f} s "
          f"({t['metric_sizes']})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="real and fake images per set (max: test size)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--spaces", nargs="*", help="feature spaces (default: every shipped one)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    results = {"torch": torch.__version__, "python": platform.python_version(), "threads": args.threads,
               "spaces": []}
    for key in args.spaces or sorted(read_manifest(SHIPPED_DIR)):
        try:
            res = run_space(key, args.n, args.kid_subsets)
        except DataError as err:
            print(f"\n{key}: skipped ({err})")
            continue
        print_table(res)
        results["spaces"].append(res)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
