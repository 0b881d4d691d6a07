"""The exponential-moving-average codebook of VQ-VAE (arXiv:1711.00937, appendix A.1, eqs. 6-8).

Instead of the codebook term of eq. 3, each code follows the running mean of the encoder outputs
assigned to it, once per optimizer step (sums over every micro-batch, averaged over processes):

    N_i <- g N_i + (1 - g) n_i,    m_i <- g m_i + (1 - g) sum_{j: k_j = i} z_j,    e_i = m_i / N_i

with decay g = 0.99. Two details of common implementations are kept: N is Laplace-smoothed,
N_i' = (N_i + eps) / (n + K eps) n with n = sum_i N_i, so a code without any assignment gives no
division by zero; and N, m start at zero and are debiased by 1 - g^t (the zero-debiasing of Sonnet's
`VectorQuantizerEMA`), so the first step already puts each used code on its cluster mean instead of
shrinking it towards the initialisation. Only the commitment term remains in the loss.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.core.checks import check_range
from genlab.models.vqvae.quantizer import Reduce, VectorQuantizer


class EMACodebook(VectorQuantizer):
    """A `VectorQuantizer` whose codes are buffers updated by eqs. 6-8, not by the optimizer."""

    uses_loss = False

    def __init__(self, codes: int, dim: int, beta: float = 0.25, decay: float = 0.99,
                 restart_threshold: float = 1.0, epsilon: float = 1e-5):
        check_range("model.epsilon", epsilon, 0.0, low_open=True)
        super().__init__(codes, dim, beta, decay, restart_threshold)
        self.epsilon = epsilon
        self.register_buffer("embed_sum", torch.zeros(codes, dim))  # m (undebiased)

    def _init_codebook(self, init: Tensor) -> None:
        self.register_buffer("codebook", init)

    def _collect(self, flat: Tensor, idx: Tensor, counts: Tensor) -> None:
        super()._collect(flat, idx, counts)
        sums = flat.new_zeros(self.codes, self.dim).index_add_(0, idx, flat)
        p = self._pending
        p["sums"] = p["sums"] + sums if "sums" in p else sums

    def _update_codebook(self, all_reduce_mean: Reduce) -> None:
        # `cluster_size` (N) was already folded in by `end_step`; the sums m follow here.
        sums = all_reduce_mean(self._pending["sums"].clone())
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        self.codebook.copy_(self.embed_sum / self._debias() / self._smoothed_counts().unsqueeze(1))

    def _set_codes(self, which: Tensor, values: Tensor) -> None:
        # keep e = m / N for the restarted codes, so the next update starts from the new value
        self.codebook[which] = values.to(self.codebook.dtype)
        n = self._smoothed_counts()[which] * self._debias()
        self.embed_sum[which] = self.codebook[which] * n.unsqueeze(1)

    def _debias(self) -> float:
        return 1 - self.decay ** int(self.steps)

    def _smoothed_counts(self) -> Tensor:
        """Debiased N with Laplace smoothing: (N_i + eps) / (n + K eps) n."""
        n_codes = self.cluster_size / self._debias()
        n = n_codes.sum()
        return (n_codes + self.epsilon) / (n + self.codes * self.epsilon) * n
