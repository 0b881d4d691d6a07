"""Evaluation metrics: likelihoods, sample-based feature-space metrics and 2-D toy metrics."""

from genlab.core.importance import importance_sampled_log_likelihood
from genlab.eval.metrics.frechet import (
    FeatureStats,
    frechet_distance,
    frechet_distance_features,
    frechet_distance_stats,
)
from genlab.eval.metrics.kid import kernel_distance, polynomial_mmd2
from genlab.eval.metrics.likelihood import bits_per_dim
from genlab.eval.metrics.prdc import knn_radii, prdc
from genlab.eval.metrics.toy2d import mixture_log_likelihood, mmd_rbf, mode_coverage
from genlab.eval.metrics.wasserstein import wasserstein2

__all__ = [
    "FeatureStats",
    "bits_per_dim",
    "frechet_distance",
    "frechet_distance_features",
    "frechet_distance_stats",
    "importance_sampled_log_likelihood",
    "kernel_distance",
    "knn_radii",
    "mixture_log_likelihood",
    "mmd_rbf",
    "mode_coverage",
    "polynomial_mmd2",
    "prdc",
    "wasserstein2",
]
