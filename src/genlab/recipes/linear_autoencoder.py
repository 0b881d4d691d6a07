"""A linear autoencoder trained by gradient descent finds the truncated SVD (https://kexue.fm/archives/4208).

Without activations x -> x C -> x C D is a rank-k factorisation of the data matrix, so the best it can
reach is the Eckart-Young error sum_{i>k} sigma_i^2, and at that optimum D's rows span the top-k right
singular vectors (Baldi & Hornik 1989: the loss has no other local minima, only saddles). The autoencoder
form trains in mini-batches where an SVD would need the whole matrix.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _check(x: Tensor, k: int) -> None:
    if x.ndim != 2 or not x.is_floating_point():
        raise ValueError(f"data must be a floating (n, d) matrix, got shape {tuple(x.shape)} and {x.dtype}")
    if not 1 <= k <= min(x.shape):
        raise ValueError(f"k must be in [1, {min(x.shape)}] for data of shape {tuple(x.shape)}, got {k}")


def lowrank_reconstruct(x: Tensor, k: int) -> Tensor:
    """Best rank-k approximation of x in Frobenius norm: the truncated SVD U_k S_k V_k^T."""
    _check(x, k)
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    return (u[:, :k] * s[:k]) @ vh[:k]


class LinearAutoencoder(nn.Module):
    """x -> decoder(encoder(x)) with encoder d -> k and decoder k -> d, both linear without bias."""

    def __init__(self, d: int, k: int, device: torch.device | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        if not 1 <= k <= d:
            raise ValueError(f"code size k must be in [1, d={d}], got {k}")
        self.encoder = nn.Linear(d, k, bias=False, device=device, dtype=dtype)
        self.decoder = nn.Linear(k, d, bias=False, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


def fit_linear_autoencoder(x: Tensor, k: int, max_iter: int = 300, seed: int = 0
                           ) -> tuple[LinearAutoencoder, float]:
    """Fit by full-batch L-BFGS (a gradient method; plain Adam/SGD reach the same point, only slower).

    Minimises the summed squared reconstruction error of the rows of x; returns the model and that error.
    """
    _check(x, k)
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    torch.manual_seed(seed)  # nn.Linear draws its initial weights from the global generator
    model = LinearAutoencoder(x.shape[1], k, device=x.device, dtype=x.dtype)
    opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure() -> Tensor:
        opt.zero_grad()
        loss = (model(x) - x).pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return model, (model(x) - x).pow(2).sum().item()


def synthetic_data(n: int, singular_values: list[float], seed: int = 0, dtype: torch.dtype = torch.float64
                   ) -> Tensor:
    """An (n, d) matrix with the given singular values and random singular vectors."""
    g = torch.Generator().manual_seed(seed)
    d = len(singular_values)
    u, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=dtype))
    v, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=dtype))
    return (u * torch.tensor(singular_values, dtype=dtype)) @ v.T


def main(argv: list[str] | None = None) -> None:
    from scipy.linalg import subspace_angles

    from genlab.core.arguments import ArgumentParser

    ArgumentParser(prog="python -m genlab.recipes.linear_autoencoder",
                   description=__doc__.splitlines()[0]).parse_args(argv)

    x = synthetic_data(200, [8.0, 6.0, 4.0, 3.0, 1.0, 0.5, 0.3, 0.1])
    print("Linear autoencoder (full-batch L-BFGS) vs truncated SVD on a 200 x 8 matrix")
    print(f"{'k':>3}{'AE error':>12}{'SVD error':>12}{'max angle (rad)':>17}")
    for k in (1, 2, 3, 5):
        model, ae_err = fit_linear_autoencoder(x, k)
        svd_err = (lowrank_reconstruct(x, k) - x).pow(2).sum().item()
        vh = torch.linalg.svd(x, full_matrices=False)[2]
        angle = subspace_angles(model.decoder.weight.detach().numpy(), vh[:k].T.numpy()).max()
        print(f"{k:3d}{ae_err:12.6f}{svd_err:12.6f}{angle:17.2e}")


if __name__ == "__main__":
    main()
