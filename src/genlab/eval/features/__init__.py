"""genlab's own image feature networks (small CNN classifiers), shipped and user-trained.

They are trained by `genlab.recipes.feature_net` (`genlab features train`); this package loads,
stores and applies them.
"""

from genlab.eval.features.net import FeatureCNN, NetSpec, accuracy, extract_features, unit_images
from genlab.eval.features.reference import Reference, reference
from genlab.eval.features.store import (
    FeatureNet,
    cache_dir,
    find_feature_net,
    net_key,
    require_feature_net,
    save_feature_net,
)

__all__ = [
    "FeatureCNN", "FeatureNet", "NetSpec", "Reference", "accuracy", "cache_dir", "extract_features",
    "find_feature_net", "net_key", "reference", "require_feature_net", "save_feature_net", "unit_images",
]
