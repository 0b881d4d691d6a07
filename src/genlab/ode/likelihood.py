"""Exact log-likelihood of a continuous flow by the instantaneous change of variables.

For dx/dt = v(x, t), the density along a trajectory obeys d log p_t(x(t)) / dt = -div v(x(t), t)
(Chen et al. 2018, arXiv:1806.07366, Theorem 1). Integrating the data point x from `t_data` to
`t_source` together with l(t) = int_{t_data}^{t} div v(x(s), s) ds, l(t_data) = 0, gives

    log p_data(x) = log p_source(x(t_source)) + l(t_source),

whichever way time runs: flow matching has its source at t = 0 and data at t = 1 (integrate
backwards); the probability-flow ODE of a diffusion (Song et al. 2021, arXiv:2011.13456, sec. 4.3)
has data at t = 0 and noise at t = 1 (integrate forwards).

The divergence is either exact (one backward pass per dimension D: for 2-D toys and small D) or
Hutchinson's estimate z^T (dv/dx) z with E[z z^T] = I (Hutchinson 1989; FFJORD, Grathwohl et al.
2019, arXiv:1810.01367): one vector-Jacobian product per probe, with the probes drawn once and fixed
over the whole integration, so the estimate of the integral is unbiased (the x path does not depend
on z, and the estimate is linear in z z^T).

The velocity must treat examples independently (a net in eval mode, no batch norm in train mode):
the divergence of example i is read from the gradient of the summed outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from genlab.core.checks import check_int
from genlab.core.errors import ConfigError, DataError
from genlab.core.gaussian import std_normal_log_prob
from genlab.ode.solvers import Method, solve

Velocity = Callable[[Tensor, Tensor], Tensor]  # v(x (B, ...), t (B,)) -> (B, ...), as genlab's time nets
Divergence = Literal["exact", "hutchinson"]
Probes = Literal["rademacher", "gaussian"]


def divergence_exact(v: Tensor, x: Tensor) -> Tensor:
    """Per-example trace of dv/dx, (B,), by one backward pass per dimension; `v` = velocity(x) with
    x requiring grad. The graph is kept for the next pass and not kept afterwards."""
    vf = v.flatten(1)
    d = vf.shape[1]
    div = torch.zeros(len(x), dtype=v.dtype, device=v.device)
    for i in range(d):
        (g,) = torch.autograd.grad(vf[:, i].sum(), x, retain_graph=i < d - 1)
        div = div + g.flatten(1)[:, i]
    return div


def divergence_hutchinson(v: Tensor, x: Tensor, probes: Tensor) -> Tensor:
    """Mean over probes z of z^T (dv/dx) z, (B,): one vector-Jacobian product per probe.
    `probes` is (K, *x.shape)."""
    div = torch.zeros(len(x), dtype=v.dtype, device=v.device)
    for k, z in enumerate(probes):
        (zj,) = torch.autograd.grad(v, x, z, retain_graph=k < len(probes) - 1)
        div = div + (zj * z).flatten(1).sum(1)
    return div / len(probes)


def draw_probes(kind: Probes, shape: tuple[int, ...], like: Tensor,
                generator: torch.Generator | None = None) -> Tensor:
    """Probes with E[z z^T] = I: Rademacher (+-1, the lower-variance choice) or standard normal."""
    device = generator.device if generator is not None else like.device
    if kind == "rademacher":
        z = torch.randint(0, 2, shape, generator=generator, device=device).to(like.dtype) * 2 - 1
    elif kind == "gaussian":
        z = torch.randn(shape, generator=generator, device=device, dtype=like.dtype)
    else:
        raise ConfigError(f"unknown probes {kind!r}; choose one of: rademacher, gaussian")
    return z.to(like.device)


@dataclass
class ODELikelihood:
    """`log_prob` (B,): log p_data(x) in nats; `source_log_prob` (B,): log p_source at the end
    point `z`; `delta` (B,): l(t_source) = int div v dt; `nfe`: velocity evaluations; `divergence`
    and `probes` / `n_probes` (None / 0 for the exact divergence) say how it was computed."""

    log_prob: Tensor
    source_log_prob: Tensor
    delta: Tensor
    z: Tensor
    nfe: int
    divergence: str
    probes: str | None
    n_probes: int


def ode_log_likelihood(velocity: Velocity, x: Tensor, t_data: float = 1.0, t_source: float = 0.0,
                       source_log_prob: Callable[[Tensor], Tensor] = std_normal_log_prob,
                       method: Method = "dopri5", steps: int = 100, atol: float = 1e-5, rtol: float = 1e-5,
                       divergence: Divergence = "exact", probes: Probes = "rademacher", n_probes: int = 1,
                       generator: torch.Generator | None = None) -> ODELikelihood:
    """log p(x) per example of the flow dx/dt = velocity(x, t) whose density at `t_source` is
    `source_log_prob` (per-example, default N(0, I)) and whose data sit at `t_data`.

    `method`, `steps`, `atol`, `rtol` as `genlab.ode.solve`. Evaluation only: the result carries
    no gradient (the velocity's graph is built inside each evaluation for the divergence and
    dropped). `generator` draws the Hutchinson probes.
    """
    if divergence not in ("exact", "hutchinson"):
        raise ConfigError(f"unknown divergence {divergence!r}; choose one of: exact, hutchinson")
    check_int("ode likelihood n_probes", n_probes, 1)
    if x.ndim < 2 or not len(x):
        raise DataError(f"ode_log_likelihood needs a non-empty batch (B, ...), got shape {tuple(x.shape)}")
    x = x.detach()
    z = draw_probes(probes, (n_probes, *x.shape), x, generator) if divergence == "hutchinson" else None

    def f(t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        xt = state[0].detach().requires_grad_(True)
        with torch.enable_grad():
            v = velocity(xt, t.expand(len(xt)))
            div = divergence_exact(v, xt) if z is None else divergence_hutchinson(v, xt, z)
        return v.detach(), div.detach().to(state[1].dtype)

    sol = solve(f, (x, torch.zeros(len(x), dtype=x.dtype, device=x.device)), t_data, t_source, method,
                steps, atol, rtol)
    end, delta = sol.x
    src = source_log_prob(end)
    return ODELikelihood(src + delta, src, delta, end, sol.nfe, divergence,
                         probes if z is not None else None, n_probes if z is not None else 0)


__all__ = ["Divergence", "ODELikelihood", "Probes", "Velocity", "divergence_exact", "divergence_hutchinson",
           "draw_probes", "ode_log_likelihood"]
