import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles

from genlab.recipes.linear_autoencoder import fit_linear_autoencoder, lowrank_reconstruct, synthetic_data

SIGMAS = [8.0, 6.0, 4.0, 3.0, 1.0, 0.5]


@pytest.fixture(scope="module")
def data() -> torch.Tensor:
    return synthetic_data(120, SIGMAS, seed=1)


def test_synthetic_data_has_the_requested_spectrum(data):
    np.testing.assert_allclose(np.linalg.svd(data.numpy(), compute_uv=False), SIGMAS, rtol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_lowrank_reconstruct_meets_eckart_young(data, k):
    err = (lowrank_reconstruct(data, k) - data).pow(2).sum().item()
    assert err == pytest.approx(sum(s**2 for s in SIGMAS[k:]), rel=1e-12)
    assert torch.linalg.matrix_rank(lowrank_reconstruct(data, k)).item() == k


@pytest.mark.parametrize("k", [1, 3])
def test_autoencoder_reaches_svd_error_and_subspace(data, k):
    model, ae_err = fit_linear_autoencoder(data, k, seed=k)
    assert ae_err == pytest.approx(sum(s**2 for s in SIGMAS[k:]), rel=1e-7)  # why: L-BFGS to ~1e-12 grads
    top = np.linalg.svd(data.numpy())[2][:k].T  # (d, k) top right singular vectors
    decoder = model.decoder.weight.detach().numpy()  # (d, k): the decoder's column space
    assert subspace_angles(decoder, top).max() < 1e-5
    # at the optimum decoder @ encoder is the orthogonal projector onto that subspace
    product = (model.decoder.weight @ model.encoder.weight).detach().numpy()
    np.testing.assert_allclose(product, top @ top.T, atol=1e-5)


def test_code_too_small_for_the_rank_leaves_error():
    rank4 = synthetic_data(80, [5.0, 4.0, 3.0, 2.0, 0.0, 0.0], seed=2)
    _, enough = fit_linear_autoencoder(rank4, 4)
    _, too_small = fit_linear_autoencoder(rank4, 2)
    assert enough < 1e-8
    assert too_small == pytest.approx(3.0**2 + 2.0**2, rel=1e-7)


def test_follows_input_dtype():
    x = synthetic_data(30, [3.0, 2.0, 1.0], dtype=torch.float32)
    model, _ = fit_linear_autoencoder(x, 1, max_iter=20)
    assert model.encoder.weight.dtype == torch.float32 and model.decoder.weight.device == x.device


def test_bad_inputs(data):
    with pytest.raises(ValueError, match="k must be"):
        fit_linear_autoencoder(data, 0)
    with pytest.raises(ValueError, match="k must be"):
        lowrank_reconstruct(data, 7)
    with pytest.raises(ValueError, match="matrix"):
        lowrank_reconstruct(data[0], 1)
    with pytest.raises(ValueError, match="matrix"):
        lowrank_reconstruct(torch.ones(3, 3, dtype=torch.long), 1)
