"""Feature extraction with a feature network (`genlab.nets.FeatureCNN`, or Inception)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.nets.feature_cnn import FeatureCNN, NetSpec

__all__ = ["FeatureCNN", "NetSpec", "extract_features"]


@torch.no_grad()
def extract_features(net: FeatureCNN | nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Features (N, d) float32 of images in [0, 1], in batches, on the network's device.

    `net` is a `FeatureCNN` or any module with the same `check_input`, `features` and
    `num_features` (the optional Inception network).
    """
    net.check_input(images)
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        out = [net.features(images[i : i + batch_size].to(device)).float().cpu()
               for i in range(0, len(images), batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, int(net.num_features))
