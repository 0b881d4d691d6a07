"""A prefix tree of token-id sequences and decoding that can only emit its entries.

Retrieval as generation (https://kexue.fm/archives/8802; GENRE, De Cao et al., arXiv:2010.00904): a model
scores the next token of every prefix, tokens that leave the trie are masked out, and the survivors are
renormalised, so greedy or beam search can only return stored entries. Any model plugs in through
`step(prefixes) -> Tensor[batch, vocab]` of log-probabilities (or logits: renormalising removes the shift).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor

Ids = tuple[int, ...]
StepFn = Callable[[list[Ids]], Tensor]


class Trie:
    """Token-id sequences stored as nested dicts; every entry ends with the `eos` id inside the tree."""

    def __init__(self, eos: int, entries: Iterable[Sequence[int]] = ()):
        if isinstance(eos, bool) or not isinstance(eos, int) or eos < 0:
            raise ValueError(f"eos must be a token id (int >= 0), got {eos!r}")
        self.eos = eos
        self._root: dict[int, dict] = {}
        self._values: dict[Ids, Any] = {}
        for ids in entries:
            self.insert(ids)

    def insert(self, ids: Sequence[int], value: Any = None) -> None:
        """Add the entry `ids` (without eos) and attach `value` to it, replacing an earlier value."""
        key = tuple(int(i) for i in ids)
        if any(i < 0 or i == self.eos for i in key):
            raise ValueError(f"entry ids must be >= 0 and differ from eos={self.eos}, got {key}")
        node = self._root
        for tok in (*key, self.eos):
            node = node.setdefault(tok, {})
        self._values[key] = value

    def allowed_next(self, prefix: Sequence[int]) -> list[int]:
        """Sorted ids that keep `prefix` inside the trie (eos if `prefix` is itself an entry); [] if none."""
        node = self._root
        for tok in prefix:
            if tok not in node:
                return []
            node = node[tok]
        return sorted(node)

    def get(self, ids: Sequence[int], default: Any = None) -> Any:
        return self._values.get(tuple(ids), default)

    def keys(self, prefix: Sequence[int] = ()) -> Iterator[Ids]:
        """Entries starting with `prefix`, in insertion order."""
        prefix = tuple(prefix)
        return (k for k in self._values if k[: len(prefix)] == prefix)

    def __contains__(self, ids: object) -> bool:
        return isinstance(ids, Sequence) and tuple(ids) in self._values

    def __iter__(self) -> Iterator[Ids]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _expand(step: StepFn, trie: Trie, prefixes: list[Ids], renormalize: bool
            ) -> list[list[tuple[int, float]]]:
    """(token, log-prob) of every allowed continuation of every prefix."""
    scores = step(prefixes)
    if not isinstance(scores, Tensor) or scores.ndim != 2 or scores.shape[0] != len(prefixes):
        raise ValueError(f"step must return a Tensor[{len(prefixes)}, vocab], got "
                         f"{tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__}")
    out = []
    for row, prefix in zip(scores, prefixes):
        allowed = trie.allowed_next(prefix)
        if allowed[-1] >= row.numel():
            raise ValueError(f"step returned vocab size {row.numel()} but the trie uses id {allowed[-1]}")
        logp = row[torch.tensor(allowed, device=row.device)]
        if renormalize:
            logp = logp - torch.logsumexp(logp, 0)
        out.append(list(zip(allowed, logp.tolist())))
    return out


def _check_trie(trie: Trie) -> None:
    if not isinstance(trie, Trie) or len(trie) == 0:
        raise ValueError("trie must be a non-empty Trie (there is nothing to decode)")


def constrained_greedy(step: StepFn, trie: Trie, renormalize: bool = True) -> tuple[Ids, float]:
    """Most likely next token at every step (ties: smallest id); returns an entry and its log-score."""
    _check_trie(trie)
    prefix, score = (), 0.0
    while True:
        tok, logp = max(_expand(step, trie, [prefix], renormalize)[0], key=lambda c: c[1])
        score += logp
        if tok == trie.eos:
            return prefix, score
        prefix += (tok,)


def constrained_beam_search(step: StepFn, trie: Trie, beam: int, renormalize: bool = True
                            ) -> list[tuple[Ids, float]]:
    """The best `beam` entries found, best first, as (ids without eos, summed log-score).

    Each round keeps the `beam` best one-token extensions of the live prefixes; those ending in eos
    retire as results. With beam >= len(trie) nothing is ever pruned, so the search is exact.
    """
    _check_trie(trie)
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ValueError(f"beam must be an int >= 1, got {beam!r}")
    live: list[tuple[Ids, float]] = [((), 0.0)]
    done: list[tuple[Ids, float]] = []
    while live:
        rows = _expand(step, trie, [p for p, _ in live], renormalize)
        cands = [(p + (tok,), s + lp) for (p, s), row in zip(live, rows) for tok, lp in row]
        cands.sort(key=lambda c: -c[1])
        live = []
        for ids, s in cands[:beam]:
            (done if ids[-1] == trie.eos else live).append((ids, s))
    done = [(ids[:-1], s) for ids, s in done]
    return sorted(done, key=lambda c: -c[1])[:beam]


def score_entry(step: StepFn, trie: Trie, ids: Sequence[int], renormalize: bool = True) -> float:
    """Summed constrained log-score of one stored entry (for re-ranking, or to check a search)."""
    ids = tuple(ids)
    if ids not in trie:
        raise ValueError(f"{ids} is not an entry of the trie")
    full = (*ids, trie.eos)
    rows = _expand(step, trie, [full[:t] for t in range(len(full))], renormalize)
    return sum(dict(row)[tok] for row, tok in zip(rows, full))


def main(argv: list[str] | None = None) -> None:
    from genlab.core.arguments import ArgumentParser, integer

    parser = ArgumentParser(prog="python -m genlab.recipes.trie", description=__doc__.splitlines()[0])
    parser.add_argument("--beam", type=integer(1, 8), default=3, help="the narrow beam compared with beam 8")
    parser.add_argument("--seed", type=integer(0, 2**32 - 1), default=0,
                        help="seed of the random bigram scorer")
    args = parser.parse_args(argv)
    words = ["moon", "moonlight", "morning", "mountain", "music", "muse", "more", "mood"]
    chars = sorted(set("".join(words)))
    vocab = {c: i + 1 for i, c in enumerate(chars)}  # id 0 is eos
    trie = Trie(eos=0)
    for w in words:
        trie.insert([vocab[c] for c in w], value=w)
    table = torch.randn(len(vocab) + 2, len(vocab) + 1, generator=torch.Generator().manual_seed(args.seed))

    def bigram(prefixes: list[Ids]) -> Tensor:  # a fixed toy "model": scores depend on the last token
        last = torch.tensor([p[-1] if p else len(vocab) + 1 for p in prefixes])
        return torch.log_softmax(table[last], dim=-1)

    best, _ = constrained_greedy(bigram, trie)
    print(f"Trie-constrained decoding over {len(trie)} words with a random bigram scorer; greedy: "
          f"{trie.get(best)}")
    exact = sorted(((k, score_entry(bigram, trie, k)) for k in trie), key=lambda c: -c[1])
    small = constrained_beam_search(bigram, trie, beam=args.beam)
    full = constrained_beam_search(bigram, trie, beam=8)
    cell = lambda c: f"{trie.get(c[0]):<11}{c[1]:7.3f}  " if c else " " * 20  # noqa: E731
    print(f"{'rank':>4}  {f'beam={args.beam}':<20}{'beam=8 (exact)':<20}brute force")
    for r in range(5):
        cells = (cell(res[r] if r < len(res) else None) for res in (small, full, exact))
        print(f"{r + 1:4d}  " + "".join(cells).rstrip())

if __name__ == "__main__":
    main()
