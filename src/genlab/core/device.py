"""Device names from configs and the command line (`auto`, `cpu`, `cuda`, `cuda:N`) -> `torch.device`."""

from __future__ import annotations

import re

import torch

from genlab.core.errors import ConfigError

# What train.device (and --device) may say; checked when the config is built, before CUDA is asked.
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(key: str, name: str) -> None:
    """ConfigError unless `name` is auto, cpu, cuda or cuda:N (`key` names the option)."""
    if not isinstance(name, str) or not DEVICE_PATTERN.fullmatch(name):
        raise ConfigError(f"bad {key} {name!r}; use auto, cpu, cuda or cuda:N")


def resolve_device(name: str, local_rank: int = 0, key: str = "train.device") -> torch.device:
    """The device `name` means in this process: `auto` is CUDA when available, else the CPU; bare
    `cuda` is this process's GPU under torchrun (`local_rank`). ConfigError naming `key` if `name` is
    malformed, or names CUDA where there is none."""
    check_device(key, name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"{key}={name} but no CUDA device is available; use auto or cpu")
    return torch.device(name)


__all__ = ["DEVICE_PATTERN", "check_device", "resolve_device"]
