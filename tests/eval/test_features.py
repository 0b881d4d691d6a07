"""Shipped feature networks: offline loading with hash check, accuracy, determinism, the reference
cache, and the Fashion-MNIST sanity ordering FD(train, test) << FD(test, noise)."""

import json
import shutil
import socket
from pathlib import Path

import pytest
import torch

from genlab.config import DataConfig
from genlab.core.errors import DataError
from genlab.data import load_dataset
from genlab.eval.features import accuracy, extract_features, reference, require_feature_net, unit_images
from genlab.eval.features.store import SHIPPED_DIR, load_from, read_manifest, save_feature_net
from genlab.eval.metrics.frechet import frechet_distance_features
from genlab.recipes.feature_net import Recipe, train_feature_net

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _offline_and_private_cache(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise OSError("network access during a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))


def test_shipped_manifest_and_offline_loading():
    manifest = read_manifest(SHIPPED_DIR)
    assert {"digits", "fashion-mnist"} <= set(manifest)
    for key, entry in manifest.items():
        path = SHIPPED_DIR / entry["file"]
        assert path.stat().st_size == entry["bytes"] < 3_000_000
        assert {"sha256", "test_accuracy", "recipe", "n_params", "arch"} <= set(entry)
        net = require_feature_net(key)
        assert net.sha256 == entry["sha256"] and net.describe()["shipped"]
        assert extract_features(net.net, torch.rand(3, *(net.net.spec.in_channels, net.net.spec.height,
                                                       net.net.spec.width))).shape == (3, 128)
    assert manifest["digits"]["test_accuracy"] > 0.95
    assert manifest["fashion-mnist"]["test_accuracy"] > 0.85


def test_tampered_weights_are_refused(tmp_path):
    folder = tmp_path / "weights"
    shutil.copytree(SHIPPED_DIR, folder)
    path = folder / read_manifest(folder)["digits"]["file"]
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="SHA-256"):
        load_from(folder, "digits")
    with pytest.raises(DataError, match="features train"):
        require_feature_net("no-such-dataset")


def test_shipped_digits_net_accuracy_and_input_check():
    ds = load_dataset(DataConfig(name="digits"))
    net = require_feature_net("digits").net
    assert accuracy(net, unit_images(ds.test, ds.levels), ds.test_labels) > 0.95
    with pytest.raises(DataError, match="shape"):
        extract_features(net, torch.rand(2, 1, 28, 28))


def test_training_is_deterministic_and_saves_a_loadable_net(tmp_path):
    ds = load_dataset(DataConfig(name="digits"))
    recipe = Recipe(epochs=1, batch_size=64)
    a, rec = train_feature_net(ds, recipe, run_dir=tmp_path / "run")
    b, _ = train_feature_net(ds, recipe)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    # Trained by the common Trainer as the `classifier` model; the record's accuracy is the net's own.
    assert "name: classifier" in (tmp_path / "run" / "config.yaml").read_text()
    assert rec["recipe"]["steps"] == len(ds.train) // 64 and len(rec["accuracy_per_epoch"]) == 1
    assert rec["test_accuracy"] == round(accuracy(a, unit_images(ds.test, ds.levels), ds.test_labels), 4)
    entry = save_feature_net(a, "digits", rec, tmp_path)
    loaded = load_from(tmp_path, "digits")
    assert loaded.sha256 == entry["sha256"] and json.loads((tmp_path / "manifest.json").read_text())
    with pytest.raises(DataError, match="labelled image"):
        train_feature_net(load_dataset(DataConfig(name="8gaussians", n_samples=100)), recipe)


def test_reference_features_are_cached_by_hash(tmp_path):
    ds = load_dataset(DataConfig(name="digits"))
    net = require_feature_net("digits")
    first = reference(net, ds, "test")
    second = reference(net, ds, "test")
    assert not first.cached and second.cached
    assert torch.equal(first.features, second.features) and first.stats.n == len(ds.test)
    files = list((tmp_path / "cache" / "reference").glob("*.safetensors"))
    assert len(files) == 1 and net.sha256[:16] in files[0].name
    assert not reference(net, ds, "train", n=100).cached


@pytest.mark.skipif(not FASHION_DIR.is_dir(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_fd_train_vs_test_far_below_noise():
    ds = load_dataset(DataConfig(name="fashion-mnist"))
    net = require_feature_net("fashion-mnist").net
    n = 3000
    test = extract_features(net, unit_images(ds.test[:n], 256))
    train_imgs = unit_images(ds.train[:n], 256)
    train = extract_features(net, train_imgs)
    g = torch.Generator().manual_seed(0)
    noisy = extract_features(net, (train_imgs + 0.1 * torch.randn(train_imgs.shape, generator=g)).clamp(0, 1))
    uniform = extract_features(net, torch.rand(train_imgs.shape, generator=g))
    floor, fd_noisy, fd_uniform = (frechet_distance_features(test, f) for f in (train, noisy, uniform))
    assert floor < 2.0  # spec: 0.26 at 10k vs 10k; the bias grows like 1/N
    assert floor < fd_noisy < fd_uniform
    assert floor < 0.02 * fd_uniform


@pytest.mark.filterwarnings("ignore:Fréchet distance with N=")
def test_features_train_cli_for_a_labelled_image_folder(tmp_path, capsys):
    """Any labelled image folder gets its own feature space (trained by the user, kept in the cache)."""
    import numpy as np
    from PIL import Image

    from genlab.cli import main

    rng = np.random.default_rng(0)
    data = tmp_path / "shapes"
    for label, value in (("dark", 40), ("bright", 200)):
        (data / label).mkdir(parents=True)
        for i in range(20):
            img = np.clip(rng.normal(value, 20, (12, 12)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(data / label / f"{i}.png")
    argv = ["features", "train", "--data", "image-folder", "--data-dir", str(data), "--epochs", "2"]
    assert main(argv) == 0
    assert "feature network folder-shapes-cnn128" in capsys.readouterr().out
    assert (tmp_path / "cache" / "features" / "folder-shapes.safetensors").is_file()
    fake = tmp_path / "fake"
    fake.mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(fake / f"{i}.png")
    code = main(["eval", "--real", "image-folder", "--data-dir", str(data), "--fake", str(fake)])
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["n_real"] == 8 and "fd_folder_shapes" in res
    assert not res["feature_net"]["shipped"]
