"""Sample grids carry their title (e.g. the training step) where a person sees it."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from genlab.viz.grid import CAPTION_PX, save_grid


def test_grid_title_is_drawn_above_the_images_and_stored_in_the_png(tmp_path):
    images = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    plain = np.asarray(Image.open(save_grid(images, tmp_path / "plain.png")))
    with Image.open(save_grid(images, tmp_path / "titled.png", title="step 2000")) as img:
        titled = np.asarray(img)
        assert img.text.get("Title") == "step 2000"
    assert titled.shape == (plain.shape[0] + CAPTION_PX, plain.shape[1])
    # the grid itself is unchanged below the strip, and the strip holds dark text on white
    assert np.array_equal(titled[CAPTION_PX:], plain)
    strip = titled[:CAPTION_PX]
    assert strip.max() == 255 and strip.min() < 128 and (strip < 128).sum() > 20


def test_grid_without_title_has_no_strip_or_metadata(tmp_path):
    images = torch.ones(2, 3, 8, 8)
    with Image.open(save_grid(images, tmp_path / "g.png")) as img:
        # scale 4, one row, 1 px pad above and below
        assert "Title" not in img.text and img.size[1] == 4 * 8 + 2
