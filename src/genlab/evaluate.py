"""`genlab eval`: the metrics that apply to a trained model and its dataset, as one dict."""

from __future__ import annotations

import math
from typing import Any

import torch

from genlab.config import EvalConfig
from genlab.data import Dataset, Pixels
from genlab.metrics.likelihood import bits_per_dim
from genlab.models import GenerativeModel


@torch.no_grad()
def likelihood_metrics(model: GenerativeModel, dataset: Dataset, pixels: Pixels | None,
                       cfg: EvalConfig, device: torch.device) -> dict[str, Any]:
    """Mean test log-likelihood estimates in nats and bits/dim (if the model has any).

    Test images are dequantized once with a fixed seed, so every estimate sees the same inputs.
    """
    x_all = dataset.test if cfg.n_test <= 0 else dataset.test[: cfg.n_test]
    sums: dict[str, float] = {}
    bpd_sums: dict[str, float] = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
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
    if model.uses_importance_sampling:
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
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in out.items()}


def evaluate(model: GenerativeModel, dataset: Dataset, pixels: Pixels | None, cfg: EvalConfig,
             device: torch.device) -> dict[str, Any]:
    """Every metric that applies; families with more (sample-based) metrics extend this dict."""
    was_training = model.training
    model.eval()
    try:
        return {"likelihood": likelihood_metrics(model, dataset, pixels, cfg, device)}
    finally:
        model.train(was_training)
