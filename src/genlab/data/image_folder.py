"""A folder of PNG/JPEG images; sub-folder names become class labels."""

from __future__ import annotations

import warnings
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.core.errors import DataError
from genlab.data.dataset import DATASETS, Dataset, split

SUFFIXES = {".png", ".jpg", ".jpeg"}
# Largest image read (width x height), checked on the header before decoding: far above any dataset
# genlab trains on, far below a decompression bomb's claimed size (e.g. 30000 x 30000).
MAX_PIXELS = 8192 * 8192
SIXTEEN_BIT_MODES = {"I", "I;16", "I;16L", "I;16B", "I;16N"}


def to_8bit(img: Image.Image, path: Path) -> Image.Image:
    """A 16-bit grayscale image as 8-bit "L", rounding v * 255 / 65535 (= v / 257) to the nearest."""
    a = np.asarray(img).astype(np.int64)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise DataError(f"cannot read image {path}: mode {img.mode} values outside 0..65535")
    return Image.fromarray(((a + 128) // 257).astype(np.uint8), mode="L")


def open_image(path: Path, grayscale: bool, image_size: int | None) -> np.ndarray:
    """One image file as a uint8 (H, W) or (H, W, 3) array; any decoding problem is one DataError line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise DataError(f"image {path} is {w}x{h} pixels, more than genlab reads "
                                    f"({MAX_PIXELS} pixels); is it corrupt or a decompression bomb?")
                if img.mode in SIXTEEN_BIT_MODES:
                    img = to_8bit(img, path)
                img = img.convert("L" if grayscale else "RGB")
                if image_size:
                    img = img.resize((image_size, image_size), Image.BILINEAR)
                return np.asarray(img, dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DataError(f"image {path} is too large to read safely: {err}") from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"cannot read image {path}: {reason}") from None


def read_images(folder: str | Path, image_size: int | None = None, grayscale: bool = False):
    """Load every image under `folder` as uint8 (N, C, H, W) plus integer labels.

    16-bit PNGs are scaled to 8 bits (rounded v / 257); images over MAX_PIXELS are refused.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist (set data.data_dir)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files:
        raise DataError(f"no .png/.jpg/.jpeg images under {root}")
    classes = sorted({p.parent.relative_to(root).as_posix() for p in files})
    arrays, labels = [], []
    for p in files:
        arrays.append(open_image(p, grayscale, image_size))
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
