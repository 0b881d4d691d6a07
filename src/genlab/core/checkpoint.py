"""Crash-safe checkpoints: weights in safetensors, the rest in a weights-only torch file.

Layout: RUN/checkpoints/step-000500/{model.safetensors, state.pt} plus RUN/checkpoints/latest, a
one-line pointer. A checkpoint is written into a temporary folder, flushed to disk, then renamed;
the pointer is replaced atomically last. Killing the process at any moment therefore leaves the
previous checkpoint and pointer intact. `state.pt` holds only tensors, numbers, strings, lists and
dicts, so it loads with `torch.load(weights_only=True)`: no pickled code is ever executed.

Every checkpoint records the genlab version that wrote it (`genlab_version` in state.pt); loading
one written before `FIRST_LOADABLE` (or with no version: genlab 0.1.0) is a one-line ConfigError,
since its config and weights follow an older layout.

Reading is confined to the run: a `checkpoints/` folder, `step-*` folder or checkpoint file that is a
symbolic link is ignored with a warning (it could hold another run's model), and `load_latest` falls
back, with a warning naming it, from a checkpoint that cannot be loaded (truncated by a full disk or a
copy) to the newest one that can.
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


def checkpoint_step(path: Path) -> int:
    """The training step of a checkpoint folder (`step-000500` -> 500)."""
    if not STEP_NAME.fullmatch(path.name):
        raise ValueError(f"{path} is not a checkpoint folder (step-NNNNNNN)")
    return int(path.name.partition("-")[2])


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
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)  # the previous checkpoint and pointer are untouched
        # torch's zip writer reports a full disk as a RuntimeError ("unexpected pos ..."), not ENOSPC
        if isinstance(err, (OSError, RuntimeError)):
            need = _tensor_bytes(weights) + _tensor_bytes(state)
            full = isinstance(err, OSError) and err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
            if full or _free_bytes(ckpt_dir) < need:
                raise DataError(f"disk full writing checkpoint {final}: it needs about {need / 2**20:.1f} "
                                "MiB free (one checkpoint beside the kept ones); previous checkpoint kept"
                                ) from None
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DataError(f"cannot write checkpoint {final}: {first}; previous checkpoint kept") from None
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


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


def _complete(folder: Path) -> bool:
    """A checkpoint folder with both files, none of them a symbolic link."""
    files = (folder / WEIGHTS, folder / STATE)
    return not folder.is_symlink() and all(f.is_file() and not f.is_symlink() for f in files)


def _confined(ckpt_dir: Path) -> bool:
    """Whether `ckpt_dir` may be read: a real folder, not a link to somewhere else (warned once)."""
    if ckpt_dir.is_symlink():
        _warn(f"ignoring {ckpt_dir}: it is a symbolic link (to {os.readlink(ckpt_dir)}), so its checkpoints "
              "may belong to another run")
        return False
    return ckpt_dir.is_dir()


def list_checkpoints(ckpt_dir: Path, warn: bool = False) -> list[Path]:
    """Complete checkpoint folders, oldest first; symbolic links are never listed (`warn`: say so)."""
    if not ckpt_dir.is_dir() or ckpt_dir.is_symlink():
        return []
    done = []
    for p in ckpt_dir.glob("step-*"):
        if not STEP_NAME.fullmatch(p.name):
            continue
        if _complete(p):
            done.append(p)
        elif warn and (p.is_symlink() or (p / WEIGHTS).is_symlink() or (p / STATE).is_symlink()):
            _warn(f"ignoring {p}: a symbolic link may point at another run's checkpoint")
    return sorted(done)


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The folder `latest` points at, else the newest complete one, else None (links never followed)."""
    return next(iter(_newest_first(ckpt_dir)), None)


def _newest_first(ckpt_dir: Path) -> list[Path]:
    """Loadable-looking checkpoints in the order to try them: `latest`'s target, then newest first."""
    if not _confined(ckpt_dir):
        return []
    found = list_checkpoints(ckpt_dir, warn=True)[::-1]
    name = _read_pointer(ckpt_dir / POINTER)
    if name is not None:
        target = ckpt_dir / name
        if target in found:
            return [target] + [p for p in found if p != target]
        _warn(f"{ckpt_dir / POINTER} names {name}, which is incomplete or a link; using the newest "
              "complete checkpoint")
    return found


def load_latest(ckpt_dir: Path, device: torch.device | str = "cpu", required: tuple[str, ...] = ()
                ) -> tuple[Path, dict[str, Tensor], dict[str, Any]] | None:
    """(path, weights, state) of the newest checkpoint that loads and whose state has the `required`
    keys, or None if there is no checkpoint. A newer one that fails (truncated, corrupt) is named in a
    warning, never skipped silently; DataError if every one fails."""
    tried: list[str] = []
    for path in _newest_first(ckpt_dir):
        try:
            weights, state = load_checkpoint(path, device, required)
        except DataError as err:
            tried.append(str(err))
            continue
        for problem in tried:
            _warn(f"{problem}; using the older checkpoint {path.name} instead")
        return path, weights, state
    if tried:
        raise DataError(tried[0] if len(tried) == 1 else
                        f"no checkpoint in {ckpt_dir} can be loaded: {'; '.join(tried)}")
    return None


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


def load_checkpoint(path: Path, device: torch.device | str = "cpu", required: tuple[str, ...] = ()):
    """(weights, state) of one checkpoint folder; DataError if it is unreadable or its state lacks a
    `required` key, ConfigError if an older genlab wrote it (see `check_version`)."""
    try:
        weights = load_file(path / WEIGHTS, device=str(device))
        state = torch.load(path / STATE, map_location=device, weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused an object: never retry unsafely
        raise DataError(f"{path / STATE} is not a genlab checkpoint or was written by an untrusted tool; "
                        "refusing to unpickle it") from None
    except Exception as err:  # safetensors/torch raise many types for damaged files
        raise DataError(f"cannot load checkpoint {path}: {err}") from None
    missing = [k for k in required if not isinstance(state, dict) or k not in state]
    if missing or not isinstance(state, dict):
        what = ", ".join(missing) or "dict"
        raise DataError(f"{path / STATE} is not a genlab checkpoint state (no {what})")
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
