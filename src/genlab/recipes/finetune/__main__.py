"""`python -m genlab.recipes.finetune`: fine-tune a shipped feature CNN on a few labelled digits per class
and print its test accuracy beside the same network trained from scratch for the same steps."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from genlab.core.arguments import ArgumentParser, device, fail, integer
from genlab.core.errors import GenlabError
from genlab.data import DATASETS, Dataset
from genlab.eval.features.store import require_feature_net
from genlab.recipes.finetune.data import few_per_class, resize_images
from genlab.recipes.finetune.model import FineTuned
from genlab.recipes.labelled_run import held_out_accuracy, train_labelled


@dataclass
class Budget:
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3  # Adam, new layers (and every layer from scratch)
    backbone_lr: float = 3e-3  # SGD, momentum 0.9, for released backbone layers (the article's stage 2)
    seed: int = 0


def fine_tune_vs_scratch(source: str, target: Dataset, budget: Budget, device: str = "cpu"
                         ) -> dict[str, float]:
    """Test accuracy of the `source` network fine-tuned on `target` (stages at 1/3 and 2/3 of the steps)
    and of the same network trained from scratch, both for `budget.steps` steps."""
    s = budget.steps
    adam = {"name": "adam", "lr": budget.lr}
    sgd = {"name": "sgd", "lr": budget.backbone_lr, "momentum": 0.9}
    runs: dict[str, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {
        "fine-tuned": ({"source": source, "unfreeze_top": s // 3, "unfreeze_all": 2 * s // 3},
                       {"default": adam, "top": sgd, "bottom": sgd}),
        "scratch": ({"source": source, "pretrained": False}, {"default": adam}),
    }
    out = {}
    for name, (options, optim) in runs.items():
        model = train_labelled("finetune", FineTuned, options, target, s, budget.batch_size, optim,
                               budget.seed, device)
        out[name] = held_out_accuracy(model, target)
    return out


def per_class(text: str) -> int | None:
    """--per-class: a count >= 1, or 'all' (None)."""
    return None if text == "all" else integer(1)(text)


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m genlab.recipes.finetune", description=__doc__)
    parser.add_argument("--source", default="fashion-mnist", help="shipped or user feature network")
    parser.add_argument("--per-class", type=per_class, nargs="+", default=[10],
                        help="labelled training digits per class (an integer >= 1, or 'all')")
    parser.add_argument("--steps", type=integer(3, 10_000_000), default=Budget.steps,
                        help="at least 3: the three fine-tuning stages")
    parser.add_argument("--seed", type=integer(0, 2**63 - 1), default=0)
    parser.add_argument("--device", type=device, default="cpu")
    args = parser.parse_args(argv)
    try:
        spec = require_feature_net(args.source).net.spec
    except GenlabError as err:
        fail(parser.prog, f"--source: {err}")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    digits = resize_images(DATASETS.get("digits")(), spec.height, spec.width)
    fewest = int(digits.train_labels.bincount().min())
    too_many = [n for n in args.per_class if n is not None and n > fewest]
    if too_many:
        fail(parser.prog, f"--per-class {too_many[0]}: the digits training split has only {fewest} examples "
                          "of its rarest class; use at most that, or 'all'")
    budget = Budget(steps=args.steps, seed=args.seed)
    print(f"Digits resized to {spec.height}x{spec.width}: the {args.source} feature CNN fine-tuned (GLU, "
          f"aux head, center loss, 3 stages) vs the same network from scratch, {budget.steps} steps of "
          f"{budget.batch_size}; test accuracy on {len(digits.test)} digits")
    print(f"{'per class':>10}{'train':>7}{'fine-tuned':>12}{'scratch':>9}{'seconds':>9}")
    for n in args.per_class:
        target = few_per_class(digits, n, args.seed) if n is not None else digits
        start = time.perf_counter()
        acc = fine_tune_vs_scratch(args.source, target, budget, args.device)
        print(f"{n or 'all':>10}{len(target.train):>7}{acc['fine-tuned']:>12.4f}{acc['scratch']:>9.4f}"
              f"{time.perf_counter() - start:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
