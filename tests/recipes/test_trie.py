import math

import pytest
import torch

from genlab.recipes.trie import Trie, constrained_beam_search, constrained_greedy, score_entry

EOS, VOCAB = 0, 10


def random_trie(seed: int, n: int = 12) -> Trie:
    g = torch.Generator().manual_seed(seed)
    trie = Trie(eos=EOS)
    for _ in range(n):
        length = int(torch.randint(1, 5, (1,), generator=g))
        entry = torch.randint(1, 5, (length,), generator=g).tolist()  # small alphabet: shared prefixes
        trie.insert(entry)
        trie.insert(entry[:-1] or entry)  # also store a prefix of it, so eos competes with children
    return trie


def random_scorer(seed: int):
    g = torch.Generator().manual_seed(seed)
    return lambda prefixes: torch.randn(len(prefixes), VOCAB, generator=g, dtype=torch.float64)


def bigram_scorer(seed: int):
    table = torch.randn(VOCAB + 1, VOCAB, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)

    def step(prefixes):
        return torch.log_softmax(table[[p[-1] if p else VOCAB for p in prefixes]], dim=-1)

    return step


def brute_force(step, trie):
    """Every entry scored token by token: log-softmax of the model's scores over the allowed ids only."""
    scored = []
    for entry in trie:
        total, full = 0.0, (*entry, EOS)
        for t, tok in enumerate(full):
            allowed = sorted({e[t] if t < len(e) else EOS for e in trie if e[:t] == full[:t]})
            row = step([full[:t]])[0][allowed]
            total += (row[allowed.index(tok)] - torch.logsumexp(row, 0)).item()
        scored.append((entry, total))
    return sorted(scored, key=lambda c: -c[1])


def test_trie_basics():
    trie = Trie(eos=EOS, entries=[(3, 1), (3, 1, 2)])
    trie.insert([5], value="five")
    assert len(trie) == 3 and list(trie) == [(3, 1), (3, 1, 2), (5,)]
    assert (3, 1) in trie and (3,) not in trie and [5] in trie
    assert trie.allowed_next(()) == [3, 5] and trie.allowed_next((3, 1)) == [EOS, 2]
    assert trie.allowed_next((7,)) == [] and trie.allowed_next((5, EOS)) == []
    assert trie.get((5,)) == "five" and list(trie.keys((3,))) == [(3, 1), (3, 1, 2)]


@pytest.mark.parametrize("seed", range(5))
def test_decoding_never_leaves_the_trie(seed):
    trie = random_trie(seed)
    best, _ = constrained_greedy(random_scorer(seed), trie)
    assert best in trie
    results = constrained_beam_search(random_scorer(seed + 100), trie, beam=3)
    assert 1 <= len(results) <= 3 and all(ids in trie for ids, _ in results)
    assert len({ids for ids, _ in results}) == len(results)


@pytest.mark.parametrize("seed", range(3))
def test_wide_beam_is_exact_brute_force(seed):
    trie, step = random_trie(seed), bigram_scorer(seed)
    exact = brute_force(step, trie)
    found = constrained_beam_search(step, trie, beam=len(trie))
    assert [ids for ids, _ in found] == [ids for ids, _ in exact]
    for (_, s), (_, t) in zip(found, exact):
        assert s == pytest.approx(t, abs=1e-9)
    assert sum(math.exp(s) for _, s in found) == pytest.approx(1.0)  # renormalised: a distribution
    assert score_entry(step, trie, exact[0][0]) == pytest.approx(exact[0][1], abs=1e-9)


def test_greedy_equals_beam_one_and_uniform_scorer_is_uniform_per_branch():
    trie, step = random_trie(7), bigram_scorer(7)
    (beam_ids, beam_score), (greedy_ids, greedy_score) = (constrained_beam_search(step, trie, beam=1)[0],
                                                          constrained_greedy(step, trie))
    assert beam_ids == greedy_ids and beam_score == pytest.approx(greedy_score)
    flat = Trie(eos=EOS, entries=[(1,), (2,), (3,), (4,)])
    uniform = lambda prefixes: torch.zeros(len(prefixes), VOCAB)  # noqa: E731
    assert [s for _, s in constrained_beam_search(uniform, flat, beam=4)] == pytest.approx([-math.log(4)] * 4)


def test_bad_inputs():
    step = bigram_scorer(0)
    with pytest.raises(ValueError, match="non-empty"):
        constrained_greedy(step, Trie(eos=EOS))
    with pytest.raises(ValueError, match="non-empty"):
        constrained_beam_search(step, Trie(eos=EOS), beam=2)
    trie = Trie(eos=EOS, entries=[(1, 2)])
    for beam in (0, -1, 1.5):
        with pytest.raises(ValueError, match="beam"):
            constrained_beam_search(step, trie, beam=beam)
    with pytest.raises(ValueError, match="eos"):
        trie.insert([1, EOS])
    with pytest.raises(ValueError, match="eos"):
        Trie(eos=-1)
    with pytest.raises(ValueError, match="Tensor"):
        constrained_greedy(lambda p: torch.zeros(len(p) + 1, VOCAB), trie)
    with pytest.raises(ValueError, match="vocab"):
        constrained_greedy(lambda p: torch.zeros(len(p), 2), trie)
    with pytest.raises(ValueError, match="not an entry"):
        score_entry(step, trie, [1])
