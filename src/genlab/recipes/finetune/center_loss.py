"""Center loss (Wen et al., ECCV 2016, eqs. 2-4; https://kexue.fm/archives/4611): pull each feature
towards a running centre of its class, so classes form tight clusters in feature space.

    L_C = 1/2 * mean_i ||x_i - c_{y_i}||^2
    delta c_j = sum_i [y_i = j] (c_j - x_i) / (1 + sum_i [y_i = j]),   c_j <- c_j - alpha * delta c_j

The centres are a buffer moved by that rule, not by the optimizer (the article keeps them in an Embedding
trained by gradient instead); the loss backpropagates into the features only.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range


class CenterLoss(nn.Module):
    """Centres (n_classes, dim) as a buffer; `forward` is L_C, `statistics` + `update` the centre rule."""

    centers: Tensor

    def __init__(self, n_classes: int, dim: int, alpha: float = 0.5):
        super().__init__()
        check_int("n_classes", n_classes, 1)
        check_int("dim", dim, 1)
        check_range("center alpha", alpha, 0.0, 1.0)
        self.alpha = alpha
        self.register_buffer("centers", torch.zeros(n_classes, dim))

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        return 0.5 * (features - self.centers[labels]).square().sum(1).mean()

    @torch.no_grad()
    def statistics(self, features: Tensor, labels: Tensor) -> Tensor:
        """Per-class sums of the (detached) features and counts, (n_classes, dim + 1): additive over
        micro-batches and processes, so the update can use a whole step's batch."""
        stats = features.new_zeros(len(self.centers), features.shape[1] + 1)
        stats.index_add_(0, labels, torch.cat([features.detach(), features.new_ones(len(features), 1)], 1))
        return stats

    @torch.no_grad()
    def update(self, stats: Tensor) -> None:
        """c_j <- c_j - alpha * (n_j c_j - sum_j) / (1 + n_j); classes absent from the batch stay put."""
        sums, counts = stats[:, :-1], stats[:, -1:]
        self.centers -= self.alpha * (counts * self.centers - sums) / (1 + counts)
