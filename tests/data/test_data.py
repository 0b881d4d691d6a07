import gzip
import math

import numpy as np
import pytest
import torch

from genlab.config import DataConfig
from genlab.core.errors import DataError
from genlab.data import DATASETS, BatchStream, Pixels, load_dataset
from genlab.data.idx import read_idx
from genlab.eval.metrics import bits_per_dim


def write_idx(path, array: np.ndarray, gz: bool = True, cut: int = 0):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    raw = raw[: len(raw) - cut]
    (gzip.open if gz else open)(path, "wb").write(raw)


def write_fake_mnist(folder, n_train=40, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,), np.uint8))
    return folder


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians", "swissroll", "moons", "rings", "checkerboard"])
def test_toys_are_seeded(name):
    a = load_dataset(DataConfig(name=name, n_samples=100), seed=3)
    b = load_dataset(DataConfig(name=name, n_samples=100), seed=3)
    c = load_dataset(DataConfig(name=name, n_samples=100), seed=4)
    assert a.train.shape == (100, 2) and torch.equal(a.train, b.train)
    assert not torch.equal(a.train, c.train)


def test_gaussian_mixture_info():
    d = load_dataset(DataConfig(name="25gaussians", n_samples=5000))
    centers = torch.tensor(d.info["centers"])
    assert centers.shape == (25, 2)
    nearest = torch.cdist(d.train.double(), centers.double()).min(1).values
    assert nearest.max() < 6 * d.info["std"]  # every point is near a centre


def test_digits():
    d = load_dataset(DataConfig(name="digits"))
    assert d.shape == (1, 8, 8) and d.levels == 17
    assert len(d.train) + len(d.test) == 1797 and int(d.train.max()) == 16


def test_idx_reader_roundtrip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", arr)
    write_idx(tmp_path / "a", arr, gz=False)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), arr)
    assert np.array_equal(read_idx(tmp_path / "a"), arr)
    ints = np.array([1, -2, 70000], dtype=np.int32)
    write_idx(tmp_path / "i", ints, gz=False)
    assert np.array_equal(read_idx(tmp_path / "i"), ints)


def test_idx_corruption_is_a_clear_error(tmp_path):
    arr = np.zeros((5, 28, 28), np.uint8)
    write_idx(tmp_path / "trunc.gz", arr, cut=100)
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(tmp_path / "trunc.gz")
    (tmp_path / "junk.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "junk.gz")
    (tmp_path / "magic").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "magic")


def test_fashion_mnist_from_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("GENLAB_DATA", raising=False)
    write_fake_mnist(tmp_path / "fm")
    d = load_dataset(DataConfig(name="fashion-mnist", data_dir=str(tmp_path / "fm")))
    assert d.train.shape == (40, 1, 28, 28) and d.test.shape == (20, 1, 28, 28)
    assert d.train.dtype == torch.uint8 and d.train_labels.shape == (40,)
    # $GENLAB_DATA/<name>/ is searched too
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    write_fake_mnist(tmp_path / "mnist")
    assert load_dataset(DataConfig(name="mnist")).train.shape == (40, 1, 28, 28)


def test_missing_dataset_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(name="mnist"))
    msg = str(err.value)
    assert str(tmp_path / "env") in msg and "IDX" in msg


def test_explicit_data_dir_must_hold_the_data(tmp_path, monkeypatch):
    """A given folder that is missing, or lacks one of the four files, is an error even where another copy
    ($GENLAB_DATA here, the Debian package on a real machine) would be found."""
    write_fake_mnist(tmp_path / "env" / "mnist")
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "env"))
    assert load_dataset(DataConfig(name="mnist")).train.shape == (40, 1, 28, 28)
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path / "nonexistent")))
    write_fake_mnist(tmp_path / "partial")
    next((tmp_path / "partial").glob("t10k-labels*")).unlink()
    with pytest.raises(DataError, match="missing t10k-labels"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path / "partial")))


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (12, 10, 3), np.uint8)).save(tmp_path / cls / f"{i}.png")
    d = DATASETS.get("image-folder")(data_dir=str(tmp_path), image_size=8, test_fraction=0.2)
    assert d.shape == (3, 8, 8) and len(d.train) == 8 and d.info["classes"] == ["cats", "dogs"]
    with pytest.raises(DataError, match="differ in size"):
        Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(tmp_path / "cats" / "odd.png")
        DATASETS.get("image-folder")(data_dir=str(tmp_path))


def test_uniform_model_is_exactly_8_bits_per_dim():
    pixels = Pixels(256)
    x = pixels(torch.randint(0, 256, (10, 1, 28, 28)))
    log_p = torch.zeros(10)  # the uniform density on [0, 1)^D
    assert torch.allclose(bits_per_dim(log_p, x, pixels), torch.full((10,), 8.0))
    # the same model on [-1, 1) has density 2^-D, and the range Jacobian cancels it exactly
    sym = Pixels(256, range="symmetric")
    z = sym(torch.randint(0, 256, (10, 1, 4, 4)))
    assert torch.allclose(bits_per_dim(torch.full((10,), -16 * math.log(2)), z, sym), torch.full((10,), 8.0))


def test_logit_jacobian_matches_autograd():
    alpha = 0.05
    pixels = Pixels(256, logit_alpha=alpha)
    y = torch.rand(6, dtype=torch.float64) * 0.98 + 0.01
    z = torch.logit(alpha + (1 - 2 * alpha) * y)
    dz_dy = torch.autograd.functional.jacobian(lambda t: torch.logit(alpha + (1 - 2 * alpha) * t), y)
    expected = torch.logdet(dz_dy) - 6 * math.log(256)
    assert torch.allclose(pixels.log_jacobian(z.view(1, 6)), expected.view(1), atol=1e-9)
    assert torch.allclose(pixels.to_unit(z), y)


def test_binarize_and_bad_modes():
    x = torch.randint(0, 17, (4, 1, 8, 8))
    b = Pixels(17, "binarize")(x)
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    from genlab.core.errors import ConfigError
    with pytest.raises(ConfigError, match="choose one of"):
        Pixels(17, "quantize")
    with pytest.raises(ConfigError, match="no likelihood bound"):
        Pixels(17, "scale").log_jacobian(x.float())


def test_batch_stream_resumes_and_shards():
    data = torch.arange(50)
    a = BatchStream(data, 8, seed=1)
    first = [next(a) for _ in range(9)]  # crosses an epoch boundary (6 batches per epoch)
    state = a.state_dict()
    rest = [next(a) for _ in range(5)]
    b = BatchStream(data, 8, seed=1)
    b.load_state_dict(state)
    assert all(torch.equal(x, y) for x, y in zip(rest, [next(b) for _ in range(5)]))
    assert len(torch.cat(first[:6]).unique()) == 48  # no repeats within an epoch
    r0, r1 = BatchStream(data, 5, seed=2, rank=0, world=2), BatchStream(data, 5, seed=2, rank=1, world=2)
    e0 = torch.cat([next(r0) for _ in range(5)])
    e1 = torch.cat([next(r1) for _ in range(5)])
    assert len(set(e0.tolist()) & set(e1.tolist())) == 0 and len(e0) == len(e1) == 25
