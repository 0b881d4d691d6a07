"""Run folders written by hand for the report tests: the files `genlab train` and `genlab eval` leave,
without training anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

NET = {"id": "digits-cnn128", "sha256": "a2e55eac" * 8, "test_accuracy": 0.99, "features": 128,
       "shipped": True}


def samples_section(fd: float, precision: float, n: int = 200, net: dict | None = None) -> dict[str, Any]:
    return {"feature_net": net or NET, "reference": {"dataset": "digits", "split": "test"},
            "n_real": n, "n_fake": n, "fd_digits": fd, "kid_digits": fd * 2, "kid_digits_std": 0.1,
            "kid_subsets": 100, "kid_subset_size": n // 2, "precision_digits": precision,
            "prdc_k": {"precision_recall": 3, "density_coverage": 5}}


def make_run(root: Path, name: str, result: dict[str, Any] | None = None, steps: int = 20,
             model: str = "vae", grid_size: int = 24, seed: int = 0) -> Path:
    """A run folder: config.yaml, a loss curve in metrics.jsonl, one sample grid, eval.json if given."""
    run = root / name
    (run / "samples").mkdir(parents=True)
    (run / "config.yaml").write_text(f"model: {{name: {model}}}\ndata: {{name: digits}}\n"
                                     f"train: {{steps: {steps}}}\n")
    with open(run / "metrics.jsonl", "w") as f:
        for step in range(5, steps + 1, 5):
            f.write(json.dumps({"step": step, "loss": 10.0 / step, "kl": 0.1 * step, "lr/model": 1e-3,
                                "steps_per_s": 100.0}) + "\n")
    pixels = np.random.default_rng(seed).integers(0, 256, (grid_size, grid_size), dtype=np.uint8)
    Image.fromarray(pixels).save(run / "samples" / f"step-{steps:07d}.png")
    if result is not None:
        (run / "eval.json").write_text(json.dumps({"model": model, "dataset": "digits", **result}))
    return run
