"""Sample-based metrics of a dataset: which apply, and computing them with their provenance.

* Image datasets with a genlab feature network (shipped or trained with `genlab features train`):
  Fréchet distance, KID and precision/recall/density/coverage in that network's 128-d features,
  named after it (`fd_fashion`, `kid_digits`, ...) against the first `n_real` images of a reference
  split. Fake images are rounded to the dataset's pixel levels first, like the stored real images.
* 2-D Gaussian-mixture toys (their `info` has `centers` and `std`): VEEGAN/PacGAN mode coverage,
  the mean log-likelihood under the true mixture, and an RBF MMD against held-out true samples.
* Other 2-D toys: the RBF MMD.
* Every toy: the exact 2-Wasserstein distance between n model samples and n held-out true samples.

Every result records n_real, n_fake, the reference split and (for images) the feature network's
id and SHA-256, so numbers are only compared when they were measured the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genlab.core.errors import DataError
from genlab.data import Dataset, Pixels
from genlab.eval.features import FeatureNet, extract_features, find_feature_net, net_key, reference
from genlab.eval.metrics.frechet import FeatureStats, frechet_distance_stats
from genlab.eval.metrics.kid import kernel_distance
from genlab.eval.metrics.prdc import prdc
from genlab.eval.metrics.toy2d import mixture_log_likelihood, mmd_rbf, mode_coverage
from genlab.eval.metrics.wasserstein import wasserstein2

MAX_REAL = 10_000  # reference images (the spec's protocol: 10k vs the 10k Fashion-MNIST test set)
TOY_SAMPLES = 2500  # VEEGAN / PacGAN protocol
TOY_MMD_SAMPLES = 2000
TOY_W2_SAMPLES = 2000  # an exact assignment, O(n^3): 1-4 s at 2000 on one core, 0.6 s at 1000


def quantize(images: Tensor, levels: int) -> Tensor:
    """Images in [0, 1] rounded to `levels` evenly spaced values (the stored data's alphabet)."""
    return (images.float().clamp(0, 1) * (levels - 1)).round() / (levels - 1)


def model_images(samples: Tensor, pixels: Pixels) -> Tensor:
    """Model-input samples -> stored-pixel images in [0, 1] (inverse of the dataset's Pixels map)."""
    unit = pixels.to_unit(samples.float())
    if pixels.mode == "dequantize":  # y = (x + u) / L  ->  x = floor(L y)
        levels = (unit * pixels.levels).floor().clamp(0, pixels.levels - 1)
        return levels / (pixels.levels - 1)
    return quantize(unit, pixels.levels)


def feature_net_for(dataset: Dataset, device: str | torch.device = "cpu") -> FeatureNet | None:
    return find_feature_net(net_key(dataset.name, dataset.info.get("source")), device)


def default_n_real(dataset: Dataset, split: str = "test") -> int:
    return min(MAX_REAL, len(dataset.test if split == "test" else dataset.train))


def image_metrics(fake: Tensor, dataset: Dataset, net: FeatureNet, split: str = "test",
                  n_real: int | None = None, kid_subsets: int = 100, kid_subset_size: int = 1000,
                  seed: int = 0) -> dict[str, Any]:
    """FD, KID and PRDC of fake images (N, C, H, W) in [0, 1] against a dataset split."""
    if len(fake) < 2:
        raise DataError(f"need at least 2 fake images, got {len(fake)}")
    n_real = n_real or default_n_real(dataset, split)
    ref = reference(net, dataset, split, n_real)
    fake_feats = extract_features(net.net, fake.float())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if len(fake_feats) != len(ref.features):
            warnings.warn(f"n_fake={len(fake_feats)} differs from n_real={len(ref.features)}: coverage "
                          "and FD depend on sample sizes; compare only numbers measured at equal sizes",
                          stacklevel=2)
        fd = frechet_distance_stats(ref.stats, FeatureStats.of(fake_feats))
    notes = [str(w.message) for w in caught]
    for note in notes:
        warnings.warn(note, stacklevel=2)
    s = net.name
    kid = kernel_distance(ref.features, fake_feats, kid_subsets, kid_subset_size, seed)
    pr = prdc(ref.features, fake_feats)
    return {
        "feature_net": net.describe(),
        "reference": {"dataset": dataset.name, "split": split, "cached": ref.cached},
        "n_real": len(ref.features), "n_fake": len(fake_feats),
        f"fd_{s}": fd,
        f"kid_{s}": kid["kid"], f"kid_{s}_std": kid["kid_std"],
        "kid_subsets": kid["subsets"], "kid_subset_size": kid["subset_size"],
        f"precision_{s}": pr["precision"], f"recall_{s}": pr["recall"],
        f"density_{s}": pr["density"], f"coverage_{s}": pr["coverage"],
        "prdc_k": {"precision_recall": pr["k_pr"], "density_coverage": pr["k_dc"]},
        **({"warnings": notes} if notes else {}),
    }


def toy_metrics(samples: Tensor, dataset: Dataset) -> dict[str, Any]:
    """Mode coverage (mixtures), RBF MMD and W2 against the held-out test samples of a 2-D toy.

    W2 pairs the first n model samples with the first n test samples, n = min(both, 2000),
    recorded as `w2_n`."""
    x = samples.detach().double().cpu()
    if x.ndim != 2 or x.shape[1] != dataset.shape[0]:
        raise DataError(f"{dataset.name} samples must be (N, {dataset.shape[0]}), got {tuple(x.shape)}")
    target = dataset.test[:TOY_MMD_SAMPLES]
    mmd = mmd_rbf(x[:TOY_MMD_SAMPLES], target)
    out: dict[str, Any] = {"reference": {"dataset": dataset.name, "split": "test"},
                           "n_fake": len(x), "n_real": len(target),
                           "mmd2_rbf": mmd["mmd2"], "mmd_bandwidth": mmd["bandwidth"],
                           "mmd_n_fake": mmd["n_x"]}
    n_w2 = min(len(x), len(dataset.test), TOY_W2_SAMPLES)
    w2 = wasserstein2(x[:n_w2], dataset.test[:n_w2])
    out.update({"w2": w2["w2"], "w2_n": w2["n"]})
    if "centers" in dataset.info and "std" in dataset.info:
        centers, std = dataset.info["centers"], float(dataset.info["std"])
        mc = mode_coverage(x, centers, std)
        out.update({"modes": mc["modes"], "n_modes": mc["n_modes"],
                    "high_quality": mc["high_quality"], "reverse_kl": mc["reverse_kl"],
                    "mode_threshold_std": 3.0,
                    "true_log_likelihood": mixture_log_likelihood(x, centers, std)})
    return out


@torch.no_grad()
def draw(sample: Callable[[int], Tensor], n: int, batch_size: int) -> Tensor:
    """n samples from `sample(k)`, in batches, on the CPU."""
    parts, done = [], 0
    while done < n:
        k = min(batch_size, n - done)
        parts.append(sample(k).detach().cpu())
        done += k
    return torch.cat(parts)


def metrics_for_samples(fake: Tensor, dataset: Dataset, split: str = "test", n_real: int | None = None,
                        inception: FeatureNet | None = None, seed: int = 0) -> dict[str, Any]:
    """The sample metrics that apply to `dataset`, for fake images in [0, 1] or toy vectors.

    With `inception` (see `genlab.eval.features.inception.load_inception`) images also get the same
    metrics in Inception-v3 pool features under the key `inception` (`fd_inception` is the FID).
    """
    if not dataset.is_image:
        return toy_metrics(fake, dataset)
    fake = quantize(fake, dataset.levels)
    net = feature_net_for(dataset)
    if net is None:
        out: dict[str, Any] = {"skipped": f"no feature network for {dataset.name}; run "
                                          f"`genlab features train --data {dataset.name}`"}
    else:
        out = image_metrics(fake, dataset, net, split, n_real, seed=seed)
    if inception is not None:
        out["inception"] = image_metrics(fake, dataset, inception, split, n_real, seed=seed)
    return out
