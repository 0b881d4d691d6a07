"""The `genlab` command: list, train, sample, eval."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from genlab.errors import ConfigError, GenlabError


def _cmd_list(args: argparse.Namespace) -> int:
    from genlab.data import DATASETS
    from genlab.models import MODELS
    from genlab.presets import preset_names

    for title, names in (("models", MODELS.names()), ("datasets", DATASETS.names()),
                         ("presets", preset_names())):
        print(f"{title}:\n  " + "\n  ".join(names))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from genlab.config import load_config
    from genlab.train import Trainer

    out = Path(args.out)
    items = list(args.config)
    source = items.pop(0) if items and "=" not in items[0] else None
    overrides = items + ([f"data.data_dir={args.data_dir}"] if args.data_dir else [])
    has_run = (out / "checkpoints").is_dir() or (out / "metrics.jsonl").is_file()
    if args.resume:
        if not (out / "config.yaml").is_file():
            raise ConfigError(f"--resume: {out} holds no genlab run (no config.yaml)")
        if source:
            print(f"genlab: resuming with {out / 'config.yaml'} (ignoring {source})", file=sys.stderr)
        cfg = load_config(out / "config.yaml", overrides)
    else:
        if source is None:
            raise ConfigError("train needs a preset name or YAML file (see `genlab list`)")
        cfg = load_config(source, overrides)
        if has_run and not args.overwrite:
            raise ConfigError(f"{out} already holds a run; use --resume to continue it or "
                              "--overwrite to start over")
        if has_run:
            for name in ("checkpoints", "samples", "tensorboard"):
                shutil.rmtree(out / name, ignore_errors=True)
            for name in ("metrics.jsonl", "eval.json", "loss.png"):
                (out / name).unlink(missing_ok=True)
    trainer = Trainer(cfg, out, resume=args.resume)
    try:
        trainer.fit()
    except KeyboardInterrupt:
        return 130
    if trainer.dist.is_main:
        print(f"genlab: trained {cfg.model.name} for {trainer.step} steps -> {out}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from genlab.train.trainer import load_model
    from genlab.viz import save_samples

    model, cfg, dataset, pixels, _ = load_model(args.run_dir, args.device, not args.no_ema)
    torch.manual_seed(args.seed)
    with torch.no_grad():
        samples = model.sample(args.n)
    path = save_samples(samples, args.output, dataset, pixels, f"{cfg.model.name} samples")
    print(f"genlab: wrote {args.n} samples to {path}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from genlab.evaluate import evaluate
    from genlab.train.trainer import load_model

    model, cfg, dataset, pixels, ckpt = load_model(args.run_dir, args.device, not args.no_ema)
    if args.n_test is not None:
        cfg.eval.n_test = args.n_test
    if args.importance_samples is not None:
        cfg.eval.importance_samples = args.importance_samples
    device = next(model.parameters()).device
    result = {"model": cfg.model.name, "dataset": cfg.data.name, "checkpoint": str(ckpt),
              "ema_weights": not args.no_ema,
              **evaluate(model, dataset, pixels, cfg.eval, device)}
    text = json.dumps(result, indent=2)
    out = Path(args.run_dir) / "eval.json"
    out.write_text(text + "\n")
    print(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genlab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="models, datasets and presets").set_defaults(func=_cmd_list)

    t = sub.add_parser("train", help="train a preset or YAML config")
    t.add_argument("config", nargs="*", metavar="PRESET_OR_YAML [key=value ...]",
                   help="a preset name or YAML path, then overrides like train.steps=500")
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    t.add_argument("--data-dir", help="folder holding the dataset files")
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run_dir")
    s.add_argument("-n", type=int, default=64)
    s.add_argument("-o", "--output", default="samples.png")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--no-ema", action="store_true", help="use raw instead of EMA weights")
    s.set_defaults(func=_cmd_sample)

    e = sub.add_parser("eval", help="evaluate a trained run; writes RUN_DIR/eval.json")
    e.add_argument("run_dir")
    e.add_argument("--n-test", type=int, help="test examples (0: all)")
    e.add_argument("--importance-samples", type=int, help="K for importance-sampled likelihoods")
    e.add_argument("--device", default="auto")
    e.add_argument("--no-ema", action="store_true", help="use raw instead of EMA weights")
    e.set_defaults(func=_cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may follow options (`train P --out R steps=5`): collect the leftovers too.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "train" or any("=" not in e or e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.config += extra
    try:
        return args.func(args)
    except GenlabError as err:
        print(f"genlab: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
