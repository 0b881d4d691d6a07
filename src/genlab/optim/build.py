"""Build a group's optimizer (base, then wrappers innermost first) and LR scheduler from `OptimConfig`."""

from __future__ import annotations

import dataclasses

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from genlab.optim.config import OptimConfig
from genlab.optim.param_sets import GroupValue, torch_param_groups
from genlab.optim.registry import OPTIMIZERS, SCHEDULES, WRAPPERS


def build_optimizer(params: GroupValue, cfg: OptimConfig) -> Optimizer:
    """`params`: a list of parameters or of parameter-set dicts (see `genlab.optim.param_sets`).

    Example:
        >>> import torch
        >>> from genlab.optim import optim_from_dict
        >>> cfg = optim_from_dict({"name": "sgd", "lr": 0.1, "momentum": 0.9, "wrappers": ["lookahead"]})
        >>> opt = build_optimizer([torch.nn.Parameter(torch.zeros(2))], cfg)
        >>> opt.k, opt.base.defaults["momentum"], opt.param_groups[0]["lr"]  # Lookahead around SGD
        (5, 0.9, 0.1)
    """
    entry = OPTIMIZERS.get(cfg.name)
    has_wd = "weight_decay" in {f.name for f in dataclasses.fields(entry.options)}
    opt = entry.build(torch_param_groups(params, cfg.lr, has_wd), cfg.lr, cfg.options)
    for w in cfg.wrappers:
        opt = WRAPPERS.get(w.name).build(opt, w.options)
    return opt


def build_scheduler(opt: Optimizer, cfg: OptimConfig, total_steps: int) -> LambdaLR | None:
    """A `LambdaLR` (multiplies each group's initial lr, so lr_scale ratios hold), or None if constant.

    Example:
        >>> import torch
        >>> from genlab.optim import optim_from_dict
        >>> cfg = optim_from_dict({"lr": 1.0, "schedule": "cosine", "warmup_steps": 2})
        >>> opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], cfg)
        >>> sched = build_scheduler(opt, cfg, total_steps=6)
        >>> [round(sched.lr_lambdas[0](t), 3) for t in range(6)]
        [0.5, 1.0, 1.0, 0.854, 0.5, 0.146]
    """
    f = SCHEDULES.get(cfg.schedule).multiplier(cfg.schedule_options, total_steps)
    return None if f is None else LambdaLR(opt, f)


def needs_closure(cfg: OptimConfig) -> bool:
    """Whether `step()` of this group's optimizer must be given a loss closure (e.g. heun).

    Example:
        >>> needs_closure(OptimConfig("heun")), needs_closure(OptimConfig("adam"))
        (True, False)
    """
    return OPTIMIZERS.get(cfg.name).needs_closure
