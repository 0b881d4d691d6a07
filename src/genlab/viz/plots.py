"""Matplotlib figures a person looks at: loss curves and 2-D sample scatter plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402


def plot_losses(records: list[dict[str, Any]], path: str | Path) -> Path | None:
    """One panel per logged training scalar (not lr/eval/timing) against the step."""
    train = [r for r in records if "step" in r and not any(k.startswith("eval/") for k in r)]
    skip = {"step", "time", "steps_per_s"}
    keys = sorted({k for r in train for k, v in r.items()
                   if k not in skip and not k.startswith("lr/") and isinstance(v, (int, float))})
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        pts = [(r["step"], r[key]) for r in train if key in r]
        ax.plot(*zip(*pts), lw=1.2)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_points(samples: Tensor, path: str | Path, reference: Tensor | None = None,
                title: str = "") -> Path:
    """Scatter of 2-D samples (orange) over reference data (grey)."""
    fig, ax = plt.subplots(figsize=(4, 4))
    if reference is not None:
        r = reference.detach().cpu()
        ax.scatter(r[:, 0], r[:, 1], s=2, c="0.7", alpha=0.5, label="data")
    s = samples.detach().float().cpu()
    ax.scatter(s[:, 0], s[:, 1], s=2, c="tab:orange", alpha=0.7, label="samples")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right", markerscale=4)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
