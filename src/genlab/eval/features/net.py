"""Feature extraction with a feature network (`genlab.nets.FeatureCNN`, or Inception), and the
[0, 1] images and test accuracy such a network is fed and judged by."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.nets.feature_cnn import FeatureCNN, NetSpec

__all__ = ["FeatureCNN", "NetSpec", "accuracy", "extract_features", "unit_images"]


def unit_images(x: Tensor, levels: int) -> Tensor:
    """Stored integer images (0..levels-1) -> float32 in [0, 1] (what `data.pixels=scale` gives)."""
    return x.float() / (levels - 1)


@torch.no_grad()
def accuracy(net: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000) -> float:
    """Fraction of `x` (images in [0, 1]) that `net` classifies as `y`; leaves `net` in eval mode."""
    net.eval()
    device = next(net.parameters()).device
    correct = sum(int((net(x[i : i + batch_size].to(device)).argmax(1).cpu() == y[i : i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    return correct / len(x)


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
