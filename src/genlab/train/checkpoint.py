"""Crash-safe checkpoints: weights in safetensors, the rest in a weights-only torch file.

Layout: RUN/checkpoints/step-000500/{model.safetensors, state.pt} plus RUN/checkpoints/latest, a
one-line pointer. A checkpoint is written into a temporary folder, flushed to disk, then renamed;
the pointer is replaced atomically last. Killing the process at any moment therefore leaves the
previous checkpoint and pointer intact. `state.pt` holds only tensors, numbers, strings, lists and
dicts, so it loads with `torch.load(weights_only=True)`: no pickled code is ever executed.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from genlab.core.errors import ConfigError, DataError

WEIGHTS, STATE, POINTER = "model.safetensors", "state.pt", "latest"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(ckpt_dir: Path, step: int, weights: dict[str, Tensor], state: dict[str, Any],
                    keep: int = 2) -> Path:
    """Write checkpoint `step` atomically, point `latest` at it, keep the newest `keep`."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"step-{step:07d}"
    tmp = ckpt_dir / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, tmp / WEIGHTS)
    torch.save(state, tmp / STATE)
    for f in (tmp / WEIGHTS, tmp / STATE, tmp):
        _fsync(f)
    if final.exists():  # re-saving the same step (e.g. after a resume): swap it out first
        old = ckpt_dir / f".old-{final.name}-{os.getpid()}"
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)
    pointer_tmp = ckpt_dir / f".{POINTER}.tmp-{os.getpid()}"
    pointer_tmp.write_text(final.name + "\n")
    _fsync(pointer_tmp)
    os.replace(pointer_tmp, ckpt_dir / POINTER)
    _fsync(ckpt_dir)
    for old in list_checkpoints(ckpt_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not ckpt_dir.is_dir():
        return []
    done = [p for p in ckpt_dir.glob("step-*") if (p / WEIGHTS).is_file() and (p / STATE).is_file()]
    return sorted(done)


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The folder `latest` points at, else the newest complete one, else None."""
    pointer = ckpt_dir / POINTER
    if pointer.is_file():
        target = ckpt_dir / pointer.read_text().strip()
        if (target / WEIGHTS).is_file() and (target / STATE).is_file():
            return target
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def load_checkpoint(path: Path, device: torch.device | str = "cpu"):
    """(weights, state) of one checkpoint folder; DataError if it is unreadable."""
    try:
        weights = load_file(path / WEIGHTS, device=str(device))
        state = torch.load(path / STATE, map_location=device, weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused an object: never retry unsafely
        raise DataError(f"{path / STATE} is not a genlab checkpoint or was written by an untrusted tool; "
                        "refusing to unpickle it") from None
    except Exception as err:  # safetensors/torch raise many types for damaged files
        raise DataError(f"cannot load checkpoint {path}: {err}") from None
    return weights, state


def check_weights_fit(expected: dict[str, Tensor], weights: dict[str, Tensor], path: Path) -> None:
    """ConfigError naming the keys where checkpoint `path` and the configured model disagree."""
    problems = [f"{k}: {tuple(weights[k].shape)} in the checkpoint, {tuple(v.shape)} in the model"
                for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    problems += [f"{k}: missing from the checkpoint" for k in expected if k not in weights]
    problems += [f"{k}: in the checkpoint, not in the model" for k in weights if k not in expected]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ConfigError(f"checkpoint {path} does not fit the configured model (were model options "
                          f"changed?): {'; '.join(problems[:3])}{more}")
