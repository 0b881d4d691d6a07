"""Nearest-code vector quantisation with a straight-through gradient and a loss-learned codebook.

van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning", NeurIPS 2017
(arXiv:1711.00937), sec. 3.1-3.2; explained in https://kexue.fm/archives/6760. Each encoder output
z (one D-vector per grid position) is replaced by its nearest code e_k, k = argmin_j ||z - e_j||;
the decoder sees z + sg[e_k - z] (forward: e_k, backward: identity), and eq. 3 adds

    ||sg[z] - e_k||^2  (codebook term: moves the codes)  +  beta ||z - sg[e_k]||^2  (commitment).

Reductions are per-element means (as in the paper's reference code and Su's), so beta = 0.25 is on
the same scale as a per-element MSE reconstruction term.

Both codebook variants (this one, and the EMA codebook of `genlab.models.vqvae.ema`) track code
usage the same way, per optimizer step: the counts of every micro-batch are summed, averaged over
processes and folded into a debiased exponential moving average in `end_step`, which also restarts
dead codes on encoder outputs (a common fix, e.g. Dhariwal et al. 2020, Jukebox, arXiv:2005.00341).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range

Reduce = Callable[[Tensor], Tensor]


def nearest_codes(z: Tensor, codebook: Tensor) -> Tensor:
    """Index of the nearest code for each row of z (N, D), via ||z||^2 + ||e||^2 - 2 z.e."""
    d = z.pow(2).sum(1, keepdim=True) + codebook.pow(2).sum(1) - 2 * z @ codebook.t()
    return d.argmin(1)


def straight_through(z: Tensor, z_q: Tensor) -> Tensor:
    """z + sg[z_q - z]: the value of z_q, the gradient of the identity (paper sec. 3.1)."""
    return z + (z_q - z).detach()


def perplexity(counts: Tensor) -> Tensor:
    """exp of the entropy of the code frequencies `counts` (K,): K for uniform use, 1 for a single code."""
    p = counts.float() / counts.sum().clamp_min(1e-12)
    return torch.exp(-torch.special.xlogy(p, p).sum())


@dataclass
class Quantized:
    """What quantising a (B, D, H, W) map gives: the decoder input (straight-through z_q), the code
    grid (B, H, W), the quantiser's loss and scalars to log."""

    z_q: Tensor
    codes: Tensor
    loss: Tensor
    logs: dict[str, Tensor] = field(default_factory=dict)


class VectorQuantizer(nn.Module):
    """K codes of dimension D learned by the codebook term of eq. 3 (arXiv:1711.00937).

    `restart_threshold` > 0 enables dead-code restart: a code whose average use (debiased EMA of
    vectors per optimizer step, per process) falls below it is moved onto a randomly chosen encoder
    output of that step. Under several processes the new code is the average over processes of one
    such output each (the only way to keep replicas equal with a mean all-reduce); it still lies
    among the encoder outputs, which is what the restart needs.
    """

    uses_loss = True  # the codebook term of eq. 3 trains the codes

    def __init__(self, codes: int, dim: int, beta: float = 0.25, decay: float = 0.99,
                 restart_threshold: float = 1.0):
        super().__init__()
        check_int("model.codes", codes, 1)
        check_int("model.dim", dim, 1)
        check_range("model.beta", beta, 0.0)
        check_range("model.decay", decay, 0.0, 1.0, high_open=True)
        check_range("model.restart_threshold", restart_threshold, 0.0)
        self.codes, self.dim, self.beta, self.decay = codes, dim, beta, decay
        self.restart_threshold = restart_threshold
        self._init_codebook(torch.empty(codes, dim).uniform_(-1 / codes, 1 / codes))
        # EMA of per-step code counts (undebiased; `usage()` divides by 1 - decay^steps)
        self.register_buffer("cluster_size", torch.zeros(codes))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self._pending: dict[str, Tensor] = {}  # this optimizer step's sums over micro-batches

    def _init_codebook(self, init: Tensor) -> None:
        self.codebook = nn.Parameter(init)

    # ------------------------------------------------------------------ forward
    def forward(self, z: Tensor, collect: bool = False) -> Quantized:
        """Quantise z (B, D, H, W); `collect`: add this micro-batch to the step's statistics (for
        `end_step`; training only)."""
        b, d, h, w = z.shape
        if d != self.dim:
            raise ValueError(f"quantizer built for {self.dim}-dim codes, got {d} channels")
        flat = z.movedim(1, -1).reshape(-1, d)
        idx = nearest_codes(flat.detach(), self.codebook.detach())  # argmin sees no gradient
        z_q = self.codebook[idx].view(b, h, w, d).movedim(-1, 1)
        counts = torch.bincount(idx, minlength=self.codes).to(flat.dtype)
        logs = {"perplexity": perplexity(counts), "codes_used": (counts > 0).float().mean()}
        commitment = F.mse_loss(z, z_q.detach())  # sg[e]: only the encoder moves
        loss = self.beta * commitment
        logs["commitment"] = commitment.detach()
        if self.uses_loss:
            codebook = F.mse_loss(z_q, z.detach())  # sg[z]: only the codes move
            loss = loss + codebook
            logs["codebook"] = codebook.detach()
        if collect:
            self._collect(flat.detach(), idx, counts)
        return Quantized(straight_through(z, z_q), idx.view(b, h, w), loss, logs)

    def lookup(self, codes: Tensor) -> Tensor:
        """Code grid (B, H, W) -> quantised map (B, D, H, W)."""
        return self.codebook[codes].movedim(-1, 1)

    def usage(self) -> Tensor:
        """Average vectors per optimizer step assigned to each code (debiased EMA; zeros before
        the first step)."""
        t = int(self.steps)
        if t == 0:
            return torch.zeros_like(self.cluster_size)
        return self.cluster_size / (1 - self.decay**t)

    # ------------------------------------------------------------------ per-step statistics
    def _collect(self, flat: Tensor, idx: Tensor, counts: Tensor) -> None:
        p = self._pending
        p["counts"] = p["counts"] + counts if "counts" in p else counts
        # restart candidates: a few encoder outputs of this step (K suffice for any restart)
        pick = flat[torch.randperm(len(flat), device=flat.device)[: self.codes]]
        p["candidates"] = torch.cat([p["candidates"], pick])[-self.codes:] if "candidates" in p else pick

    @torch.no_grad()
    def end_step(self, all_reduce_mean: Reduce) -> None:
        """Once per optimizer step, after every micro-batch: fold the step's statistics (averaged
        over processes) into the usage EMA and the codebook, then restart dead codes."""
        if not self._pending:
            return
        counts = all_reduce_mean(self._pending["counts"].clone())
        self.steps += 1
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self._update_codebook(all_reduce_mean)
        if self.restart_threshold > 0:
            self._restart(all_reduce_mean)
        self._pending = {}

    def _update_codebook(self, all_reduce_mean: Reduce) -> None:
        """Nothing here: the optimizer moves these codes through the codebook term."""

    def _restart(self, all_reduce_mean: Reduce) -> None:
        # `dead` comes from all-reduced buffers, so every process restarts the same codes and the
        # collective below has the same shape everywhere.
        dead = (self.usage() < self.restart_threshold).nonzero().flatten()
        if len(dead) == 0:
            return
        cand = self._pending["candidates"]
        new = cand[torch.randint(len(cand), (len(dead),), device=cand.device)].clone()
        new = all_reduce_mean(new)
        # A restarted code starts at the mean usage, so it has time to attract vectors before it
        # can be declared dead again.
        self.cluster_size[dead] = self.cluster_size.mean()
        self._set_codes(dead, new)

    def _set_codes(self, which: Tensor, values: Tensor) -> None:
        self.codebook.data[which] = values.to(self.codebook.dtype)
