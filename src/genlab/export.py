"""`genlab export RUN OUT`: a trained run as a self-contained model folder with a model card.

The folder holds what sampling and evaluation need, as plain files, and nothing of the training
state (optimizers, data-stream position, random state):

    OUT/README.md          model card; YAML front matter for the Hugging Face Hub (library_name, tags,
                           model-index with the evaluation numbers of image models)
    OUT/model.safetensors  the weights sampling uses: EMA weights where the run kept them
                           (metadata: format, format_version, genlab_version, family, step)
    OUT/config.yaml        the run's config: `genlab train config.yaml --out RUN` trains it again
    OUT/data_spec.json     dataset name, its `DataSpec` and pixel transform: building the model
                           needs no dataset
    OUT/genlab.json        export metadata: versions, family, step, weights kind, training time,
                           upstream runs, the source run and checkpoint, sha256 of the weights
    OUT/eval.json          the run's `genlab eval` result, if it has one (the numbers of the card)
    OUT/extra_state.pt     per-process state the model samples with (an EBM's replay buffer), if any
    OUT/samples.png, OUT/loss.png   the run's latest sample grid and loss plot, if it has them
    OUT/upstream/NAME/     each run the model builds on (`Model.upstream_runs`), exported the same way

`genlab.load_run(OUT)` (and `genlab sample/eval OUT`) rebuild the model from these files, its
upstream runs from `upstream/NAME/`, so the original run folders may be deleted. The folder is
what `huggingface_hub.upload_folder` publishes as a model repository.

`genlab eval OUT` writes OUT/eval-local.json (OUT/eval.json stays the evaluation the card quotes).
Every metric genlab has compares the model with the test split (likelihoods, sample quality in
feature space, the linear probe), so it needs the dataset: found where the run's config says or at
`--data-dir`, eval is the same as for the run. Absent (and no `--data-dir` given), eval reports
what needs no data, `genlab.eval.evaluate.sampling_metrics` (sampling speed, finite share, value
range), and one stderr line naming what it skipped; a `--data-dir` without the data is an error.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import save_file

from genlab import __version__
from genlab.config import Config
from genlab.core.checkpoint import VERSION_KEY, load_latest
from genlab.core.errors import ConfigError, DataError
from genlab.core.file_hash import sha256_file
from genlab.core.protocol import DataSpec
from genlab.models import MODELS
from genlab.train.build import (
    EXPORT_CONFIG,
    EXPORT_EXTRA,
    EXPORT_FORMAT,
    EXPORT_META,
    EXPORT_SPEC,
    EXPORT_UPSTREAM,
    EXPORT_VERSION,
    EXPORT_WEIGHTS,
    RUN_STATE_KEYS,
    is_export,
    load_run,
)

CARD = "README.md"
# Keys of an eval.json section that describe how a number was obtained, not a result.
_COUNTS = {"n_test", "n_fake", "n_real", "seed", "split", "importance_samples", "kid_subsets",
           "kid_subset_size", "mmd_n_fake", "w2_n", "probe_n_train", "probe_n_test", "classifier_max_iter",
           "mode_threshold_std", "mmd_bandwidth", "n_modes", "nfe"}
_TITLES = {"likelihood": "Likelihood", "samples": "Samples", "probe": "Linear probe"}


def export_run(run_dir: str | Path, out: str | Path, overwrite: bool = False, partial: bool = False) -> Path:
    """Write run `run_dir`'s model to the new folder `out` (layout in the module docstring) and
    return it. The folder is built beside `out` and renamed into place, so `out` is either absent,
    the previous content (`overwrite`) or the complete export. ConfigError if `out` exists and is not
    empty (unless `overwrite`), if `run_dir` is not a run or holds no checkpoint, or if its latest
    checkpoint stops short of `train.steps` (unless `partial`).

    Example:
        Export a 2-step VAE run on 2-D points and load it back:

        >>> import tempfile
        >>> from genlab import Trainer, load_config, load_run
        >>> cfg = load_config("vae-digits", ["data.name=8gaussians", "data.n_samples=256", "train.steps=2",
        ...                                  "train.device=cpu", "train.progress=false"])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with Trainer(cfg, f"{tmp}/run") as trainer:
        ...         _ = trainer.fit()
        ...     out = export_run(f"{tmp}/run", f"{tmp}/export")
        ...     files = sorted(p.name for p in out.iterdir())
        ...     shape = load_run(out, "cpu").model.sample(3).shape
        >>> files
        ['README.md', 'config.yaml', 'data_spec.json', 'genlab.json', 'model.safetensors']
        >>> shape
        torch.Size([3, 2])
    """
    run_dir, out = Path(run_dir), Path(out)
    _check_target(run_dir, out, overwrite)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _write(run_dir, tmp, partial, out.name)
        _replace(tmp, out)
    except OSError as err:
        raise DataError(f"cannot write export {out}: {err.strerror or err}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # left only if writing failed
    return out


def _check_target(run_dir: Path, out: Path, overwrite: bool) -> None:
    """One-line ConfigErrors before any work: a missing run, an export given as the run, an `out`
    that holds something, or an `out` whose replacement would delete the run itself."""
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist")
    if is_export(run_dir):
        raise ConfigError(f"{run_dir} is an export already (copy the folder to share it again)")
    if not (run_dir / "checkpoints").is_dir():
        raise ConfigError(f"{run_dir} is not a genlab run folder (no checkpoints/)")
    run, target = run_dir.resolve(), out.resolve()
    if target == run or target in run.parents:
        raise ConfigError(f"export folder {out} would contain run {run_dir}; choose another folder")
    if run in target.parents:  # the run folder holds the run's own files only (--overwrite clears them)
        raise ConfigError(f"export folder {out} is inside run {run_dir}; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"export folder {out} is an existing file")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"export folder {out} is not empty (--overwrite replaces it)")


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished `tmp` to `out`; an existing `out` is renamed aside first and deleted last."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.rename(old)
    try:
        tmp.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)  # put the previous content back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(run_dir: Path, tmp: Path, partial: bool, name: str) -> None:
    """Fill the new folder `tmp` with the export of `run_dir` (upstream runs recursively); `name`:
    the folder's final name, which the model card's commands use."""
    found = load_latest(run_dir / "checkpoints", "cpu", required=RUN_STATE_KEYS)
    if found is None:
        raise ConfigError(f"{run_dir} holds no finished checkpoint (was its training started?)")
    ckpt, _, state = found
    cfg = Config.from_dict(json.loads(state["config"]))
    step = int(state.get("step", 0))
    if step < cfg.train.steps and not partial:
        raise ConfigError(f"run {run_dir} stopped at step {step} of {cfg.train.steps} (resume it, or "
                          "--partial exports it as it is)")
    run = load_run(run_dir, "cpu")  # the model as sampling sees it: EMA weights where kept
    if run.checkpoint != ckpt:  # a checkpoint written between the two reads: the run is still training
        raise DataError(f"run {run_dir} wrote a new checkpoint while being exported; export it again "
                        "when its training has finished")
    tmp.mkdir()
    family = cfg.model.name
    meta_st = {"format": EXPORT_FORMAT, "format_version": str(EXPORT_VERSION),
               "genlab_version": __version__, "family": family, "step": str(step)}
    weights = {k: v.detach().contiguous().cpu() for k, v in run.model.state_dict().items()}
    save_file(weights, tmp / EXPORT_WEIGHTS, metadata=meta_st)
    extra = state["extra"][0] if state["extra"] else {}
    if extra:
        torch.save(extra, tmp / EXPORT_EXTRA)
    (tmp / EXPORT_CONFIG).write_text(cfg.to_yaml())
    spec = json.loads(state["data_spec"])
    pixels = json.loads(state["pixels"]) if state["pixels"] else None
    (tmp / EXPORT_SPEC).write_text(json.dumps({"dataset": cfg.data.name, "spec": spec, "pixels": pixels},
                                              indent=2) + "\n")
    upstream = {}
    for key, folder in MODELS.get(family).upstream_runs(cfg.model.params).items():
        (tmp / EXPORT_UPSTREAM).mkdir(exist_ok=True)
        _write(Path(folder), tmp / EXPORT_UPSTREAM / key, partial, key)
        upstream[key] = {"folder": f"{EXPORT_UPSTREAM}/{key}", "source": str(folder),
                          "config_key": _config_key(cfg, str(folder))}
    evaluation = _read_eval(run_dir / "eval.json")
    if evaluation is not None:
        shutil.copyfile(run_dir / "eval.json", tmp / "eval.json")
    pictures = sorted((run_dir / "samples").glob("step-*.png")) if (run_dir / "samples").is_dir() else []
    latest = pictures[-1] if pictures else None
    for src, dest in ((latest, "samples.png"), (run_dir / "loss.png", "loss.png")):
        if src is not None and src.is_file():
            shutil.copyfile(src, tmp / dest)
    n_params = sum(p.numel() for p in run.model.parameters())
    meta = {
        "format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, "genlab_version": __version__,
        "trained_with_genlab": str(state.get(VERSION_KEY, "")), "family": family, "dataset": cfg.data.name,
        "step": step, "steps": cfg.train.steps, "ema_weights": run.ema_weights, "parameters": n_params,
        "time": state.get("time"), "upstream": upstream,
        "source": {"run": str(run_dir.resolve()), "checkpoint": ckpt.name},
        "weights_sha256": sha256_file(tmp / EXPORT_WEIGHTS),
    }
    (tmp / EXPORT_META).write_text(json.dumps(meta, indent=2) + "\n")
    raw_spec = DataSpec(**{**spec, "shape": tuple(spec["shape"])})
    (tmp / CARD).write_text(model_card(meta, cfg, raw_spec, pixels, evaluation,
                                       sorted(p.name for p in tmp.iterdir()) + [CARD], name))


def _read_eval(path: Path) -> dict[str, Any] | None:
    """The run's eval.json, or None if it has none (or an unreadable one: it is then not exported)."""
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"genlab: warning: {path} cannot be read; exporting without an evaluation", file=sys.stderr)
        return None
    return result if isinstance(result, dict) else None


def _config_key(cfg: Config, folder: str) -> str | None:
    """The `model.KEY` whose value is the upstream `folder` (for the reproduce command)."""
    for field in dataclasses.fields(cfg.model.params):
        if getattr(cfg.model.params, field.name) == folder:
            return f"model.{field.name}"
    return None


# ---------------------------------------------------------------------------------------- model card
def _number(key: str, value: Any) -> str:
    """A metric with its unit: nats, bits/dim, percent for accuracies, 4 significant digits."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if key.endswith("_bits_per_dim"):
        return f"{value:.4f} bits/dim"
    if key.endswith("_nats"):
        return f"{value:.2f} nats"
    if "accuracy" in key:
        return f"{100 * value:.1f} %"
    return f"{value:.4g}"


def _seconds(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "not recorded"
    if value < 10:
        return f"{value:.3g} s"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.2f} h"


def _counts(name: str, section: dict[str, Any]) -> str:
    """How the numbers of an eval.json section were obtained: sample counts, seed, feature net."""
    parts = []
    if name == "likelihood" and "n_test" in section:
        parts.append(f"{section['n_test']:,} {section.get('split', 'test')} examples")
        if "importance_samples" in section:
            parts.append(f"K = {section['importance_samples']:,} importance samples")
    if name == "samples" and "n_fake" in section:
        real = f" vs {section['n_real']:,} {section.get('reference', {}).get('split', 'test')} examples" \
            if "n_real" in section else ""
        parts.append(f"{section['n_fake']:,} generated samples{real}")
        if "nfe" in section:
            parts.append(f"{section['nfe']} network evaluations per sample batch")
    if name == "probe" and "probe_n_train" in section:
        parts.append(f"{section['probe_n_train']:,} training and {section.get('probe_n_test', '?'):,} test "
                     "examples" if isinstance(section.get("probe_n_test"), int)
                     else f"{section['probe_n_train']:,} training examples")
    if "seed" in section:
        parts.append(f"seed {section['seed']}")
    net = section.get("feature_net")
    if isinstance(net, dict) and net.get("sha256"):
        acc = f", test accuracy {100 * net['test_accuracy']:.2f} %" if "test_accuracy" in net else ""
        parts.append(f"features of `{net.get('id', '?')}` (sha256 `{net['sha256']}`{acc})")
    return "; ".join(parts)


def _eval_rows(evaluation: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Markdown lines of the evaluation section and the model-index metrics (name, type, value)."""
    lines, metrics = [], []
    for name, title in _TITLES.items():
        section = evaluation.get(name)
        if not isinstance(section, dict) or not section:
            continue
        if "skipped" in section:
            lines += [f"**{title}**: skipped ({section['skipped']}).", ""]
            continue
        rows = []
        for key, value in section.items():
            if key in _COUNTS or key.endswith("_std") or isinstance(value, (dict, list, bool)):
                continue
            if not isinstance(value, (int, float)) and value not in ("inf", "-inf", "nan"):
                continue
            shown = _number(key, value)
            std = section.get(f"{key}_std")
            if isinstance(std, (int, float)) and isinstance(value, (int, float)):
                shown += f" ± {std:.3g}"
            rows.append(f"| {key} | {shown} |")
            if isinstance(value, (int, float)):
                metrics.append({"type": key, "value": value, "name": f"{title}: {key}"})
        if rows:
            lines += [f"**{title}** ({_counts(name, section)})", "", "| metric | value |", "|---|---|",
                      *rows, ""]
    return lines, metrics


def _front_matter(meta: dict[str, Any], spec: DataSpec, metrics: list[dict[str, Any]],
                  name: str) -> str:
    """YAML metadata the Hub reads: library, tags, and (image models) a model-index of the numbers."""
    data: dict[str, Any] = {"library_name": "genlab",
                            "tags": ["genlab", "generative-model", meta["family"], meta["dataset"]]}
    if spec.is_image:
        data["pipeline_tag"] = "unconditional-image-generation"
        if metrics:
            data["model-index"] = [{"name": name, "results": [{
                "task": {"type": "unconditional-image-generation"},
                "dataset": {"name": meta["dataset"], "type": meta["dataset"], "split": "test"},
                "metrics": metrics}]}]
    return "---\n" + yaml.safe_dump(data, sort_keys=False) + "---\n"


def model_card(meta: dict[str, Any], cfg: Config, spec: DataSpec, pixels: dict[str, Any] | None,
               evaluation: dict[str, Any] | None, files: list[str], folder: str) -> str:
    """The README.md of an export named `folder`: front matter, then model, training, evaluation,
    reproduction, use and files sections (see `export_run`)."""
    family, dataset, step = meta["family"], meta["dataset"], meta["step"]
    title = f"{family}-{dataset}"
    timing = meta.get("time") or {}
    eval_lines, metrics = _eval_rows(evaluation or {})
    weights = "EMA" if meta["ema_weights"] else "raw (the run kept no EMA)"
    shape = "x".join(str(d) for d in spec.shape)
    data_text = (f"{shape} images, {spec.levels} levels" if spec.is_image else f"{shape}-D vectors") + \
        (f", {spec.n_classes} classes" if spec.n_classes else "")
    pix = (f"{pixels['mode']}, range {pixels['range']}" +
           (f", logit alpha {pixels['logit_alpha']}" if pixels.get("logit_alpha") is not None else "")
           if pixels else "none (real vectors)")
    lines = [
        _front_matter(meta, spec, metrics, title),
        f"# {title} (genlab)", "",
        f"A `{family}` model trained with genlab on `{dataset}` for {step:,} steps, "
        f"exported by `genlab export` with genlab {meta['genlab_version']}. It loads with one call and "
        "needs no training data to sample.", "",
        "## Model", "",
        "| | |", "|---|---|",
        f"| family | `{family}` |",
        f"| parameters | {meta['parameters']:,} |",
        f"| weights | `model.safetensors`, {weights} |",
        f"| data | `{dataset}`: {data_text} (`data_spec.json`) |",
        f"| pixel transform | {pix} |",
    ]
    for name, up in meta["upstream"].items():
        lines.append(f"| upstream `{name}` | [`{up['folder']}/`]({up['folder']}/README.md), loaded from "
                     "inside this folder |")
    lines += [
        "", "## Training", "",
        "| | |", "|---|---|",
        f"| steps | {step:,} of {meta['steps']:,}{' (stopped early)' if step < meta['steps'] else ''} |",
        f"| batch size | {cfg.data.batch_size} |",
        f"| device | {cfg.train.device} |",
        f"| wall time | {_seconds(timing.get('wall_s'))} |",
        f"| CPU time | {_seconds(timing.get('cpu_s'))} (training process, all threads) |",
        f"| seed | {cfg.train.seed} |",
        f"| genlab | {meta['trained_with_genlab']} (trained), {meta['genlab_version']} (exported) |",
        "", "## Evaluation", "",
    ]
    if evaluation is None:
        lines += ["The run was not evaluated before export (`genlab eval RUN` writes `eval.json`).", ""]
    else:
        source = str(evaluation.get("checkpoint", ""))
        same = Path(source).name == meta["source"]["checkpoint"]
        lines += [f"From `eval.json` (`genlab eval`, {'EMA' if evaluation.get('ema_weights') else 'raw'} "
                  f"weights, checkpoint `{Path(source).name or '?'}`"
                  + ("" if same else ": NOT the exported checkpoint, the numbers are of an earlier one")
                  + ").", "", *eval_lines]
    lines += ["## Reproduce", "", "```sh"]
    for name, up in meta["upstream"].items():
        lines.append(f"# first the upstream run {name}: see {up['folder']}/README.md, e.g.")
        lines.append(f"genlab train {up['folder']}/config.yaml --out {name.upper()}_RUN")
    key = [f"{up['config_key']}={name.upper()}_RUN" for name, up in meta["upstream"].items()
           if up.get("config_key")]
    data_dir = " --data-dir DATA_DIR" if cfg.data.data_dir else ""
    lines.append(" ".join(["genlab train config.yaml", *key, f"--out RUN{data_dir}"]))
    flags = _eval_flags(evaluation or {})
    lines += [f"genlab eval RUN{flags}", "```", "",
              "`config.yaml` is the run's complete config, seed included: the same genlab and library "
              "versions on the same hardware should repeat the run; elsewhere expect the numbers to "
              "differ by training noise.", ""]
    lines += ["## Use", "", "```python", "import genlab, torch", "",
              f'run = genlab.load_run("{folder}")  # this folder', "torch.manual_seed(0)",
              "x = run.model.sample(16)  # model-input space; run.pixels maps images back", "```", "",
              "```sh", f"genlab sample {folder} -n 64 -o samples.png",
              f"genlab eval {folder}  # without the dataset: sampling checks; --data-dir DIR: all metrics",
              "```", ""]
    if "samples.png" in files:
        lines += ["![samples](samples.png)", ""]
    lines += ["## Files", "", *[f"- `{f}/`" if f == EXPORT_UPSTREAM else f"- `{f}`" for f in files], ""]
    return "\n".join(lines)


def _eval_flags(evaluation: dict[str, Any]) -> str:
    """`genlab eval` flags that give the same sample counts as `evaluation`."""
    flags = []
    like, samples, probe = (evaluation.get(k) or {} for k in ("likelihood", "samples", "probe"))
    if isinstance(like.get("n_test"), int):
        flags.append(f"--n-test {like['n_test']}")
    if isinstance(like.get("importance_samples"), int):
        flags.append(f"--importance-samples {like['importance_samples']}")
    if isinstance(samples.get("n_fake"), int):
        flags.append(f"--n-samples {samples['n_fake']}")
    if isinstance(samples.get("n_real"), int) and "feature_net" in samples:
        flags.append(f"--n-real {samples['n_real']}")
    if isinstance(probe.get("probe_n_train"), int) and probe.get("probe_n_test") == probe["probe_n_train"]:
        flags.append(f"--probe-n {probe['probe_n_train']}")
    return "".join(f" {f}" for f in flags)


__all__ = ["export_run", "model_card"]
