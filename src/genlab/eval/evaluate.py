"""`genlab eval`: the metrics that apply to a trained model and its dataset, as one dict.

Each section runs only if the model has the capability it needs: likelihood metrics for a
`DensityModel`, sample-based metrics (feature-space FD/KID/PRDC for images, mode coverage and
MMD for 2-D toys, see `genlab.eval.sample_quality`) for a `Sampler`, a linear probe (`genlab.eval.probe`)
for an `Encoder` on labelled data, whatever its family.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from genlab.config import EvalConfig
from genlab.core.checks import check_int
from genlab.core.protocol import DensityModel, Encoder, Model, Sampler
from genlab.core.rng import isolated_rng
from genlab.data import Dataset, Pixels
from genlab.eval.features import FeatureNet
from genlab.eval.metrics.likelihood import bits_per_dim
from genlab.eval.probe import probe_metrics
from genlab.eval.sample_quality import (
    TOY_SAMPLES,
    default_n_real,
    draw,
    feature_net_for,
    metrics_for_samples,
    model_images,
)


@torch.no_grad()
def likelihood_metrics(model: Model, dataset: Dataset, pixels: Pixels | None,
                       cfg: EvalConfig, device: torch.device) -> dict[str, Any]:
    """Mean test log-likelihood estimates in nats and bits/dim (if the model has any).

    Test images are dequantized once with a fixed seed, so every estimate sees the same inputs.
    """
    if not isinstance(model, DensityModel):
        return {}
    x_all = dataset.test if cfg.n_test <= 0 else dataset.test[: cfg.n_test]
    sums: dict[str, float] = {}
    bpd_sums: dict[str, float] = {}
    with isolated_rng(cfg.seed, device):
        for start in range(0, len(x_all), cfg.batch_size):
            x = x_all[start : start + cfg.batch_size].to(device)
            if pixels is not None:
                x = pixels(x)
            for name, ll in model.likelihood_estimates(x, cfg.importance_samples).items():
                ll = ll.double()
                sums[name] = sums.get(name, 0.0) + ll.sum().item()
                if pixels is None or pixels.gives_likelihood:
                    bpd_sums[name] = bpd_sums.get(name, 0.0) + bits_per_dim(ll, x, pixels).sum().item()
    if not sums:
        return {}
    n = len(x_all)
    out: dict[str, Any] = {"n_test": n, "split": "test", "seed": cfg.seed}
    if getattr(model, "uses_importance_sampling", False):
        out["importance_samples"] = cfg.importance_samples
    for name, s in sums.items():
        out[f"{name}_nats"] = s / n
        if name in bpd_sums:
            out[f"{name}_bits_per_dim"] = bpd_sums[name] / n
    if pixels is not None:
        out["pixels"] = {"levels": pixels.levels, "mode": pixels.mode, "range": pixels.range,
                         "logit_alpha": pixels.logit_alpha}
        out["nats_are"] = ("log-density of the model inputs (before the dequantization correction); "
                           "bits_per_dim include it" if pixels.mode != "binarize"
                           else "log-probability of the binarized image")
    return json_safe(out)


@torch.no_grad()
def sample_metrics(model: Model, dataset: Dataset, pixels: Pixels | None, cfg: EvalConfig,
                   device: torch.device, n_samples: int | None = None,
                   inception: FeatureNet | None = None, n_real: int | None = None) -> dict[str, Any]:
    """Sample-based metrics of `model.sample`, drawn with the fixed evaluation seed.

    Images: n_samples (default: as many as reference images) against the first n_real test images
    (default: the test split, at most 10k) in the dataset's feature-network space (and Inception's,
    if given); toys: 2500 samples (VEEGAN/PacGAN protocol).
    """
    for name, value in (("n_samples", n_samples), ("n_real", n_real)):
        if value is not None:
            check_int(name, value, 1)
    if dataset.is_image and pixels is None:
        raise ValueError("image datasets need their Pixels transform")
    if dataset.is_image and feature_net_for(dataset) is None and inception is None:
        return {"skipped": f"no feature network for {dataset.name}; run "
                           f"`genlab features train --data {dataset.name}`"}
    n_real = (n_real or default_n_real(dataset)) if dataset.is_image else None
    n = n_samples or n_real or TOY_SAMPLES
    with isolated_rng(cfg.seed, device):
        samples = draw(model.sample, n, max(cfg.batch_size, 500))
    if not torch.isfinite(samples).all():
        return {"skipped": "the model produced NaN or inf samples", "n_fake": n}
    if dataset.is_image:
        samples = model_images(samples, pixels)
    out = metrics_for_samples(samples, dataset, "test", n_real, inception, seed=cfg.seed)
    nfe = getattr(model, "last_nfe", None)  # set by iterative samplers (see `Sampler`)
    if isinstance(nfe, int):
        out["nfe"] = nfe
    return out


# Samples `sampling_metrics` draws by default (no dataset to size them by).
SAMPLING_ONLY_SAMPLES = 1000
# What needs the dataset, for the one line saying what was skipped without it.
NEEDS_DATA = {"likelihood": "test log-likelihoods", "samples": "sample quality against test data",
              "probe": "linear probe"}


@torch.no_grad()
def sampling_metrics(model: Model, pixels: Pixels | None, cfg: EvalConfig, device: torch.device,
                     n_samples: int | None = None) -> dict[str, Any]:
    """What can be measured of `model.sample` with no data at hand: sampling speed, the share of
    finite samples, their value range, mean and std (images in stored-pixel [0, 1] units), NFE.

    It is what `genlab eval` reports for an exported model when the dataset is absent: it checks that
    the export samples, and how fast; it says nothing of quality (that needs the test data).

    Example:
        >>> from genlab import MODELS, DataSpec, build_model, load_config
        >>> cfg = load_config("vae-digits")
        >>> _ = torch.manual_seed(0)
        >>> vae = build_model("vae", MODELS.get("vae").Config(latent_dim=2, hidden=8), DataSpec((2,)))
        >>> out = sampling_metrics(vae, None, cfg.eval, torch.device("cpu"), n_samples=50)
        >>> out["n_fake"], out["finite_fraction"], sorted(out)
        (50, 1.0, ['finite_fraction', 'max', 'mean', 'min', 'n_fake', 'seconds_per_sample', 'seed', 'std'])
    """
    n = n_samples or SAMPLING_ONLY_SAMPLES
    check_int("n_samples", n, 1)
    with isolated_rng(cfg.seed, device):
        start = time.perf_counter()
        samples = draw(model.sample, n, max(cfg.batch_size, 500))
        seconds = time.perf_counter() - start
    finite = torch.isfinite(samples).flatten(1).all(1)
    out: dict[str, Any] = {"n_fake": n, "seed": cfg.seed, "seconds_per_sample": seconds / n,
                           "finite_fraction": finite.float().mean().item()}
    good = samples[finite]
    if len(good) and pixels is not None and samples.ndim == 4:
        good = model_images(good, pixels)  # stored-pixel images in [0, 1], as sample metrics see them
    if len(good):
        out.update(min=good.min().item(), max=good.max().item(), mean=good.float().mean().item(),
                   std=good.float().std().item() if good.numel() > 1 else 0.0)
    nfe = getattr(model, "last_nfe", None)
    if isinstance(nfe, int):
        out["nfe"] = nfe
    return json_safe(out)


def evaluate(model: Model, dataset: Dataset, pixels: Pixels | None, cfg: EvalConfig,
             device: torch.device | str, samples: bool = True, n_samples: int | None = None,
             inception: FeatureNet | None = None, probe: bool = True,
             n_real: int | None = None) -> dict[str, Any]:
    """Every metric that applies: likelihoods (if the model has any), sample metrics and the linear
    probe of an encoder.

    Example:
        An (untrained) VAE on the 8-Gaussians toy, with small evaluation sizes:

        >>> from genlab import MODELS, DataSpec, build_model, load_config, load_dataset
        >>> cfg = load_config("vae-digits", ["data.name=8gaussians", "data.n_samples=500",
        ...                                  "eval.n_test=50", "eval.importance_samples=8"])
        >>> data = load_dataset(cfg.data)
        >>> _ = torch.manual_seed(0)
        >>> vae = build_model("vae", MODELS.get("vae").Config(latent_dim=2, hidden=32), data.spec)
        >>> out = evaluate(vae, data, None, cfg.eval, "cpu", n_samples=200)
        >>> sorted(out), out["likelihood"]["n_test"], out["likelihood"]["importance_samples"]
        (['likelihood', 'probe', 'samples'], 50, 8)
        >>> sorted(k for k in out["likelihood"] if k.endswith("_nats"))
        ['elbo_nats', 'log_likelihood_is_nats']
        >>> out["samples"]["n_fake"], out["samples"]["n_modes"], out["probe"]
        (200, 8, {'skipped': 'dataset 8gaussians has no class labels'})
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    try:
        out = {"likelihood": likelihood_metrics(model, dataset, pixels, cfg, device)}
        if samples and isinstance(model, Sampler):
            out["samples"] = json_safe(sample_metrics(model, dataset, pixels, cfg, device, n_samples,
                                                    inception, n_real))
        if probe and isinstance(model, Encoder):
            out["probe"] = json_safe(probe_metrics(model, dataset, pixels, cfg, device))
        return out
    finally:
        model.train(was_training)


def json_safe(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe: non-finite floats become strings ('inf'), recursively."""
    return {k: json_safe(v) if isinstance(v, dict)
            else (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in d.items()}
