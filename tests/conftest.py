import pytest
import torch


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    yield


@pytest.fixture
def toy_models():
    """The models of `tests/toy_models.py`, registered for this test only."""
    from tests.toy_models import TOY_MODELS, registered

    with registered():
        yield TOY_MODELS


def tiny_vae(**overrides):
    """Raw config dict of a small VAE on 8 Gaussians (fast, deterministic on CPU)."""
    raw = {
        "model": {"name": "vae", "latent_dim": 2, "hidden": 16, "depth": 1},
        "data": {"name": "8gaussians", "batch_size": 32, "n_samples": 512},
        "optim": {"default": {"lr": 1e-3}},
        "train": {"steps": 20, "log_every": 1, "ckpt_every": 10, "progress": False},
        "eval": {"n_test": 64, "importance_samples": 20},
    }
    for key, value in overrides.items():
        section, name = key.split("__")
        raw.setdefault(section, {})[name] = value
    return raw
