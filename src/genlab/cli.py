"""The `genlab` command: list, train, sample, eval, export, compare."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genlab.core.arguments import ArgumentParser, integer, number
from genlab.core.errors import ConfigError, DataError, GenlabError, TrainingInterrupted


def _cmd_list(args: argparse.Namespace) -> int:
    from genlab.data import DATASETS
    from genlab.models import MODELS
    from genlab.presets import preset_names

    for title, names in (("models", MODELS.names()), ("datasets", DATASETS.names()),
                         ("presets", preset_names())):
        print(f"{title}:\n  " + "\n  ".join(names))
    return 0


def check_out_dir(out: Path) -> None:
    """ConfigError unless `out` is, or can be created as, a writable folder (checked before training)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is an existing file, not a run folder")
    parent = out
    while not parent.exists():  # the nearest existing ancestor is where mkdir would start
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {out}: {parent} is a file, so the run folder cannot be created")
    if not os.access(parent, os.W_OK | os.X_OK):
        what = "is not writable" if parent == out else f"cannot be created ({parent} is not writable)"
        raise ConfigError(f"--out {out} {what}")


def _cmd_train(args: argparse.Namespace) -> int:
    from genlab.config import load_config
    from genlab.runs import standard_hooks
    from genlab.train import Trainer
    from genlab.train.run_folder import check_run_folder

    out = Path(args.out)
    if args.resume and args.overwrite:
        check_run_folder(out, resume=True, overwrite=True)  # refuses the pair, before anything else
    check_out_dir(out)
    items = list(args.config)
    source = items.pop(0) if items and "=" not in items[0] else None
    overrides = items + ([f"data.data_dir={args.data_dir}"] if args.data_dir else [])
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
    # Refuse now, before data is loaded; the Trainer checks again under the folder's lock, and clears
    # it for --overwrite. Under torchrun only rank 0 looks (the others would race with its clearing).
    if os.environ.get("RANK", "0") == "0":
        check_run_folder(out, resume=args.resume, overwrite=args.overwrite)
    trainer = Trainer(cfg, out, resume=args.resume, overwrite=args.overwrite, hooks=standard_hooks(cfg))
    with trainer:
        try:
            trainer.fit()
        except TrainingInterrupted as stop:
            if trainer.dist.is_main:
                print(f"\ngenlab: {stop}", file=sys.stderr)
            return stop.exit_code
        except KeyboardInterrupt:
            return 130
        if trainer.dist.is_main:
            print(f"genlab: trained {cfg.model.name} for {trainer.step} steps -> {out}")
    return 0


# `genlab sample` writes one picture: more than this many samples would not be readable in it.
MAX_SAMPLE_GRID = 10_000
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg")
SAMPLE_BATCH = 1000


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from genlab.core.output_path import writable_file
    from genlab.core.protocol import Sampler
    from genlab.eval.sample_quality import draw
    from genlab.runs import load_run
    from genlab.viz import save_samples

    if args.n < 1:
        raise ConfigError(f"-n must be a positive number of samples (1..{MAX_SAMPLE_GRID}), got {args.n}")
    output = writable_file(args.output, "-o/--output", SAMPLE_SUFFIXES)
    n = args.n
    if n > MAX_SAMPLE_GRID:
        print(f"genlab: -n {n} is more than one picture shows; drawing {MAX_SAMPLE_GRID} "
              f"(the maximum)", file=sys.stderr)
        n = MAX_SAMPLE_GRID
    run = load_run(args.run_dir, args.device, not args.no_ema, overrides=getattr(args, "overrides", ()))
    if not isinstance(run.model, Sampler):
        raise ConfigError(f"model {run.cfg.model.name} cannot sample")
    torch.manual_seed(args.seed)
    samples = draw(run.model.sample, n, SAMPLE_BATCH)
    reference = run.dataset_or_none() if run.pixels is None else None  # 2-D toys: optional test points
    path = save_samples(samples, output, reference, run.pixels, f"{run.cfg.model.name} samples")
    print(f"genlab: wrote {n} samples to {path}")
    return 0


def _inception(args: argparse.Namespace):
    """The optional Inception network of --inception-weights (never downloaded)."""
    if not args.inception_weights:
        return None
    from genlab.eval.features.inception import load_inception

    return load_inception(args.inception_weights)


@contextmanager
def _metric_warnings() -> Iterator[list]:
    """Record the warnings raised while metrics run: they belong in the JSON, not on stderr."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _report_warnings(result: dict, caught: list) -> None:
    """Put every recorded warning in `result["warnings"]` unless the JSON already holds it.

    Only those not already reported by the metrics themselves get one plain stderr line each.
    """
    def reported(node) -> set[str]:
        if isinstance(node, dict):
            found = set(node.get("warnings", [])) if isinstance(node.get("warnings"), list) else set()
            return found.union(*(reported(v) for v in node.values()))
        return set()

    known = reported(result)
    for message in dict.fromkeys(str(w.message) for w in caught):
        if message not in known:
            result.setdefault("warnings", []).append(message)
            print(f"genlab: warning: {message}", file=sys.stderr)


def _cmd_eval_samples(args: argparse.Namespace) -> int:
    """`genlab eval --real DATASET --fake FOLDER_OR_NPZ`: samples produced by any tool."""
    from genlab.config import DataConfig
    from genlab.data import load_dataset
    from genlab.data.sample_files import read_samples
    from genlab.eval.evaluate import json_safe
    from genlab.eval.sample_quality import metrics_for_samples

    if not (args.real and args.fake):
        raise ConfigError("evaluating samples needs both --real DATASET and --fake FOLDER_OR_NPZ")
    dataset = load_dataset(DataConfig(name=args.real, data_dir=args.data_dir))
    grayscale = dataset.is_image and dataset.shape[0] == 1
    fake = read_samples(args.fake, dataset.is_image, grayscale)
    if args.n_samples:
        fake = fake[: args.n_samples]
    with _metric_warnings() as caught:
        result = {"dataset": dataset.name, "fake": str(args.fake),
                  **json_safe(metrics_for_samples(fake, dataset, args.split, args.n_real,
                                                _inception(args)))}
    _report_warnings(result, caught)
    text = json.dumps(result, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
    print(text)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from genlab.core.checkpoint import checkpoint_step
    from genlab.core.output_path import writable_file
    from genlab.eval.evaluate import evaluate
    from genlab.eval.hooks import eval_scalars
    from genlab.runs import is_export, load_run
    from genlab.train.loggers import log_evaluation

    for flag, value, low in (("--n-real", args.n_real, 1), ("--n-samples", args.n_samples, 1),
                             ("--importance-samples", args.importance_samples, 1),
                             ("--n-test", args.n_test, 0)):
        if value is not None and value < low:
            what = "a positive integer" if low else "0 (all test examples) or a positive integer"
            raise ConfigError(f"{flag} must be {what}, got {value}")
    if args.output:
        writable_file(args.output, "-o/--output")
    if args.run_dir is None or args.real or args.fake:
        if getattr(args, "overrides", ()):
            raise ConfigError("model.KEY=VALUE overrides apply to a RUN_DIR, not to --real/--fake samples")
        if args.run_dir is not None:
            raise ConfigError("give either RUN_DIR or --real/--fake, not both")
        return _cmd_eval_samples(args)
    exported = is_export(args.run_dir)
    # An export keeps the evaluation it was published with in eval.json: a new one goes beside it.
    default_out = Path(args.run_dir) / (EXPORT_EVAL if exported else "eval.json")
    if not args.output and Path(args.run_dir).is_dir():
        writable_file(default_out, f"RUN_DIR/{default_out.name}")
    run = load_run(args.run_dir, args.device, not args.no_ema, args.data_dir,
                   getattr(args, "overrides", ()))
    model, cfg, pixels = run.model, run.cfg, run.pixels
    try:
        dataset = run.dataset
    except DataError as err:
        if not exported or args.data_dir:  # a run's own data, or data asked for, must be there
            raise
        return _eval_without_data(args, run, err, default_out)
    if args.n_test is not None:
        cfg.eval.n_test = args.n_test
    asked = [n for n in (args.n_real, args.n_samples, args.n_test) if n]
    probe_n = args.probe_n if args.probe_n is not None else (max(asked) if asked else None)
    if probe_n is not None:  # default: as many as the largest other sample size asked for
        cfg.eval.probe_n_train = cfg.eval.probe_n_test = probe_n
    if args.importance_samples is not None:
        cfg.eval.importance_samples = args.importance_samples
    device = next(model.parameters()).device
    with _metric_warnings() as caught:
        result = {"model": cfg.model.name, "dataset": cfg.data.name, "checkpoint": str(run.checkpoint),
                  "ema_weights": run.ema_weights,
                  **({"runtime_overrides": list(args.overrides)} if getattr(args, "overrides", ()) else {}),
                  **evaluate(model, dataset, pixels, cfg.eval, device, samples=not args.no_samples,
                             n_samples=args.n_samples, inception=_inception(args), n_real=args.n_real,
                             probe=not args.no_probe)}
    _report_warnings(result, caught)
    text = json.dumps(result, indent=2)
    out = Path(args.output) if args.output else default_out
    out.write_text(text + "\n")
    print(text)
    if not exported:  # into the run's tracked runs (RUN/trackers.json), at the evaluated checkpoint's step
        log_evaluation(cfg, Path(args.run_dir), out, checkpoint_step(run.checkpoint), eval_scalars(result))
    return 0


# Where `genlab eval EXPORT` writes by default (the export's eval.json is the exported evaluation).
EXPORT_EVAL = "eval-local.json"


def _eval_without_data(args: argparse.Namespace, run, err: DataError, default_out: Path) -> int:
    """`genlab eval EXPORT` where the export's dataset is absent: the metrics that need no data
    (`sampling_metrics`), and one stderr line naming those skipped."""
    from genlab.core.protocol import Sampler
    from genlab.eval.evaluate import NEEDS_DATA, sampling_metrics

    model, cfg = run.model, run.cfg
    device = next(model.parameters()).device
    skipped = list(NEEDS_DATA.values())
    reason = f"dataset {cfg.data.name} not found ({str(err).splitlines()[0]})"
    print(f"genlab: warning: {reason}; skipped {', '.join(skipped)}; --data-dir DIR evaluates "
          "with the data", file=sys.stderr)
    result = {"model": cfg.model.name, "dataset": cfg.data.name, "checkpoint": str(run.checkpoint),
              "ema_weights": run.ema_weights, "data": "absent",
              "skipped": {key: reason for key in NEEDS_DATA}}
    if not args.no_samples and isinstance(model, Sampler):
        with _metric_warnings() as caught:
            result["sampling"] = sampling_metrics(model, run.pixels, cfg.eval, device, args.n_samples)
        _report_warnings(result, caught)
    text = json.dumps(result, indent=2)
    out = Path(args.output) if args.output else default_out
    out.write_text(text + "\n")
    print(text)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from genlab.export import export_run

    out = export_run(args.run_dir, args.out, overwrite=args.overwrite, partial=args.partial)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"genlab: exported {args.run_dir} -> {out} ({size / 2**20:.1f} MiB, model card {out}/README.md)")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from genlab.report import compare_runs

    report = compare_runs(args.runs, args.output)
    print(report.markdown, end="")
    if report.path is not None:
        print(f"genlab: wrote {report.path}", file=sys.stderr)
    return 0


def _cmd_features_train(args: argparse.Namespace) -> int:
    import torch

    from genlab.config import DataConfig
    from genlab.data import load_dataset
    from genlab.eval.features import net_key, save_feature_net
    from genlab.eval.features.store import user_dir
    from genlab.recipes.feature_net import DEFAULT_RECIPES, Recipe, train_feature_net

    out = Path(args.out) if args.out else user_dir()
    if out.exists() and not out.is_dir():  # checked before training, not after
        raise ConfigError(f"--out {out} is an existing file, not a folder for feature networks")
    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = load_dataset(DataConfig(name=args.data, data_dir=args.data_dir))
    base = DEFAULT_RECIPES.get(dataset.name, Recipe())
    recipe = Recipe(epochs=args.epochs or base.epochs, batch_size=args.batch_size or base.batch_size,
                    lr=args.lr or base.lr, seed=args.seed)
    net, record = train_feature_net(dataset, recipe, log=True)
    entry = save_feature_net(net, net_key(dataset.name, dataset.info.get("source")), record, out)
    print(f"genlab: feature network {entry['id']} (test accuracy {entry['test_accuracy']:.4f}, "
          f"sha256 {entry['sha256'][:16]}...) -> {out / entry['file']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from genlab import __version__

    p = ArgumentParser(prog="genlab", description=__doc__)
    p.add_argument("--version", action="version", version=f"genlab {__version__}")
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

    s = sub.add_parser("sample", help="draw samples from a trained run (then model.KEY=VALUE sets a "
                       "runtime option, e.g. model.sampler=ddim model.sample_steps=50)")
    s.add_argument("run_dir")
    s.add_argument("-n", type=int, default=64,
                   help=f"number of samples, 1..{MAX_SAMPLE_GRID} (more are capped: one picture)")
    s.add_argument("-o", "--output", default="samples.png",
                   help="picture to write (.png/.jpg/.jpeg) in an existing folder")
    s.add_argument("--seed", type=integer(0, 2**63 - 1), default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--no-ema", action="store_true", help="use raw instead of EMA weights")
    s.set_defaults(func=_cmd_sample)

    e = sub.add_parser("eval", help="evaluate a trained run (writes RUN_DIR/eval.json; model.KEY=VALUE "
                       "sets a runtime option), or samples from any tool with --real DATASET "
                       "--fake FOLDER_OR_NPZ")
    e.add_argument("run_dir", nargs="?")
    e.add_argument("--real", metavar="DATASET", help="reference dataset for --fake samples")
    e.add_argument("--fake", metavar="FOLDER_OR_NPZ",
                   help="a folder of PNG/JPEG images or an .npz (uint8 0..255 or float in [0, 1])")
    e.add_argument("--data-dir", help="folder holding the reference dataset files (--real, or RUN_DIR's "
                   "data when it is not where the run was trained)")
    e.add_argument("--split", default="test", choices=("test", "train"),
                   help="reference split for --fake samples")
    e.add_argument("--n-real", type=int, help="reference images (default: the split, at most 10k)")
    e.add_argument("--n-samples", type=int,
                   help="fake samples (default: as many as reference images; 2500 for 2-D toys)")
    e.add_argument("--no-samples", action="store_true", help="skip sample-based metrics")
    e.add_argument("--inception-weights", metavar="PATH",
                   help="FID Inception-v3 weights file you already have (pt_inception-2015-12-05-*.pth): "
                        "adds FID (`fd_inception`) and KID/PRDC in Inception features; slow on CPU")
    e.add_argument("-o", "--output", help="write the JSON here (default: RUN_DIR/eval.json; for a "
                   "`genlab export` folder OUT/eval-local.json, and without its dataset only the "
                   "metrics that need no data)")
    e.add_argument("--n-test", type=int, help="test examples (0: all)")
    e.add_argument("--importance-samples", type=int, help="K for importance-sampled likelihoods")
    e.add_argument("--device", default="auto")
    e.add_argument("--no-ema", action="store_true", help="use raw instead of EMA weights")
    e.add_argument("--probe-n", type=integer(0), metavar="N",
                   help="training and test examples of an encoder's linear probe (0: all; default: "
                        "eval.probe_n_train/probe_n_test, or the largest of --n-real/--n-samples/--n-test)")
    e.add_argument("--no-probe", action="store_true", help="skip an encoder's linear probe")
    e.set_defaults(func=_cmd_eval)

    x = sub.add_parser("export", help="write a trained run as a self-contained model folder with a model "
                       "card (README.md), loadable without the run or its data and publishable on the "
                       "Hugging Face Hub")
    x.add_argument("run_dir", metavar="RUN")
    x.add_argument("out", metavar="OUT", help="new folder (refused if it holds anything, unless --overwrite)")
    x.add_argument("--overwrite", action="store_true", help="replace what OUT holds")
    x.add_argument("--partial", action="store_true",
                   help="export a run whose latest checkpoint stops short of train.steps")
    x.set_defaults(func=_cmd_export)

    c = sub.add_parser("compare", help="runs side by side: a Markdown table of their eval.json metrics on "
                       "stdout and, with -o, one self-contained HTML page with sample grids and loss curves")
    c.add_argument("runs", nargs="+", metavar="RUN", help="run folders (after `genlab eval RUN` for metrics)")
    c.add_argument("-o", "--output", metavar="REPORT.html", help="write the HTML page here (.html/.htm)")
    c.set_defaults(func=_cmd_compare)

    f = sub.add_parser("features", help="genlab's own image feature networks (for FD/KID/PRDC)")
    fsub = f.add_subparsers(dest="features_command", required=True)
    ft = fsub.add_parser("train", help="train the feature CNN of a labelled image dataset")
    ft.add_argument("--data", required=True, help="dataset name (digits, fashion-mnist, mnist, ...)")
    ft.add_argument("--data-dir", help="folder holding the dataset files")
    ft.add_argument("--out", help="weights folder (default: $GENLAB_CACHE/features)")
    ft.add_argument("--epochs", type=integer(1, 10_000), help="default: 3 (40 for digits)")
    ft.add_argument("--batch-size", type=integer(1, 65_536))
    ft.add_argument("--lr", type=number(0.0, 10.0, low_open=True))
    ft.add_argument("--seed", type=integer(0, 2**63 - 1), default=0)
    ft.add_argument("--threads", type=integer(1, 1024), help="torch CPU threads")
    ft.set_defaults(func=_cmd_features_train)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may follow options (`train P --out R steps=5`): collect the leftovers too.
    args, extra = parser.parse_known_args(argv)
    if extra:
        takes_overrides = args.command in ("train", "sample", "eval")
        if not takes_overrides or any("=" not in e or e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "train":
            args.config += extra
        else:
            args.overrides = extra
    try:
        return args.func(args)
    except GenlabError as err:
        print(f"genlab: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
