"""README's plain-PyTorch training example (torch optimizer + genlab.optim wrappers + genlab.mtl rule in a
hand-written loop) runs and learns both tasks, so the documented example cannot rot."""

import re
from pathlib import Path

import torch
from torch import nn

README = Path(__file__).resolve().parents[2] / "README.md"


def training_example() -> str:
    text = README.read_text()
    start = text.index("A two-task network with a shared encoder, trained by hand:")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_readme_plain_pytorch_example_trains_both_tasks():
    ns: dict = {}
    exec(compile(training_example(), "README.md", "exec"), ns)
    x, targets, encoder, heads = ns["x"], ns["targets"], ns["encoder"], ns["heads"]
    assert ns["accuracy"] > 0.95  # sign of one input coordinate: a linearly separable task
    with torch.no_grad():
        mse = nn.functional.mse_loss(heads["regression"](encoder(x)), targets["regression"])
    assert mse < 0.1 * targets["regression"].var()  # sum of two inputs: far below predicting the mean
    weights = ns["weights"]
    assert set(weights) == {"class", "regression"}
    # MGDA's weights are a convex combination (up to the 3 rounded decimals)
    assert all(0.0 <= w <= 1.0 for w in weights.values())
    assert abs(sum(weights.values()) - 1.0) <= 2e-3
    assert ns["base"].param_groups[0]["lr"] < 1e-4  # the cosine schedule reached the base optimizer
