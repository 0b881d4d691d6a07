"""Integrators for dx/dt = f(t, x) that report their number of function evaluations (NFE).

Fixed-step methods on a uniform grid of `steps` steps, h = (t1 - t0) / steps (negative when t runs
backwards), each an explicit Runge-Kutta rule (Hairer, Norsett & Wanner, "Solving Ordinary
Differential Equations I", sec. II.1):

* euler: x + h k1; order 1, NFE = steps;
* midpoint: x + h f(t + h/2, x + h/2 k1); order 2, NFE = 2 steps;
* heun (trapezoid): x + h/2 (k1 + f(t + h, x + h k1)); order 2, NFE = 2 steps;
* rk4 (classical Runge-Kutta): x + h/6 (k1 + 2 k2 + 2 k3 + k4); order 4, NFE = 4 steps.

(k1 = f(t, x).) Heun's second slope is taken at the Euler predictor, not at the accepted point, so
no evaluation is shared between steps: always 2 * steps (samplers such as Karras et al. 2022's skip
the last correction; this one does not). `genlab.optim.Heun` is the same trapezoid rule on the
gradient flow dp/dt = -grad L, but it updates parameters in place through loss closures with fused
foreach kernels; it keeps its own code rather than calling `heun_step`, which works on plain
tensors.

Adaptive: "dopri5", the Dormand-Prince 5(4) pair (Dormand & Prince 1980) of `torchdiffeq.odeint`
(Chen et al. 2018, arXiv:1806.07366) with tolerances `atol`, `rtol`; its NFE is counted by
wrapping f.

The state may be one tensor or a tuple of tensors (e.g. (x, log-density) for the likelihood
integral); f gets t as a 0-dim tensor of the state's dtype and device and returns dx/dt of the same
structure. Gradients flow through the solver if the caller's autograd mode allows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from genlab.core.checks import check_int, check_range
from genlab.core.errors import ConfigError
from genlab.core.registry import Registry

State = Tensor | tuple[Tensor, ...]
VectorField = Callable[[Tensor, State], State]
Step = Callable[[VectorField, Tensor, State, Tensor], State]
Method = Literal["euler", "midpoint", "heun", "rk4", "dopri5"]
FIXED_NFE_PER_STEP = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}


def _axpy(x: State, h: Tensor | float, *ks: tuple[float, State]) -> State:
    """x + h * sum(c * k) for each tensor of the state (a tuple state is handled leaf by leaf)."""
    if isinstance(x, Tensor):
        return x + h * sum(c * k for c, k in ks)  # type: ignore[operator]
    return tuple(xi + h * sum(c * k[i] for c, k in ks) for i, xi in enumerate(x))  # type: ignore[index]


STEPS: Registry[Step] = Registry("fixed-step ODE method")


@STEPS.register("euler")
def euler_step(f: VectorField, t: Tensor, x: State, h: Tensor) -> State:
    return _axpy(x, h, (1.0, f(t, x)))


@STEPS.register("midpoint")
def midpoint_step(f: VectorField, t: Tensor, x: State, h: Tensor) -> State:
    k1 = f(t, x)
    return _axpy(x, h, (1.0, f(t + h / 2, _axpy(x, h / 2, (1.0, k1)))))


@STEPS.register("heun")
def heun_step(f: VectorField, t: Tensor, x: State, h: Tensor) -> State:
    k1 = f(t, x)
    k2 = f(t + h, _axpy(x, h, (1.0, k1)))
    return _axpy(x, h, (0.5, k1), (0.5, k2))


@STEPS.register("rk4")
def rk4_step(f: VectorField, t: Tensor, x: State, h: Tensor) -> State:
    k1 = f(t, x)
    k2 = f(t + h / 2, _axpy(x, h / 2, (1.0, k1)))
    k3 = f(t + h / 2, _axpy(x, h / 2, (1.0, k2)))
    k4 = f(t + h, _axpy(x, h, (1.0, k3)))
    return _axpy(x, h, (1 / 6, k1), (1 / 3, k2), (1 / 3, k3), (1 / 6, k4))


@dataclass
class ODESolution:
    """`x`: the state at t1; `nfe`: calls of f; with `trajectory=True`, `times` (steps + 1,) and
    `trajectory`, the states at those times stacked on a new first axis (one tensor per leaf for a
    tuple state)."""

    x: State
    nfe: int
    method: str
    times: Tensor | None = None
    trajectory: State | None = None


def _first(x: State) -> Tensor:
    return x if isinstance(x, Tensor) else x[0]


def _stack(states: list[State]) -> State:
    if isinstance(states[0], Tensor):
        return torch.stack(states)  # type: ignore[arg-type]
    return tuple(torch.stack([s[i] for s in states]) for i in range(len(states[0])))  # type: ignore[index]


def solve(f: VectorField, x0: State, t0: float, t1: float, method: Method = "euler", steps: int = 100,
          atol: float = 1e-5, rtol: float = 1e-5, trajectory: bool = False) -> ODESolution:
    """Integrate dx/dt = f(t, x) from x(t0) = x0 to t1 (t1 < t0 integrates backwards).

    Fixed-step methods take `steps` uniform steps; "dopri5" chooses its own steps within `atol` /
    `rtol` (then `steps` only sets the grid of the optional trajectory). NFE is always counted.
    """
    check_int("ode steps", steps, 1)
    check_range("ode atol", atol, 0.0, low_open=True)
    check_range("ode rtol", rtol, 0.0, low_open=True)
    check_range("ode t0", t0)
    check_range("ode t1", t1)
    if method != "dopri5" and method not in STEPS:
        raise ConfigError(f"unknown ODE method {method!r}; choose one of: {', '.join([*STEPS, 'dopri5'])}")
    ref = _first(x0)
    grid = torch.linspace(float(t0), float(t1), steps + 1, dtype=ref.dtype, device=ref.device)
    nfe = 0

    def counted(t: Tensor, x: State) -> State:
        nonlocal nfe
        nfe += 1
        return f(t, x)

    if t0 == t1:
        return ODESolution(x0, 0, method, grid[:1] if trajectory else None,
                           _stack([x0]) if trajectory else None)
    if method == "dopri5":
        from torchdiffeq import odeint

        times = grid if trajectory else grid[[0, -1]]
        out = odeint(counted, x0, times, method="dopri5", atol=atol, rtol=rtol)
        last = out[-1] if isinstance(out, Tensor) else tuple(o[-1] for o in out)
        return ODESolution(last, nfe, method, grid if trajectory else None, out if trajectory else None)
    step = STEPS.get(method)
    h = (grid[-1] - grid[0]) / steps
    x, states = x0, [x0]
    for i in range(steps):
        # t_i = t0 + i h rather than grid[i], so every step's h is the same tensor
        x = step(counted, grid[0] + i * h, x, h)
        if trajectory:
            states.append(x)
    return ODESolution(x, nfe, method, grid if trajectory else None, _stack(states) if trajectory else None)


__all__ = ["FIXED_NFE_PER_STEP", "STEPS", "Method", "ODESolution", "State", "VectorField", "euler_step",
           "heun_step", "midpoint_step", "rk4_step", "solve"]
