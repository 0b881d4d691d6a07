"""genlab's own image feature networks (small CNN classifiers), shipped and user-trained."""

from genlab.eval.features.net import FeatureCNN, NetSpec, extract_features
from genlab.eval.features.reference import Reference, reference
from genlab.eval.features.store import (
    FeatureNet,
    cache_dir,
    find_feature_net,
    net_key,
    require_feature_net,
    save_feature_net,
)
from genlab.eval.features.train import Recipe, train_feature_net

__all__ = [
    "FeatureCNN", "FeatureNet", "NetSpec", "Recipe", "Reference", "cache_dir", "extract_features",
    "find_feature_net", "net_key", "reference", "require_feature_net", "save_feature_net",
    "train_feature_net",
]
