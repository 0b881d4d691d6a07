"""`python -m genlab.recipes.capsules`: train the capsule classifier and print its test accuracy."""

from __future__ import annotations

import time

import torch

from genlab.core.arguments import ArgumentParser, device, fail, integer, number
from genlab.core.errors import GenlabError
from genlab.data import DATASETS
from genlab.recipes.capsules.model import CapsNet
from genlab.recipes.labelled_run import held_out_accuracy, train_labelled


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m genlab.recipes.capsules", description=__doc__)
    parser.add_argument("--data", default="digits", choices=["digits", "fashion-mnist"])
    parser.add_argument("--data-dir", default=None, help="folder of the Fashion-MNIST IDX files")
    parser.add_argument("--steps", type=integer(1, 10_000_000), default=300)
    parser.add_argument("--batch-size", type=integer(1, 65_536), default=32)
    parser.add_argument("--lr", type=number(0.0, 10.0, low_open=True), default=3e-3)
    parser.add_argument("--seed", type=integer(0, 2**63 - 1), default=0)
    parser.add_argument("--device", type=device, default="cpu")
    args = parser.parse_args(argv)
    if args.data_dir is not None and args.data == "digits":
        fail(parser.prog, "--data-dir is for --data fashion-mnist (digits ship with scikit-learn)")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    try:
        dataset = DATASETS.get(args.data)(data_dir=args.data_dir)
    except GenlabError as err:
        fail(parser.prog, str(err))
    start = time.perf_counter()
    model = train_labelled("capsnet", CapsNet, {"margin_steps": max(1, args.steps // 2)}, dataset, args.steps,
                           args.batch_size, {"default": {"name": "adam", "lr": args.lr}}, args.seed,
                           args.device)
    acc = held_out_accuracy(model, dataset)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"Matrix capsules with EM routing on {args.data}: {n_params} parameters, {args.steps} steps "
          f"of {args.batch_size} ({time.perf_counter() - start:.0f} s)")
    print(f"test accuracy {acc:.4f} on {len(dataset.test)} images (chance {1 / dataset.spec.n_classes:.2f})")


if __name__ == "__main__":
    main()
