"""README's one-file model really trains, samples and evaluates (the example must not rot)."""

import re
from pathlib import Path

import torch

from genlab import Config, Sampler, Trainer, evaluate, load_run
from genlab.models import MODELS

README = Path(__file__).resolve().parents[1] / "README.md"


def one_file_model() -> str:
    text = README.read_text()
    start = text.index("A new family is one file:")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_readme_one_file_model(tmp_path):
    namespace: dict = {}
    exec(compile(one_file_model(), "README.md", "exec"), namespace)
    try:
        cfg = Config.from_dict({"model": {"name": "gauss"}, "data": {"name": "moons", "batch_size": 64,
                                                                     "n_samples": 1024},
                                "optim": {"default": {"lr": 0.05}},
                                "train": {"steps": 200, "progress": False, "log_every": 50}})
        with Trainer(cfg, tmp_path) as trainer:
            trainer.fit()
        run = load_run(tmp_path, device="cpu")
        assert isinstance(run.model, Sampler)
        data = run.dataset.train.float()
        assert torch.allclose(run.model.mu, data.mean(0), atol=0.1)  # the ML estimate of the mean
        assert torch.allclose(run.model.log_std.exp(), data.std(0), atol=0.1)
        assert evaluate(run.model, run.dataset, run.pixels, run.cfg.eval, "cpu")["samples"]["mmd2_rbf"] < 0.05
    finally:
        MODELS.unregister("gauss")
    assert "gauss" not in MODELS
