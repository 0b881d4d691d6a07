"""Bad or unusual image files: one clear DataError naming the file, 16-bit PNGs scaled, not clipped."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from genlab.core.errors import DataError
from genlab.data.image_folder import read_images
from genlab.data.sample_files import read_samples


def _png(path, array) -> None:
    Image.fromarray(array).save(path)


def _claim_size(path, width: int, height: int) -> None:
    """Rewrite a PNG's IHDR width/height (and its CRC) without touching the pixel data."""
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def _one_line_naming(err: pytest.ExceptionInfo, path) -> None:
    message = str(err.value)
    assert "\n" not in message and str(path) in message


@pytest.mark.parametrize("width,height", [(30000, 30000), (9000, 9000)])
def test_header_claiming_a_huge_image_is_refused(tmp_path, width, height):
    # 30000^2 trips PIL's own bomb error; 9000^2 is under PIL's limit but over genlab's MAX_PIXELS.
    path = tmp_path / "bomb.png"
    _png(path, np.zeros((8, 8), np.uint8))
    _claim_size(path, width, height)
    assert struct.unpack(">II", path.read_bytes()[16:24]) == (width, height)
    with pytest.raises(DataError) as err:
        read_images(tmp_path)
    _one_line_naming(err, path)


def test_pil_bomb_warning_becomes_an_error(tmp_path, monkeypatch):
    # PIL only warns between MAX_IMAGE_PIXELS and twice that; genlab must not decode such a file either.
    path = tmp_path / "a.png"
    _png(path, np.zeros((8, 8), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)
    with pytest.raises(DataError) as err:
        read_images(tmp_path)
    _one_line_naming(err, path)


def _sixteen_bit(tmp_path):
    values = np.array([[0, 1, 128, 129], [257, 385, 386, 32896], [40000, 65279, 65407, 65535]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I"), img.mode  # the file really is 16-bit
    return values, np.round(values.astype(np.float64) * 255.0 / 65535.0)


@pytest.mark.parametrize("grayscale", [True, False])
def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path, grayscale):
    values, expected = _sixteen_bit(tmp_path)
    x, _, _ = read_images(tmp_path, grayscale=grayscale)
    assert x.shape == (1, 1 if grayscale else 3, 3, 4)
    for channel in x[0].numpy():
        np.testing.assert_array_equal(channel, expected)


def test_sixteen_bit_png_as_fake_samples(tmp_path):
    _, expected = _sixteen_bit(tmp_path)
    x = read_samples(tmp_path, image=True, grayscale=True)
    np.testing.assert_allclose(x[0, 0].numpy(), expected / 255.0, rtol=0, atol=1e-6)


def _random_png(path):
    _png(path, np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "flipped", "empty"])
def test_damaged_image_is_one_line_naming_the_file(tmp_path, damage):
    path = tmp_path / "cls" / "broken.png"
    path.parent.mkdir()
    _random_png(path)
    _random_png(tmp_path / "cls" / "fine.png")
    data = path.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8).tobytes()
    elif damage == "flipped":  # corrupt the compressed pixel stream inside IDAT
        start = data.index(b"IDAT") + 40
        data = data[:start] + bytes(b ^ 0xFF for b in data[start : start + 200]) + data[start + 200 :]
    else:
        data = b""
    path.write_bytes(data)
    with pytest.raises(DataError) as err:
        read_images(tmp_path)
    _one_line_naming(err, path)
