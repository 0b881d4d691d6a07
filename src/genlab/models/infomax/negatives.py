"""Negative pairs for in-batch mutual-information estimates: a uniformly random derangement.

Pairing item i with item perm[i] draws from the product of marginals only if perm[i] != i; a plain
random permutation leaves about one fixed point per batch, i.e. a *positive* pair labelled negative
(the pitfall noted for https://kexue.fm/archives/6024 in genlab's spec). A derangement (a permutation
without fixed points) avoids it.
"""

from __future__ import annotations

import torch
from torch import Tensor


def derangement(n: int, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> Tensor:
    """A permutation of range(n) with perm[i] != i for every i, uniform over all derangements.

    Rejection sampling of `torch.randperm`: a random permutation is a derangement with probability
    about 1/e, so about e draws are needed on average. n must be >= 2 (no derangement of 1 item).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"a derangement needs n >= 2 items (one item can only pair with itself), got {n!r}")
    idx = torch.arange(n)
    while True:
        # drawn on the CPU so a CPU generator serves every device and the draw is device-independent
        perm = torch.randperm(n, generator=generator)
        if not (perm == idx).any():
            return perm if device is None else perm.to(device)
