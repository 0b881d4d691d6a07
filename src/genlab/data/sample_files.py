"""Read samples produced by any tool: a folder of PNG/JPEG images or a NumPy .npz file.

Images come back as float32 (N, C, H, W) in [0, 1]: uint8 arrays and image files are divided by
255 (16-bit PNGs are first rounded to 8 bits, see `read_images`), float arrays must already lie
in [0, 1]. Arrays of shape (N, H, W) get one channel and (N, H, W, C) is transposed to
(N, C, H, W). Vector samples (2-D toys) are (N, D) float arrays.
An .npz file is read from its `samples`, `images` or `x` array, or its only array.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genlab.core.errors import DataError
from genlab.data.image_folder import read_images

NPZ_KEYS = ("samples", "images", "x")


def _from_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            key = next((k for k in NPZ_KEYS if k in names), names[0] if len(names) == 1 else None)
            if key is None:
                raise DataError(f"{path} holds arrays {names}; name the samples one of "
                                f"{', '.join(NPZ_KEYS)} (or store only one array)")
            return z[key]
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {path} as .npz: {err}") from None


def _to_float(a: np.ndarray, path: Path) -> Tensor:
    if a.dtype == np.uint8:
        return torch.from_numpy(a.astype(np.float32) / 255.0)
    if not np.issubdtype(a.dtype, np.floating):
        raise DataError(f"{path}: samples must be uint8 (0..255) or float arrays, got {a.dtype}")
    t = torch.from_numpy(a.astype(np.float32))
    if not torch.isfinite(t).all():
        raise DataError(f"{path}: samples contain NaN or inf values")
    return t


def _channels_first(t: Tensor, path: Path) -> Tensor:
    if t.ndim == 3:
        return t.unsqueeze(1)
    if t.ndim == 4 and t.shape[1] not in (1, 3) and t.shape[-1] in (1, 3):
        return t.permute(0, 3, 1, 2).contiguous()
    if t.ndim == 4:
        return t
    raise DataError(f"{path}: image samples must be (N, H, W), (N, C, H, W) or (N, H, W, C); "
                    f"got {tuple(t.shape)}")


def read_samples(path: str | Path, image: bool, grayscale: bool = False) -> Tensor:
    """Samples at `path` as float32: images (N, C, H, W) in [0, 1] or vectors (N, D)."""
    path = Path(path)
    if path.is_dir():
        if not image:
            raise DataError(f"{path} is a folder of images, but the reference dataset is not "
                            "an image dataset")
        x, _, _ = read_images(path, grayscale=grayscale)
        return x.float() / 255.0
    if not path.is_file():
        raise DataError(f"samples {path} not found (expected a folder of PNGs or an .npz file)")
    if path.suffix != ".npz":
        raise DataError(f"{path}: unsupported samples file; use a folder of PNG/JPEG images or an .npz")
    t = _to_float(_from_npz(path), path)
    if len(t) == 0:
        raise DataError(f"{path} holds no samples")
    if not image:
        if t.ndim != 2:
            raise DataError(f"{path}: vector samples must be (N, D), got {tuple(t.shape)}")
        return t
    t = _channels_first(t, path)
    if t.min() < -1e-3 or t.max() > 1 + 1e-3:
        raise DataError(f"{path}: float images must lie in [0, 1], got [{t.min():.3g}, {t.max():.3g}]")
    return t.clamp(0, 1)
