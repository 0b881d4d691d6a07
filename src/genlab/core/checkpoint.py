"""Crash-safe checkpoints: weights in safetensors, the rest in a weights-only torch file.

Layout: RUN/checkpoints/step-000500/{model.safetensors, state.pt} plus RUN/checkpoints/latest, a
one-line pointer. A checkpoint is written into a temporary folder, flushed to disk, then renamed;
the pointer is replaced atomically last. Killing the process at any moment therefore leaves the
previous checkpoint and pointer intact. `state.pt` holds only tensors, numbers, strings, lists and
dicts, so it loads with `torch.load(weights_only=True)`: no pickled code is ever executed.

Every checkpoint records the genlab version that wrote it (`genlab_version` in state.pt); loading
one written before `FIRST_LOADABLE` (or with no version: genlab 0.1.0) is a one-line ConfigError,
since its config and weights follow an older layout.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from genlab import __version__
from genlab.core.errors import ConfigError, DataError

FIRST_LOADABLE = "0.2.0"  # 0.2.0 changed the config layout (GAN options under model.critic.*)
VERSION_KEY = "genlab_version"
WEIGHTS, STATE, POINTER = "model.safetensors", "state.pt", "latest"
STEP_NAME = re.compile(r"step-[0-9]{7,12}")  # the only thing `latest` may name
_POINTER_MAX = 64  # bytes read from `latest`; a valid pointer is ~20


def _warn(msg: str) -> None:
    print(f"genlab: warning: {msg}", file=sys.stderr)


def _tensor_bytes(obj: Any) -> int:
    """Bytes of every tensor inside nested dicts/lists: what a checkpoint needs on disk, roughly."""
    if isinstance(obj, Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def _remove(path: Path) -> None:
    """Delete a folder by renaming it to a hidden name first, so a kill midway never leaves a
    half-deleted `step-*` folder that looks like a checkpoint."""
    trash = path.with_name(f".del-{path.name}-{os.getpid()}")
    try:
        path.rename(trash)
    except OSError:
        trash = path
    shutil.rmtree(trash, ignore_errors=True)


def clean_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Remove leftovers of killed saves and deletions (hidden temp folders, incomplete `step-*`
    folders); call only while holding the run lock. Returns what was removed."""
    if not ckpt_dir.is_dir():
        return []
    removed = []
    for p in ckpt_dir.iterdir():
        stale = p.name.startswith((".tmp-", ".old-", ".del-", f".{POINTER}.tmp-"))
        incomplete = (p.name.startswith("step-") and p.is_dir()
                      and not ((p / WEIGHTS).is_file() and (p / STATE).is_file()))
        if stale or incomplete:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


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
    try:
        tmp.mkdir()
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, tmp / WEIGHTS)
        torch.save({**state, VERSION_KEY: __version__}, tmp / STATE)
        for f in (tmp / WEIGHTS, tmp / STATE, tmp):
            _fsync(f)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)  # the previous checkpoint and pointer are untouched
        if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            need = (_tensor_bytes(weights) + _tensor_bytes(state)) / 2**20
            raise DataError(f"disk full writing checkpoint {final}: it needs about {need:.1f} MiB "
                            "free (one checkpoint beside the kept ones); previous checkpoint kept") from None
        raise
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
        _remove(old)
    return final


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not ckpt_dir.is_dir():
        return []
    done = [p for p in ckpt_dir.glob("step-*") if STEP_NAME.fullmatch(p.name)
            and (p / WEIGHTS).is_file() and (p / STATE).is_file()]
    return sorted(done)


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The folder `latest` points at, else the newest complete one, else None."""
    name = _read_pointer(ckpt_dir / POINTER)
    if name is not None:
        target = ckpt_dir / name
        if (target / WEIGHTS).is_file() and (target / STATE).is_file():
            return target
        _warn(f"{ckpt_dir / POINTER} names {name}, which is incomplete; using the newest complete checkpoint")
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def _read_pointer(pointer: Path) -> str | None:
    """The `step-NNNNNNN` name in `latest`, or None (with a warning) if it holds anything else:
    a pointer is never followed outside the checkpoints folder."""
    if not pointer.exists() and not pointer.is_symlink():
        return None
    try:
        if pointer.is_symlink() or not pointer.is_file():
            raise ValueError("not a plain file")
        with open(pointer, "rb") as f:
            raw = f.read(_POINTER_MAX + 1)
        name = raw.decode("ascii").strip()
        if len(raw) > _POINTER_MAX or not STEP_NAME.fullmatch(name):
            raise ValueError("not a step-NNNNNNN name")
    except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        _warn(f"ignoring {pointer} ({str(err).splitlines()[0][:80]}); using the newest complete checkpoint")
        return None
    return name


def release(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a version string such as "0.2.0" or "0.2.0.dev1"; (0, 0, 0) if none."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    return (int(m[1]), int(m[2]), int(m[3] or 0)) if m else (0, 0, 0)


def check_version(path: Path, state: Any) -> None:
    """ConfigError unless checkpoint `path` was written by genlab FIRST_LOADABLE or later."""
    written = state.get(VERSION_KEY) if isinstance(state, dict) else None
    if not isinstance(written, str) or release(written) < release(FIRST_LOADABLE):
        run = path.parent.parent  # RUN/checkpoints/step-N
        raise ConfigError(f"{run}: run written by genlab {written or '0.1.0'} (before {FIRST_LOADABLE}'s "
                          "config layout); retrain it")


def load_checkpoint(path: Path, device: torch.device | str = "cpu"):
    """(weights, state) of one checkpoint folder; DataError if it is unreadable, ConfigError if an
    older genlab wrote it (see `check_version`)."""
    try:
        weights = load_file(path / WEIGHTS, device=str(device))
        state = torch.load(path / STATE, map_location=device, weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused an object: never retry unsafely
        raise DataError(f"{path / STATE} is not a genlab checkpoint or was written by an untrusted tool; "
                        "refusing to unpickle it") from None
    except Exception as err:  # safetensors/torch raise many types for damaged files
        raise DataError(f"cannot load checkpoint {path}: {err}") from None
    check_version(path, state)
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
