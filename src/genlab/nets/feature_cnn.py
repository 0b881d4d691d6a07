"""The small CNN classifier whose penultimate layer is genlab's image feature space.

conv(C->32, 3x3) - ReLU - maxpool - conv(32->64, 3x3) - ReLU - maxpool - fc(->128) - ReLU, then a
linear class head. The 128 ReLU features feed the Fréchet distance, KID and PRDC, following the
advice to use a dataset-specific classifier where Inception features do not apply (TTUR issue #24;
TF-GAN's `mnist_frechet_distance`). For 28x28 inputs the fc layer sees 64x7x7 = 3136 values, for
8x8 digits 64x2x2 = 256.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor, nn

from genlab.core.errors import DataError


@dataclass(frozen=True)
class NetSpec:
    """Everything needed to rebuild a feature network before loading its weights."""

    in_channels: int = 1
    height: int = 28
    width: int = 28
    n_classes: int = 10
    features: int = 128

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class FeatureCNN(nn.Module):
    """Classifier on images in [0, 1] of shape (N, C, H, W); `features(x)` gives (N, 128)."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.spec = spec
        self.num_features = spec.features  # read by torchmetrics' FID/KID for custom extractors
        flat = 64 * (spec.height // 4) * (spec.width // 4)
        self.body = nn.Sequential(
            nn.Conv2d(spec.in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(flat, spec.features), nn.ReLU(),
        )
        self.head = nn.Linear(spec.features, spec.n_classes)

    def check_input(self, x: Tensor) -> None:
        want = (self.spec.in_channels, self.spec.height, self.spec.width)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise DataError(f"this feature network takes images of shape (N, {', '.join(map(str, want))}) "
                            f"with values in [0, 1]; got {tuple(x.shape)}")

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features (N, 128) of images in [0, 1]."""
        return self.body((x.float() - 0.5) * 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
