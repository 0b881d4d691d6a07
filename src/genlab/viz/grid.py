"""Image grids as PNG files (Pillow only)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo
from torch import Tensor


def image_grid(images: Tensor, nrow: int | None = None, pad: int = 1, scale: int = 1) -> np.ndarray:
    """(N, C, H, W) values in [0, 1] -> one uint8 array (rows of nrow images, `pad` px apart).

    Small images (e.g. 8x8 digits) are enlarged `scale` times with nearest-neighbour so a person
    can see them.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
    x = images.detach().float().cpu().clamp(0, 1)
    if scale > 1:
        x = x.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    n, c, h, w = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top : top + h, left : left + w] = x[i]
    arr = (grid * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    return arr[..., 0] if c == 1 else arr


CAPTION_PX = 14


def captioned(grid: np.ndarray, title: str) -> Image.Image:
    """The grid under a white strip with `title` written in black (what a person sees first)."""
    body = Image.fromarray(grid)
    if not title:
        return body
    out = Image.new(body.mode, (body.width, body.height + CAPTION_PX), "white")
    out.paste(body, (0, CAPTION_PX))
    ImageDraw.Draw(out).text((2, 1), title, fill="black", font=ImageFont.load_default())
    return out


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, title: str = "") -> Path:
    """Write a grid image; images smaller than 32 px are enlarged to about 32 px.

    A `title` (e.g. "step 2000") is drawn in a caption strip above the grid and, for PNGs, also
    stored as the file's "Title" text chunk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scale = max(1, 32 // images.shape[-1])
    img = captioned(image_grid(images, nrow, scale=scale), title)
    meta = None
    if title and path.suffix.lower() == ".png":
        meta = PngInfo()
        meta.add_text("Title", title)
    img.save(path, pnginfo=meta) if meta is not None else img.save(path)
    return path
