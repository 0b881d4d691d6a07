"""Simpler GloVe: one vector per word with <v_i, v_j> = PMI(i, j) (https://kexue.fm/archives/4669, 4677).

Demanding that analogies add up (v(airport) - v(plane) + v(train) = v(station)) forces relatedness to
be exp of an inner product, so the model is PMI(w_i, w_j) = <v_i, v_j>: no biases (which make GloVe
ill-posed: a constant shift of every vector is absorbed by them) and no separate context vectors. It
is fitted by GloVe's weighted least squares, sum_ij lambda_ij (<v_i, v_j> - log(x_ij X / (x_i x_j)))^2
with lambda_ij = min(x_ij / x_max, 1)^alpha, over the non-zero entries of a windowed co-occurrence
count x (self pairs excluded), with Adagrad (Pennington et al. 2014, eq. 8-9 for the weighting).
"""

from __future__ import annotations

import ast
import re
import sysconfig
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range


def build_vocab(docs: Iterable[Sequence[str]], min_count: int = 5, max_size: int | None = None) -> list[str]:
    """Words seen at least `min_count` times, most frequent first (ties: alphabetical)."""
    check_int("min_count", min_count, 1)
    counts = Counter(w for doc in docs for w in doc)
    words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return words[:max_size] if max_size is not None else words


def encode(docs: Iterable[Sequence[str]], vocab: Sequence[str]) -> list[list[int]]:
    """Token ids per document; out-of-vocabulary words are dropped (they neither count nor take a slot)."""
    index = {w: i for i, w in enumerate(vocab)}
    return [[index[w] for w in doc if w in index] for doc in docs]


def cooccurrence(docs: Sequence[Sequence[int]], vocab_size: int, window: int = 5,
                 distance_weighting: bool = True) -> Tensor:
    """Symmetric co-occurrence counts x_ij as a coalesced sparse (V, V) float64 tensor.

    Every pair of tokens at most `window` apart inside one document adds 1/d (GloVe's distance
    weighting; 1 without it) to x_ij and to x_ji. Pairs of a word with itself are dropped, since the
    model fits no diagonal.
    """
    check_int("window", window, 1)
    check_int("vocab_size", vocab_size, 1)
    ids = torch.tensor([t for doc in docs for t in doc], dtype=torch.long)
    doc_of = torch.repeat_interleave(torch.arange(len(docs)), torch.tensor([len(d) for d in docs],
                                                                             dtype=torch.long))
    if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"token ids must lie in [0, {vocab_size}), got range [{ids.min()}, {ids.max()}]")
    rows, cols, weights = [], [], []
    for d in range(1, window + 1):  # past the corpus length the slices are simply empty
        a, b = ids[:-d], ids[d:]
        keep = (doc_of[:-d] == doc_of[d:]) & (a != b)
        a, b = a[keep], b[keep]
        w = torch.full((len(a),), 1.0 / d if distance_weighting else 1.0, dtype=torch.float64)
        rows += [a, b]
        cols += [b, a]
        weights += [w, w]
    index = torch.stack([torch.cat(rows), torch.cat(cols)])
    return torch.sparse_coo_tensor(index, torch.cat(weights), (vocab_size, vocab_size),
                                   check_invariants=True).coalesce()


def pmi_targets(counts: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(i, j, x_ij, log(x_ij X / (x_i x_j))) for every non-zero x_ij with i < j (x is symmetric)."""
    counts = counts.coalesce()
    (i, j), x = counts.indices(), counts.values()
    marginal = torch.zeros(counts.shape[0], dtype=x.dtype).index_add_(0, i, x)
    upper = i < j
    i, j, x = i[upper], j[upper], x[upper]
    return i, j, x, x.log() + marginal.sum().log() - marginal[i].log() - marginal[j].log()


class SimplerGloVe(nn.Module):
    """One embedding per word; `forward(i, j)` is the modelled PMI <v_i, v_j>."""

    def __init__(self, vocab_size: int, dim: int, seed: int = 0):
        super().__init__()
        check_int("vocab_size", vocab_size, 2)
        check_int("dim", dim, 1)
        g = torch.Generator().manual_seed(seed)
        # GloVe's initialisation: uniform in +-0.5 / dim. A dense gradient is fine for Adagrad: a row outside
        # the batch gets a zero gradient, which adds nothing to its accumulator and moves nothing, so the
        # update is already the lazy one of genlab.optim.LazyRows (needed for Adam, not here).
        self.vectors = nn.Embedding(vocab_size, dim)
        with torch.no_grad():
            self.vectors.weight.copy_((torch.rand(vocab_size, dim, generator=g) - 0.5) / dim)

    def forward(self, i: Tensor, j: Tensor) -> Tensor:
        return (self.vectors(i) * self.vectors(j)).sum(-1)


@dataclass
class GloVeConfig:
    dim: int = 64
    x_max: float = 100.0
    alpha: float = 0.75
    lr: float = 0.1  # Adagrad, as the article found stable (GloVe's own Adagrad gave NaNs for this model)
    epochs: int = 30
    batch_size: int = 4096
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("dim", self.dim, 1)
        check_range("x_max", self.x_max, 0.0, low_open=True)
        check_range("alpha", self.alpha, 0.0)
        check_range("lr", self.lr, 0.0, low_open=True)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)


def weighted_loss(model: SimplerGloVe, i: Tensor, j: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """sum lambda_ij (<v_i, v_j> - PMI_ij)^2 over a batch of pairs (GloVe eq. 8 without biases)."""
    return (weight * (model(i, j) - target).pow(2)).sum()


def fit_glove(counts: Tensor, cfg: GloVeConfig | None = None) -> tuple[SimplerGloVe, list[float]]:
    """Train on shuffled mini-batches of the non-zero pairs; returns the model and the loss per epoch
    (summed over all pairs, so epochs compare)."""
    cfg = cfg or GloVeConfig()
    i, j, xij, target = pmi_targets(counts)
    if len(i) == 0:
        raise ValueError("the co-occurrence matrix has no off-diagonal entries to fit")
    weight = (xij / cfg.x_max).clamp(max=1.0).pow(cfg.alpha).float()
    target = target.float()
    model = SimplerGloVe(counts.shape[0], cfg.dim, cfg.seed)
    opt = torch.optim.Adagrad(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    history = []
    for _ in range(cfg.epochs):
        total = 0.0
        for batch in torch.randperm(len(i), generator=g).split(cfg.batch_size):
            loss = weighted_loss(model, i[batch], j[batch], target[batch], weight[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        history.append(total)
    return model, history


def _unit(vectors: Tensor) -> Tensor:
    return vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)


def nearest(vectors: Tensor, query: Tensor, k: int = 5, exclude: Iterable[int] = ()
            ) -> list[tuple[int, float]]:
    """The k rows of `vectors` most cosine-similar to `query`, best first, skipping `exclude`."""
    sims = _unit(vectors) @ (query / query.norm().clamp_min(1e-12))
    sims[list(exclude)] = -float("inf")
    top = sims.topk(min(k, len(sims)))
    return list(zip(top.indices.tolist(), top.values.tolist()))


def analogy(vectors: Tensor, a: int, b: int, c: int, k: int = 1) -> list[tuple[int, float]]:
    """a : b :: c : ?  as the words nearest to v_b - v_a + v_c (excluding a, b, c)."""
    unit = _unit(vectors)
    return nearest(vectors, unit[b] - unit[a] + unit[c], k, exclude=(a, b, c))


def planted_corpus(vectors: Tensor, n_docs: int, doc_len: int, seed: int = 0
                   ) -> tuple[list[list[int]], Tensor]:
    """Documents whose neighbouring tokens have PMI exactly <u_i, u_j> + const for planted rows u_i.

    The joint J_ij = pi_i pi_j exp(<u_i, u_j>) (i != j) has marginals pi when E pi = 1, with
    E = exp(U U^T) off the diagonal; normalising J to sum 1 only adds a constant log(sum pi) to
    every PMI. Each document is a stationary Markov chain with transitions P(j | i) = pi_j E_ij, so
    adjacent tokens are draws of J. Returns the documents and the planted PMI matrix (zero diagonal).
    """
    check_int("n_docs", n_docs, 1)
    check_int("doc_len", doc_len, 2)
    u = vectors.double()
    e = (u @ u.T).exp().fill_diagonal_(0.0)
    pi = torch.linalg.solve(e, torch.ones(len(u), dtype=u.dtype))
    if (pi <= 0).any():
        raise ValueError("no positive marginals make these vectors' PMI exact; use smaller or more "
                         "spread-out vectors")
    transition = pi[None, :] * e  # rows sum to (E pi)_i = 1
    g = torch.Generator().manual_seed(seed)
    state = torch.multinomial(pi / pi.sum(), n_docs, replacement=True, generator=g)
    steps = [state]
    for _ in range(doc_len - 1):
        state = torch.multinomial(transition[state], 1, generator=g).squeeze(1)
        steps.append(state)
    pmi = (u @ u.T + pi.sum().log()).fill_diagonal_(0.0)
    return torch.stack(steps, 1).tolist(), pmi


def stdlib_corpus() -> list[list[str]]:
    """English shipped with every Python: the language reference topics behind `help()`
    (pydoc_data) and the docstrings of the standard library's modules, one document per paragraph."""
    from pydoc_data.topics import topics

    texts = list(topics.values())
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if path.parent.name in ("test", "tests", "idlelib", "site-packages") or path.parent.name.startswith(
                "lib2to3"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                texts.append(ast.get_docstring(node) or "")
    docs = []
    for text in texts:
        for paragraph in re.split(r"\n\s*\n", text):
            words = re.findall(r"[a-z]+", paragraph.lower())
            if len(words) > 1:
                docs.append(words)
    return docs


def main(argv: list[str] | None = None) -> None:
    from genlab.core.arguments import ArgumentParser, integer

    parser = ArgumentParser(prog="python -m genlab.recipes.glove", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=integer(1, 10_000), default=20)
    args = parser.parse_args(argv)
    docs = stdlib_corpus()
    vocab = build_vocab(docs, min_count=10)
    ids = encode(docs, vocab)
    counts = cooccurrence(ids, len(vocab), window=5)
    print(f"Simpler GloVe on Python's own docs (pydoc topics + stdlib docstrings): "
          f"{sum(map(len, ids))} tokens, {len(vocab)} words, {counts.values().numel() // 2} word pairs")
    model, history = fit_glove(counts, GloVeConfig(dim=64, epochs=args.epochs))
    print(f"weighted loss per epoch: {history[0]:.0f} -> {history[-1]:.0f}")
    vectors = model.vectors.weight.detach()
    index = {w: i for i, w in enumerate(vocab)}
    print("nearest words by cosine:")
    for word in ("file", "thread", "socket", "year", "argument", "error"):
        if word in index:
            near = nearest(vectors, vectors[index[word]], 6, exclude=[index[word]])
            print(f"  {word:>8}: " + ", ".join(f"{vocab[n]} {s:.2f}" for n, s in near))
    print("analogies a : b :: c : ? (top 3 of v_b - v_a + v_c):")
    for a, b, c in (("open", "close", "start"), ("input", "output", "read"), ("client", "server", "send")):
        if all(w in index for w in (a, b, c)):
            guess = analogy(vectors, index[a], index[b], index[c], k=3)
            print(f"  {a} : {b} :: {c} : " + " / ".join(vocab[n] for n, _ in guess))


if __name__ == "__main__":
    main()
