"""Single-loss GAN training: one backward pass gives the critic exactly grad(critic loss) and the
generator exactly lambda * grad(generator loss), a simultaneous 1:1 update from one loss.

For a separable critic loss L_D = mean f(D(x)) + mean g(D(x_fake)) and a generator loss
L_G = mean h(D(G(z))), three exact formulations, fastest first (`formulation` picks one):

* ``reversal``: the critic scores real data and a *gradient-reversed* G(z) (identity forward,
  backward multiplied by c) and the loss is L_D alone. The critic's weights get grad L_D; the
  generator gets c * dL_D/dG = lambda * grad L_G when h'(s) = -g'(s) (Wasserstein, minimax, f-GAN
  "minimax"), with c = -lambda. A constant factor scales the whole vector-Jacobian product, so
  this holds even when the critic mixes rows (batch norm). No critic work is wasted: two critic
  calls of B rows instead of the three of alternating training.
* ``row_reversal``: the per-row factor c_i = lambda h'(s_i) / g'(s_i) for objectives where it is a
  smooth function of the score (non-saturating: -lambda exp(-s)). Needs a critic without
  cross-row operations. Where a fake logit is so low that g'(s) underflows (`row_reversal_limit`)
  the factor cannot restore h'(s); the model then takes the generator's gradient the ``split`` way
  for that step.
* ``split``: any separable objective. The critic scores real data and sg[G(z)] with its weights
  (giving grad L_D) and G(z) with *detached* weights (giving the generator grad L_G and the critic
  nothing), so no critic weight gradient is computed and then cancelled -- the cost of the
  stop-gradient form of https://kexue.fm/archives/6387, without its wasted half.

`stop_gradient_loss` keeps that original form, L_D(x, sg[G(z)]) + lambda [L_G(G(z)) -
L_G(sg[G(z)])], as the reference the others are tested against. All need a deterministic critic
(no dropout). With Adam a constant lambda is mostly normalised away; use separate learning rates per
parameter group for a two-time-scale update.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from genlab.adversarial.objectives import Objective

FORMULATIONS = ("reversal", "row_reversal", "split")


def row_reversal_limit(dtype: torch.dtype) -> float:
    """The fake logit below which the non-saturating critic's own gradient sigmoid(s) nears the
    dtype's smallest normal number, so the per-row factor exp(-s) can no longer restore the
    generator's gradient from it."""
    return math.log(torch.finfo(dtype).tiny) + 4.0


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the incoming gradient by `scale` (a float, or a (B,)
    tensor read at backward time, so it may be filled in after the forward)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, scale: float | Tensor) -> Tensor:
        ctx.scale = scale  # not save_for_backward: a per-row scale is written after this forward
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        scale = ctx.scale
        if isinstance(scale, Tensor):
            scale = scale.view(-1, *([1] * (grad.ndim - 1))).to(grad.dtype)
        return grad * scale, None


def reverse_gradient(x: Tensor, scale: float | Tensor) -> Tensor:
    """x in the forward pass; the gradient reaching x is multiplied by `scale` (per row if a tensor)."""
    return _ReverseGradient.apply(x, scale)


def reversal_scale(objective: Objective) -> float | None:
    """The constant c with h'(s) = c g'(s) for the objective's fake-score terms, or None."""
    fn = getattr(objective, "reversal_scale", None)
    return fn() if fn is not None else None


def row_reversal_scale(objective: Objective, fake_scores: Tensor) -> Tensor | None:
    """The per-row h'(s) / g'(s) of the objective at the (detached) fake scores, or None."""
    fn = getattr(objective, "row_reversal_scale", None)
    return fn(fake_scores) if fn is not None else None


def formulation(objective: Objective, critic_mixes_rows: bool) -> str:
    """The fastest exact formulation for `objective` (see the module docstring)."""
    if reversal_scale(objective) is not None:
        return "reversal"
    if getattr(objective, "row_reversal_scale", None) is not None and not critic_mixes_rows:
        return "row_reversal"
    return "split"


def detached_call(module: nn.Module, x: Tensor) -> Tensor:
    """module(x) with the module's parameters detached: gradients reach x, never the weights, so a
    backward pass through it computes no weight gradients at all."""
    params = {name: p.detach() for name, p in module.named_parameters()}
    return functional_call(module, params, (x,), strict=False)


def stop_gradient_loss(objective: Objective, real_scores: Tensor, fake_scores_sg: Tensor,
                       fake_scores: Tensor, weight: float = 1.0) -> Tensor:
    """The stop-gradient combined loss from the critic's scores on real data, on sg[G(z)] (critic
    input detached from the generator) and on G(z) (attached); `weight` is lambda."""
    critic = objective.critic_loss(real_scores, fake_scores_sg)
    generator = objective.generator_loss(fake_scores) - objective.generator_loss(fake_scores_sg)
    return critic + weight * generator


single_step_loss = stop_gradient_loss  # the name this function had first

__all__ = ["FORMULATIONS", "detached_call", "formulation", "reversal_scale", "reverse_gradient",
           "row_reversal_limit", "row_reversal_scale", "single_step_loss", "stop_gradient_loss"]
