"""`genlab eval --real DATASET --fake FOLDER_OR_NPZ` and the sample metrics of `genlab eval RUN_DIR`."""

import json

import numpy as np
import pytest
from PIL import Image

from genlab.cli import main
from genlab.config import DataConfig
from genlab.core.errors import DataError
from genlab.data import load_dataset
from genlab.data.sample_files import read_samples

pytestmark = pytest.mark.filterwarnings("ignore:n_fake=", "ignore:Fréchet distance with N=")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))


def _eval(argv, capsys):
    code = main(["eval", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def _png_folder(folder, images):
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:04d}.png")
    return folder


def test_eval_png_folder_against_digits(tmp_path, capsys):
    digits = load_dataset(DataConfig(name="digits"))
    real_like = (digits.train[:150, 0].numpy().astype(np.float64) * 255 / 16).round().astype(np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (150, 8, 8), dtype=np.uint8)
    good = _png_folder(tmp_path / "good", real_like)
    bad = _png_folder(tmp_path / "bad", noise)
    code, res, _ = _eval(["--real", "digits", "--fake", str(good), "-o", str(tmp_path / "e.json")], capsys)
    assert code == 0 and json.loads((tmp_path / "e.json").read_text()) == res
    assert res["n_fake"] == 150 and res["n_real"] == len(digits.test)
    assert res["reference"]["split"] == "test" and len(res["feature_net"]["sha256"]) == 64
    for key in ("fd_digits", "kid_digits", "kid_digits_std", "precision_digits", "recall_digits",
                "density_digits", "coverage_digits"):
        assert key in res, key
    assert not any("fid" in k.lower() for k in res)
    code, noisy, _ = _eval(["--real", "digits", "--fake", str(bad)], capsys)
    assert code == 0 and noisy["reference"]["cached"]  # second run reuses the reference features
    assert noisy["fd_digits"] > 5 * res["fd_digits"] and noisy["kid_digits"] > 5 * res["kid_digits"]
    assert noisy["density_digits"] < res["density_digits"]


def test_eval_npz_toy_and_images(tmp_path, capsys):
    toy = load_dataset(DataConfig(name="8gaussians", n_samples=2000))
    np.savez(tmp_path / "toy.npz", samples=toy.train[:1000].numpy())
    code, res, _ = _eval(["--real", "8gaussians", "--fake", str(tmp_path / "toy.npz")], capsys)
    assert code == 0 and res["modes"] == 8 and res["high_quality"] > 0.95 and "mmd2_rbf" in res
    digits = load_dataset(DataConfig(name="digits"))
    np.savez(tmp_path / "img.npz", digits.test[:64].numpy().transpose(0, 2, 3, 1).astype(np.float32) / 16)
    code, res, _ = _eval(["--real", "digits", "--fake", str(tmp_path / "img.npz"), "--n-real", "200"],
                         capsys)
    assert code == 0 and res["n_fake"] == 64 and res["n_real"] == 200
    assert any("rank deficient" in w for w in res["warnings"])  # N=64 <= d=128 is recorded


def test_eval_bad_input_is_a_clear_error(tmp_path, capsys):
    code, _, err = _eval(["--real", "digits", "--fake", str(tmp_path / "missing")], capsys)
    assert code == 1 and "not found" in err
    code, _, err = _eval(["--real", "digits"], capsys)
    assert code == 2 and "--fake" in err
    np.savez(tmp_path / "big.npz", samples=np.full((4, 8, 8), 3.0, dtype=np.float32))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        read_samples(tmp_path / "big.npz", image=True)
    wrong = _png_folder(tmp_path / "wrong", np.zeros((3, 28, 28), np.uint8))
    code, _, err = _eval(["--real", "digits", "--fake", str(wrong)], capsys)
    assert code == 1 and "shape" in err


def test_eval_vae_run_adds_feature_metrics(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "vae-digits", "--out", str(run_dir), "train.steps=30",
                 "train.progress=false", "train.ckpt_every=30", "train.sample_every=0"]) == 0
    capsys.readouterr()
    code, res, _ = _eval([str(run_dir), "--importance-samples", "5", "--n-test", "50"], capsys)
    assert code == 0
    samples = res["samples"]
    assert samples["n_fake"] == samples["n_real"] == 359
    assert samples["fd_digits"] > 0 and 0 <= samples["coverage_digits"] <= 1
    assert "elbo_bits_per_dim" in res["likelihood"]
    assert json.loads((run_dir / "eval.json").read_text())["samples"]["fd_digits"] == samples["fd_digits"]
