"""Evaluation metrics (likelihood metrics here; sample-based metrics join them)."""

from genlab.metrics.likelihood import bits_per_dim, importance_sampled_log_likelihood

__all__ = ["bits_per_dim", "importance_sampled_log_likelihood"]
