"""A folder of PNG/JPEG images; sub-folder names become class labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genlab.core.errors import DataError
from genlab.data.dataset import DATASETS, Dataset, split

SUFFIXES = {".png", ".jpg", ".jpeg"}


def read_images(folder: str | Path, image_size: int | None = None, grayscale: bool = False):
    """Load every image under `folder` as uint8 (N, C, H, W) plus integer labels."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist (set data.data_dir)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files:
        raise DataError(f"no .png/.jpg/.jpeg images under {root}")
    classes = sorted({p.parent.relative_to(root).as_posix() for p in files})
    arrays, labels = [], []
    for p in files:
        try:
            with Image.open(p) as img:
                img = img.convert("L" if grayscale else "RGB")
                if image_size:
                    img = img.resize((image_size, image_size), Image.BILINEAR)
                arrays.append(np.asarray(img, dtype=np.uint8))
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"cannot read image {p}: {err}") from None
        labels.append(classes.index(p.parent.relative_to(root).as_posix()))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(
            f"images under {root} differ in size ({sorted(shapes)[:3]} ...); set data.image_size"
        )
    x = torch.from_numpy(np.stack(arrays))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return x.contiguous(), torch.tensor(labels), classes


@DATASETS.register("image-folder")
def load(data_dir: str | None = None, image_size: int | None = None, grayscale: bool = False,
         test_fraction: float = 0.2, **_) -> Dataset:
    if not data_dir:
        raise DataError("dataset image-folder needs data.data_dir (or --data-dir) to point at it")
    x, y, classes = read_images(data_dir, image_size, grayscale)
    xtr, xte, ytr, yte = split(x, y, test_fraction, seed=0)
    return Dataset("image-folder", xtr, xte, levels=256, train_labels=ytr, test_labels=yte,
                   info={"source": str(data_dir), "classes": classes})
