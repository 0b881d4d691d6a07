"""The optimizers a config can name, each with its own typed options (lr is common to all)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import Optimizer

from genlab.core.checks import check_range
from genlab.optim.dynamics import DampedDynamicsSGD
from genlab.optim.heun import Heun
from genlab.optim.registry import register_optimizer

Groups = list[dict[str, Any]]


def _check_betas(betas: tuple[float, float]) -> None:
    if len(betas) != 2:
        raise ValueError(f"betas must be two numbers, got {betas!r}")
    for b in betas:
        check_range("betas", b, 0.0, 1.0, high_open=True)


@dataclass
class AdamOptions:
    """torch.optim.Adam / AdamW (Kingma & Ba, arXiv:1412.6980; Loshchilov & Hutter, arXiv:1711.05101).

    Example:
        >>> AdamOptions(betas=(0.5, 0.9)).betas
        (0.5, 0.9)
        >>> AdamOptions(betas=(1.0, 0.9))
        Traceback (most recent call last):
            ...
        genlab.core.errors.ConfigError: betas must be a finite number in [0, 1), got 1.0
    """

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0  # adam: L2 added to the gradient; adamw: decoupled
    amsgrad: bool = False
    fused: bool = False  # one fused kernel per step: fastest on CPU and CUDA, not bit-identical to foreach

    def __post_init__(self) -> None:
        _check_betas(self.betas)
        check_range("eps", self.eps, 0.0, low_open=True)
        check_range("weight_decay", self.weight_decay, 0.0)


@dataclass
class SGDOptions:
    """torch.optim.SGD with heavy-ball or Nesterov momentum.

    Example:
        >>> SGDOptions(momentum=0.9, nesterov=True).nesterov
        True
        >>> SGDOptions(nesterov=True)
        Traceback (most recent call last):
            ...
        ValueError: nesterov needs momentum > 0
    """

    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check_range("momentum", self.momentum, 0.0, 1.0)
        check_range("weight_decay", self.weight_decay, 0.0)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov needs momentum > 0")


@dataclass
class RMSpropOptions:
    """torch.optim.RMSprop; alpha is the decay of the squared-gradient average (torch's default 0.99).

    Example:
        >>> RMSpropOptions(alpha=0.9).alpha
        0.9
        >>> RMSpropOptions(alpha=1.0)
        Traceback (most recent call last):
            ...
        genlab.core.errors.ConfigError: alpha must be a finite number in [0, 1), got 1.0
    """

    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check_range("alpha", self.alpha, 0.0, 1.0, high_open=True)
        check_range("eps", self.eps, 0.0, low_open=True)
        check_range("momentum", self.momentum, 0.0, 1.0)
        check_range("weight_decay", self.weight_decay, 0.0)


@dataclass
class HeunOptions:
    """Heun's two-gradient step (https://kexue.fm/archives/5879); needs a closure, no options.

    Example:
        >>> from genlab.optim import OptimConfig, needs_closure
        >>> needs_closure(OptimConfig("heun", options=HeunOptions()))
        True
    """


@dataclass
class DampedOptions:
    """`DampedDynamicsSGD` from (lr, momentum) (https://kexue.fm/archives/5655).

    nesterov: none, "standard" (torch SGD's) or "half" (the article's half look-ahead).

    Example:
        >>> DampedOptions(momentum=0.9, nesterov="half").nesterov
        'half'
        >>> DampedOptions(momentum=0.0)
        Traceback (most recent call last):
            ...
        ValueError: momentum must be a finite number in (0, 1], got 0.0
    """

    momentum: float = 0.9
    nesterov: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.momentum, (int, float)) and math.isfinite(self.momentum)
                and 0.0 < self.momentum <= 1.0):
            raise ValueError(f"momentum must be a finite number in (0, 1], got {self.momentum!r}")
        if self.nesterov not in (None, "standard", "half"):
            raise ValueError(f"nesterov must be null, standard or half, got {self.nesterov!r}")


# foreach=True: one multi-tensor kernel per step instead of a Python loop over parameters. PyTorch only
# picks it by itself for CUDA tensors; on CPU it gives bit-identical results to the loop, only faster
# for models with many small tensors. fused=True is faster still but not bit-identical to the loop, so
# Adam/AdamW offer it as an option (`optim.<group>.fused: true`) rather than a default.
FOREACH = {"foreach": True}


def _adam_kernel(o: AdamOptions) -> dict[str, bool]:
    return {"fused": True} if o.fused else FOREACH


@register_optimizer("adam", AdamOptions)
def adam(groups: Groups, lr: float, o: AdamOptions) -> Optimizer:
    """torch.optim.Adam (foreach kernels, or fused when `o.fused`).

    Example:
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = adam([{"params": [w]}], 0.1, AdamOptions())
        >>> (w**2).sum().backward(); opt.step()
        >>> w.detach()  # Adam's first step moves every entry by lr
        tensor([0.9000, 0.9000])
    """
    return torch.optim.Adam(groups, lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay,
                            amsgrad=o.amsgrad, **_adam_kernel(o))


@register_optimizer("adamw", AdamOptions)
def adamw(groups: Groups, lr: float, o: AdamOptions) -> Optimizer:
    """torch.optim.AdamW: Adam with decoupled weight decay.

    Example:
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> w.grad = torch.zeros(2)
        >>> adamw([{"params": [w]}], 0.1, AdamOptions(weight_decay=0.5)).step()
        >>> w.detach()  # zero gradient: only the decay, 1 - 0.1 * 0.5
        tensor([0.9500, 0.9500])
    """
    return torch.optim.AdamW(groups, lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay,
                             amsgrad=o.amsgrad, **_adam_kernel(o))


@register_optimizer("sgd", SGDOptions)
def sgd(groups: Groups, lr: float, o: SGDOptions) -> Optimizer:
    """torch.optim.SGD with foreach kernels.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> opt = sgd([{"params": [w]}], 0.1, SGDOptions(momentum=0.9))
        >>> for _ in range(2):
        ...     w.grad = torch.ones(1); opt.step()
        >>> w.detach()  # -0.1 * (1 + 1.9)
        tensor([-0.2900])
    """
    return torch.optim.SGD(groups, lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay,
                           **FOREACH)


@register_optimizer("rmsprop", RMSpropOptions)
def rmsprop(groups: Groups, lr: float, o: RMSpropOptions) -> Optimizer:
    """torch.optim.RMSprop with foreach kernels.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> w.grad = torch.full((1,), 3.0)
        >>> rmsprop([{"params": [w]}], 0.1, RMSpropOptions(alpha=0.75)).step()
        >>> w.detach()  # lr * g / sqrt((1 - alpha) g^2) = 0.1 / 0.5
        tensor([-0.2000])
    """
    return torch.optim.RMSprop(groups, lr, alpha=o.alpha, eps=o.eps, momentum=o.momentum,
                               weight_decay=o.weight_decay, **FOREACH)


@register_optimizer("heun", HeunOptions, needs_closure=True)
def heun(groups: Groups, lr: float, o: HeunOptions) -> Optimizer:
    """`Heun` (its `step` needs a closure).

    Example:
        >>> w = torch.nn.Parameter(torch.ones(1))
        >>> opt = heun([{"params": [w]}], 0.1, HeunOptions())
        >>> def closure():
        ...     opt.zero_grad(); loss = (w**2).sum() / 2; loss.backward(); return loss
        >>> _ = opt.step(closure)
        >>> round(w.item(), 6)  # 1 - lr + lr^2 / 2
        0.905
    """
    return Heun(groups, lr)


@register_optimizer("damped", DampedOptions)
def damped(groups: Groups, lr: float, o: DampedOptions) -> Optimizer:
    """`DampedDynamicsSGD` built from (lr, momentum).

    Example:
        >>> groups = [{"params": [torch.nn.Parameter(torch.zeros(1))]}]
        >>> opt = damped(groups, 0.01, DampedOptions(momentum=0.9))
        >>> round(opt.defaults["lr"], 6), round(opt.defaults["momentum"], 6)  # via (gamma, lam) and back
        (0.01, 0.9)
    """
    return DampedDynamicsSGD.from_momentum(groups, lr, o.momentum, o.nesterov)  # type: ignore[arg-type]
