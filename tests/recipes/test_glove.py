import math

import numpy as np
import pytest
import torch

from genlab.recipes.glove import (
    GloVeConfig,
    SimplerGloVe,
    analogy,
    build_vocab,
    cooccurrence,
    encode,
    fit_glove,
    nearest,
    planted_corpus,
    pmi_targets,
    weighted_loss,
)


def brute_force_counts(docs, vocab_size, window, distance_weighting):
    x = np.zeros((vocab_size, vocab_size))
    for doc in docs:
        for p, a in enumerate(doc):
            for q, b in enumerate(doc):
                if p != q and abs(p - q) <= window and a != b:
                    x[a, b] += 1.0 / abs(p - q) if distance_weighting else 1.0
    return x


@pytest.mark.parametrize("window,weighted", [(1, False), (3, True), (3, False), (50, True)])
def test_counting_matches_brute_force(window, weighted):
    g = torch.Generator().manual_seed(window)
    docs = [torch.randint(0, 6, (n,), generator=g).tolist() for n in (0, 1, 7, 12, 3)]
    counts = cooccurrence(docs, 6, window=window, distance_weighting=weighted)
    np.testing.assert_allclose(counts.to_dense().numpy(), brute_force_counts(docs, 6, window, weighted),
                               rtol=1e-12)


def test_pmi_targets_match_dense_formula():
    docs = [torch.randint(0, 8, (40,), generator=torch.Generator().manual_seed(s)).tolist() for s in range(5)]
    x = brute_force_counts(docs, 8, 4, True)
    i, j, xij, pmi = pmi_targets(cooccurrence(docs, 8, window=4))
    assert bool((i < j).all()) and len(i) == np.count_nonzero(np.triu(x, 1))
    expected = np.log(x[i, j] * x.sum() / (x.sum(1)[i] * x.sum(1)[j]))
    np.testing.assert_allclose(xij.numpy(), x[i, j], rtol=1e-12)
    np.testing.assert_allclose(pmi.numpy(), expected, rtol=1e-10)


def test_weighted_loss_is_glove_objective_without_biases():
    model = SimplerGloVe(5, 3, seed=1)
    i, j = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 4])
    target, weight = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 0.2, 0.7])
    v = model.vectors.weight.detach()
    expected = sum(float(weight[k]) * (float(v[i[k]] @ v[j[k]]) - float(target[k])) ** 2 for k in range(3))
    assert weighted_loss(model, i, j, target, weight).item() == pytest.approx(expected, rel=1e-6)


def torus_vectors(m: int = 6, n: int = 5, radius: float = 0.9) -> torch.Tensor:
    """Words on a grid of a 2-torus in R^4: every word has the same row sum of exp(<u_i, u_j>)."""
    a = torch.arange(m).repeat_interleave(n) * 2 * math.pi / m
    b = torch.arange(n).repeat(m) * 2 * math.pi / n
    return radius * torch.stack([a.cos(), a.sin(), b.cos(), b.sin()], 1)


@pytest.fixture(scope="module")
def planted():
    u = torus_vectors()
    docs, pmi = planted_corpus(u, n_docs=2000, doc_len=100, seed=0)
    # window 1: only neighbouring tokens, which are exact draws of the planted joint
    return u, pmi, cooccurrence(docs, len(u), window=1, distance_weighting=False)


def test_planted_corpus_has_the_planted_pmi(planted):
    u, pmi, counts = planted
    i, j, _, estimate = pmi_targets(counts)
    assert len(i) == len(u) * (len(u) - 1) // 2  # every pair occurs
    assert np.corrcoef(estimate.numpy(), pmi[i, j].numpy())[0, 1] > 0.99
    assert (estimate - pmi[i, j]).abs().mean() < 0.1


def test_learned_inner_products_recover_planted_pmi(planted):
    u, pmi, counts = planted
    i, j, _, _ = pmi_targets(counts)
    model, history = fit_glove(counts, GloVeConfig(dim=u.shape[1] + 1, epochs=30, batch_size=64))
    assert history[-1] < 0.2 * history[0]
    v = model.vectors.weight.detach().double()
    learned, truth = (v @ v.T)[i, j], pmi[i, j]
    v0 = SimplerGloVe(len(u), u.shape[1] + 1).vectors.weight.detach().double()
    assert abs(np.corrcoef((v0 @ v0.T)[i, j].numpy(), truth.numpy())[0, 1]) < 0.5  # untrained: no signal
    assert np.corrcoef(learned.numpy(), truth.numpy())[0, 1] > 0.98
    # A constant offset is allowed: the planted PMI is <u_i, u_j> - c with c > 0 (the pi-weighted mean of
    # exp(PMI) is 1), and a low-rank Gram matrix cannot add a negative constant off its diagonal.
    assert (learned - truth).std() < 0.1


def test_nearest_and_analogy_on_hand_built_vectors():
    vectors = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0],
                            [1.0, 0.1, 0.0]])
    assert [k for k, _ in nearest(vectors, vectors[0], k=2, exclude=[0])] == [4, 1]
    sims = dict(nearest(vectors, vectors[0], k=5))
    assert sims[0] == pytest.approx(1.0) and sims[2] == pytest.approx(0.0, abs=1e-7)
    assert analogy(vectors, 0, 1, 2)[0][0] == 3  # 0 : 1 :: 2 : 3 (both add the second axis)


def test_vocab_and_encode():
    docs = [["b", "a", "c"], ["a", "b", "a", "d"]]
    assert build_vocab(docs, min_count=2) == ["a", "b"]
    assert build_vocab(docs, min_count=1, max_size=3) == ["a", "b", "c"]
    assert encode(docs, ["a", "b"]) == [[1, 0], [0, 1, 0]]


def test_bad_inputs():
    with pytest.raises(ValueError, match="token ids"):
        cooccurrence([[0, 5]], 3)
    with pytest.raises(ValueError, match="window"):
        cooccurrence([[0, 1]], 3, window=0)
    with pytest.raises(ValueError, match="no off-diagonal"):
        fit_glove(cooccurrence([[1, 1, 1]], 3))
    with pytest.raises(ValueError, match="x_max"):
        GloVeConfig(x_max=0.0)
    with pytest.raises(ValueError, match="positive marginals"):
        planted_corpus(torch.randn(30, 3, generator=torch.Generator().manual_seed(0)), 2, 5)
