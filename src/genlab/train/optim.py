"""Optimizers and learning-rate schedules built from `OptimConfig`."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from genlab.config import OptimConfig
from genlab.core.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "warmup", "cosine", "piecewise")


def build_optimizer(params: list[nn.Parameter], cfg: OptimConfig) -> torch.optim.Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(params, cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                 weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, cfg.lr, alpha=cfg.betas[1], eps=cfg.eps,
                                   momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {cfg.name!r}; choose one of: {', '.join(OPTIMIZERS)}")


def piecewise_linear(knots: dict[int, float]) -> Callable[[int], float]:
    """Multiplier interpolated linearly between {step: value} knots, constant after the last.

    As in bert4keras' piecewise-linear schedule (https://kexue.fm/archives/7094): a knot (0, 0) is
    added when 0 is missing, so {1000: 1} is a linear warm-up from 0 over 1000 steps.
    """
    pts = sorted({0: 0.0, **{int(k): float(v) for k, v in knots.items()}}.items())

    def f(t: int) -> float:
        for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
            if t < t1:
                return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return pts[-1][1]

    return f


def lr_multiplier(cfg: OptimConfig, total_steps: int) -> Callable[[int], float] | None:
    """The schedule as a function of the optimizer step, or None for a constant rate."""
    warm = cfg.warmup_steps
    if cfg.schedule == "constant":
        return (lambda t: min(1.0, (t + 1) / warm)) if warm > 0 else None
    if cfg.schedule == "warmup":
        if warm <= 0:
            raise ConfigError("schedule=warmup needs warmup_steps > 0")
        return lambda t: min(1.0, (t + 1) / warm)
    if cfg.schedule == "cosine":
        def cosine(t: int) -> float:
            if t < warm:
                return (t + 1) / warm
            progress = min(1.0, (t - warm) / max(1, total_steps - warm))
            return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        return cosine
    if cfg.schedule == "piecewise":
        if not cfg.knots:
            raise ConfigError("schedule=piecewise needs knots, e.g. {1000: 1.0, 5000: 0.1}")
        return piecewise_linear(cfg.knots)
    raise ConfigError(f"unknown schedule {cfg.schedule!r}; choose one of: {', '.join(SCHEDULES)}")


def build_scheduler(opt: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int):
    f = lr_multiplier(cfg, total_steps)
    return None if f is None else torch.optim.lr_scheduler.LambdaLR(opt, f)
