"""Homoscedastic-uncertainty loss weighting with learned log-variances.

Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry
and Semantics" (arXiv:1705.07115), eq. 7 with s_i = log sigma_i^2 (the paper's stable parametrisation):
a regression task contributes exp(-s_i) / 2 * L_i + s_i / 2, a classification task exp(-s_i) * L_i + s_i / 2.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import torch
from torch import Tensor, nn

from genlab.mtl.losses import stack_losses


class UncertaintyWeighting(nn.Module):
    """Combined loss with one trainable log-variance per task; add its parameters to the optimizer.

    Example:
        >>> rule = UncertaintyWeighting(["depth", "label"], classification=["label"])
        >>> rule({"depth": torch.tensor(2.0), "label": torch.tensor(1.0)}).item()  # log-variances start at 0
        2.0
        >>> {k: float(v) for k, v in rule.last_weights.items()}
        {'depth': 0.5, 'label': 1.0}
    """

    def __init__(self, names: Sequence[str], classification: Collection[str] = (),
                 init_log_var: float = 0.0) -> None:
        super().__init__()
        self.names = list(names)
        if not self.names or len(set(self.names)) != len(self.names):
            raise ValueError(f"names must be a non-empty list of distinct task names, got {self.names}")
        unknown = set(classification) - set(self.names)
        if unknown:
            raise ValueError(f"classification names {sorted(unknown)} are not among the tasks {self.names}")
        self.log_vars = nn.Parameter(torch.full((len(self.names),), float(init_log_var)))
        # 1/2 for a Gaussian likelihood (regression), 1 for a tempered softmax (classification).
        factor = torch.tensor([1.0 if n in classification else 0.5 for n in self.names])
        self.register_buffer("factor", factor, persistent=False)
        self.last_weights: dict[str, Tensor] = {}

    def forward(self, losses: Mapping[str, Tensor]) -> Tensor:
        names, _ = stack_losses(losses)
        if sorted(names) != sorted(self.names):
            raise ValueError(f"losses must be named exactly {sorted(self.names)}, got {sorted(names)}")
        values = torch.stack([losses[n].reshape(()) for n in self.names])
        weights = self.factor * torch.exp(-self.log_vars)
        self.last_weights = dict(zip(self.names, weights.detach().unbind()))
        return (weights * values).sum() + 0.5 * self.log_vars.sum()
