"""Linear probe of an `Encoder`: logistic regression on frozen features, train split -> test split.

The standard measure of unsupervised representations (e.g. Deep InfoMax, Hjelm et al. 2019,
arXiv:1808.06670, sec. 4): the better a linear classifier does on the codes, the more class
information they expose linearly. Two baselines put the number in context: the same classifier on the
raw model inputs (pixels), and on the codes of the same architecture at its random initialisation.
The features of a model are `representation(model, x)`: the model's `representation(x)` where it
defines one (e.g. a VAE's posterior mean, Deep InfoMax's chosen layer), else `encode(x)`.
Features are standardised (train-split statistics) and fed to scikit-learn's multinomial
`LogisticRegression` (L-BFGS, C = 1).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genlab.config import EvalConfig
from genlab.core.errors import ConfigError, DataError
from genlab.core.protocol import Encoder, Model
from genlab.core.rng import isolated_rng
from genlab.data import Dataset, Pixels

# L-BFGS iterations: on standardised 784-pixel inputs full convergence takes minutes on a CPU while the
# accuracy moves by well under a percent after ~100; whether it converged is reported.
MAX_ITER = 200


class NotAnEncoding(TypeError):
    """An Encoder's features are not a (B, D) tensor (outside the `Encoder` protocol)."""


def representation(model: Encoder, x: Tensor) -> Tensor:
    """The features an `Encoder` exposes to evaluation: `model.representation(x)` where the model
    defines it (its `encode` is structured, or not the layer to evaluate), else `model.encode(x)`."""
    fn = getattr(model, "representation", None)
    return fn(x) if callable(fn) else model.encode(x)


def fit_logistic(train: Tensor, y_train: Tensor, test: Tensor, y_test: Tensor,
                 seed: int = 0) -> tuple[float, bool]:
    """(test accuracy, whether L-BFGS converged) of a logistic regression fitted on (train, y_train)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=MAX_ITER, random_state=seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf.fit(train.double().numpy(), y_train.numpy())
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return float(np.mean(clf.predict(test.double().numpy()) == y_test.numpy())), converged


@torch.no_grad()
def _features(fn: Callable[[Tensor], Tensor], x: Tensor, pixels: Pixels | None, batch_size: int,
              device: torch.device) -> Tensor:
    """fn(model inputs) for every row of `x` (stored data), batched, on the CPU as float64."""
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(device)
        xb = pixels(xb) if pixels is not None else xb.float()
        f = fn(xb)
        if not isinstance(f, Tensor) or f.ndim != 2 or len(f) != len(xb):
            got = tuple(f.shape) if isinstance(f, Tensor) else type(f).__name__
            raise NotAnEncoding(f"representation(x) (else encode(x)) must return a (B, D) tensor for a "
                                f"batch of B = {len(xb)}, got {got}")
        out.append(f.detach().double().cpu())
    return torch.cat(out)


def linear_probe(model: Model, dataset: Dataset, pixels: Pixels | None, cfg: EvalConfig,
                 device: torch.device | str, baselines: bool = True) -> dict[str, Any]:
    """Probe accuracy of the model's `representation` (and, with `baselines`, of raw inputs and of
    a randomly initialised copy of the architecture) on `dataset`'s official split.

    At most `cfg.probe_n_train` training examples (a fixed random subset; 0: all) fit the classifier
    and at most `cfg.probe_n_test` test examples (likewise) score it. Model inputs are made by
    `pixels` under the evaluation seed, so dequantization noise is the same for every feature set.
    """
    if not isinstance(model, Encoder):
        raise ConfigError(f"a linear probe needs an Encoder (a model with encode(x)); "
                          f"{type(model).__name__} has no encode()")
    if dataset.train_labels is None or dataset.test_labels is None:
        raise DataError(f"a linear probe needs class labels; dataset {dataset.name} has none")
    if dataset.is_image and pixels is None:
        raise ValueError("image datasets need their Pixels transform")
    device = torch.device(device)
    n = len(dataset.train)
    m = len(dataset.test)
    with isolated_rng(cfg.seed, device):
        idx = torch.randperm(n)[: cfg.probe_n_train] if 0 < cfg.probe_n_train < n else torch.arange(n)
        test_idx = torch.randperm(m)[: cfg.probe_n_test] if 0 < cfg.probe_n_test < m else torch.arange(m)
    x_train, y_train = dataset.train[idx], dataset.train_labels[idx]
    x_test, y_test = dataset.test[test_idx], dataset.test_labels[test_idx]

    unconverged: list[str] = []

    def accuracy(fn: Callable[[Tensor], Tensor], name: str) -> float:
        with isolated_rng(cfg.seed, device):  # the same inputs (dequantization noise) for every fn
            train = _features(fn, x_train, pixels, cfg.batch_size, device)
            test = _features(fn, x_test, pixels, cfg.batch_size, device)
        acc, converged = fit_logistic(train, y_train, test, y_test, cfg.seed)
        if not converged:
            unconverged.append(name)
        return acc

    was_training = model.training
    model.eval()
    try:
        out: dict[str, Any] = {"probe_accuracy": accuracy(lambda x: representation(model, x), "model")}
    finally:
        model.train(was_training)
    out |= {"probe_n_train": len(idx), "probe_n_test": len(x_test), "split": "train -> test",
            "classifier": "standardised features, sklearn LogisticRegression (lbfgs, C=1)"}
    if baselines:
        out["probe_raw_pixels_accuracy"] = accuracy(lambda x: x.flatten(1), "raw_pixels")
        fresh = _random_init(model, dataset, device, cfg.seed)
        if fresh is None:
            out["probe_random_init_accuracy"] = "skipped: the model keeps no `cfg` to rebuild it from"
        else:
            out["probe_random_init_accuracy"] = accuracy(lambda x: representation(fresh, x), "random_init")
    out["classifier_max_iter"] = MAX_ITER
    if unconverged:
        out["not_converged"] = ", ".join(unconverged)
    return out


def _random_init(model: Model, dataset: Dataset, device: torch.device, seed: int) -> Model | None:
    """The same architecture at a fresh initialisation (seeded), in eval mode; None if the model
    keeps no config to rebuild it from."""
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        return None
    with isolated_rng(seed, device):
        fresh = type(model)(cfg, dataset.spec)
    return fresh.to(device).eval()


def probe_metrics(model: Model, dataset: Dataset, pixels: Pixels | None, cfg: EvalConfig,
                  device: torch.device) -> dict[str, Any]:
    """The `probe` section of `genlab eval`: `linear_probe` where it applies, else why not."""
    if not isinstance(model, Encoder):
        return {}
    if dataset.train_labels is None or dataset.test_labels is None:
        return {"skipped": f"dataset {dataset.name} has no class labels"}
    try:
        return linear_probe(model, dataset, pixels, cfg, device)
    except NotAnEncoding as err:  # features outside the protocol: reported, not a crash
        return {"skipped": f"{type(model).__name__}: {err}"}
