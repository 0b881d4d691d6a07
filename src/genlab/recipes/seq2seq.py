"""Retrieval as seq2seq: a question is decoded into a stored (subject, predicate) key under a prefix trie.

https://kexue.fm/archives/8802 (KgCLUE): train question -> "S [SEP] P" from positive pairs only, then
decode under `genlab.recipes.trie`, so every answer is an existing entry and a misspelt subject in the
question still lands on a real one. Here on a generated knowledge base: made-up subject names of 2-3
syllables, six predicates each asked by three phrasings, and held-out questions pairing a subject and a
predicate never seen together in training, with one syllable of the name corrupted in a share of the
questions. The model is a small GRU encoder-decoder with dot-product attention (Luong et al. 2015),
trained from scratch as a genlab `Model` by genlab's trainer on token batches (`DataSpec.vocab_size`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from genlab.core.checks import check_int, check_range
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.data.dataset import Dataset
from genlab.recipes.fit import fit_in_memory
from genlab.recipes.trie import Ids, StepFn, Trie, constrained_beam_search, constrained_greedy

PAD, EOS, BOS, SEP = 0, 1, 2, 3
SPECIALS = ("<pad>", "<eos>", "<bos>", "<sep>")
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zu", "be", "do", "fa", "gi", "ho", "ja", "pe")
QUESTIONS = {  # three phrasings per predicate; "{s}" stands for the subject's name
    "capital": ("what is the capital of {s}", "which city is the capital of {s}",
                "{s} has its seat of government where"),
    "founder": ("who founded {s}", "{s} was founded by whom", "name the person who started {s}"),
    "population": ("how many people live in {s}", "what is the population of {s}",
                   "{s} has how many inhabitants"),
    "language": ("what language is spoken in {s}", "which tongue do people in {s} speak",
                 "the main language of {s} is what"),
    "currency": ("what money is used in {s}", "which currency does {s} use", "you pay with what in {s}"),
    "leader": ("who leads {s}", "who is the head of {s}", "{s} is governed by whom"),
}


@dataclass
class KBQATask:
    """A generated knowledge base of (subject, predicate) keys and questions about them, as token ids."""

    vocab: list[str]
    entries: list[tuple[Ids, str]]  # (subject syllable ids, predicate), the retrieval database
    train: list[tuple[Ids, Ids]]  # (question ids, target ids without eos)
    test: list[tuple[Ids, Ids]]

    def target(self, subject: Ids, predicate: str) -> Ids:
        return (*subject, SEP, self.vocab.index(predicate))

    def trie(self) -> Trie:
        """All stored keys "S [SEP] P", each ending in eos."""
        trie = Trie(eos=EOS)
        for subject, predicate in self.entries:
            trie.insert(self.target(subject, predicate), value=(self.decode(subject), predicate))
        return trie

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.vocab[i] for i in ids)

    def dataset(self) -> Dataset:
        """Padded token tensors: x the questions, labels the targets with eos (pad id 0 after)."""
        def pad(rows: list[Ids]) -> Tensor:
            out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
            for k, r in enumerate(rows):
                out[k, : len(r)] = torch.tensor(r)
            return out

        splits = [([q for q, _ in s], [(*t, EOS) for _, t in s]) for s in (self.train, self.test)]
        (xtr, ytr), (xte, yte) = [(pad(q), pad(t)) for q, t in splits]
        return Dataset("kbqa-toy", xtr, xte, train_labels=ytr, test_labels=yte, vocab_size=len(self.vocab))


def make_task(n_subjects: int = 300, predicates_per_subject: int = 3, noise: float = 0.3, seed: int = 0
              ) -> KBQATask:
    """Subjects with unique random names, each with `predicates_per_subject` stored predicates. One key
    per subject is held out: its question (one random phrasing) is in the test split and never asked in
    training, so a correct answer combines a subject and a predicate only seen apart. With probability
    `noise` one syllable of the subject's mention is replaced by another, in training and test alike."""
    check_int("n_subjects", n_subjects, 2)
    if n_subjects > MAX_SUBJECTS:  # the name draw below would never end
        raise ValueError(f"n_subjects must be <= {MAX_SUBJECTS} (distinct 2-3 syllable names), "
                         f"got {n_subjects}")
    check_int("predicates_per_subject", predicates_per_subject, 2)
    if predicates_per_subject > len(QUESTIONS):
        raise ValueError(f"predicates_per_subject must be <= {len(QUESTIONS)}, got {predicates_per_subject}")
    check_range("noise", noise, 0.0, 1.0)
    words = sorted({w for qs in QUESTIONS.values() for q in qs for w in q.split() if w != "{s}"}
                   | set(QUESTIONS))
    vocab = [*SPECIALS, *SYLLABLES, *words]
    syllable = {s: vocab.index(s) for s in SYLLABLES}
    g = torch.Generator().manual_seed(seed)
    names: dict[Ids, None] = {}
    while len(names) < n_subjects:
        n = 2 + int(torch.randint(2, (1,), generator=g))
        names[tuple(syllable[SYLLABLES[i]] for i in torch.randint(len(SYLLABLES), (n,), generator=g))] = None
    predicates = list(QUESTIONS)
    entries = [(s, predicates[p]) for s in names
               for p in torch.randperm(len(predicates), generator=g)[:predicates_per_subject].tolist()]
    task = KBQATask(vocab, entries, [], [])

    def question(subject: Ids, template: str) -> Ids:
        mention = list(subject)
        if float(torch.rand((), generator=g)) < noise:
            k = int(torch.randint(len(mention), (1,), generator=g))
            others = [syllable[s] for s in SYLLABLES if syllable[s] != mention[k]]
            mention[k] = others[int(torch.randint(len(others), (1,), generator=g))]
        ids: list[int] = []
        for w in template.split():
            ids += mention if w == "{s}" else [vocab.index(w)]
        return tuple(ids)

    for k, (subject, predicate) in enumerate(entries):
        target = task.target(subject, predicate)
        if k % predicates_per_subject == 0:  # the first stored predicate of each subject
            template = QUESTIONS[predicate][int(torch.randint(3, (1,), generator=g))]
            task.test.append((question(subject, template), target))
        else:
            task.train += [(question(subject, t), target) for t in QUESTIONS[predicate]]
    return task


class Seq2Seq(Model):
    """Bidirectional GRU encoder, GRU decoder with dot-product attention; teacher-forced cross-entropy."""

    @dataclass
    class Config:
        emb: int = 32
        hidden: int = 64

        def __post_init__(self) -> None:
            check_int("emb", self.emb, 1)
            check_int("hidden", self.hidden, 1)

    def __init__(self, config: Config, spec: DataSpec):
        spec.require("Seq2Seq", tokens=True)
        super().__init__()
        v, e, h = spec.vocab_size, config.emb, config.hidden
        self.embed = nn.Embedding(v, e, padding_idx=PAD)
        self.encoder = nn.GRU(e, h, batch_first=True, bidirectional=True)
        self.keys = nn.Linear(2 * h, h, bias=False)  # encoder states projected to the decoder's size
        self.init = nn.Linear(2 * h, h)
        self.decoder = nn.GRU(e, h, batch_first=True)
        self.out = nn.Sequential(nn.Linear(3 * h, h), nn.Tanh(), nn.Linear(h, v))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Encoder states (B, L, 2H), their padding mask (B, L), and the decoder's initial state."""
        mask = x != PAD
        lengths = mask.sum(1).clamp_min(1).cpu()
        # packing: the backward direction must start at each question's last real token, not at padding
        packed = pack_padded_sequence(self.embed(x), lengths, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.encoder(packed)[0], batch_first=True, total_length=x.shape[1])
        pooled = (states * mask[..., None]).sum(1) / lengths.to(states.device)[:, None]
        return states, mask, torch.tanh(self.init(pooled))[None]

    def decode(self, states: Tensor, mask: Tensor, h0: Tensor, inputs: Tensor) -> Tensor:
        """Next-token logits (B, T, V) after each input token (inputs start with BOS)."""
        hidden, _ = self.decoder(self.embed(inputs), h0)
        scores = hidden @ self.keys(states).transpose(1, 2)  # (B, T, L)
        attn = scores.masked_fill(~mask[:, None, :], -torch.inf).softmax(-1)
        return self.out(torch.cat([hidden, attn @ states], -1))

    def logits(self, x: Tensor, y: Tensor) -> Tensor:
        """Teacher forcing: predict y (targets with eos, pad after) from BOS + y shifted right."""
        inputs = torch.cat([torch.full_like(y[:, :1], BOS), y[:, :-1]], 1)
        return self.decode(*self.encode(x), inputs)

    def train_step(self, batch: Batch, ctx: StepContext):
        x, y = batch["x"], batch["y"]
        loss = F.cross_entropy(self.logits(x, y).flatten(0, 1), y.flatten(), ignore_index=PAD)
        yield Update(("model",), loss, {"loss": loss})

    @torch.no_grad()
    def scorer(self, question: Sequence[int]) -> StepFn:
        """Next-token log-probabilities of prefixes (without BOS) given one question, for trie decoding."""
        x = torch.tensor([list(question)], device=self.embed.weight.device)
        states, mask, h0 = self.encode(x)

        @torch.no_grad()
        def step(prefixes: list[Ids]) -> Tensor:
            inputs = torch.tensor([(BOS, *p) for p in prefixes], device=x.device)  # equal lengths per round
            n = len(prefixes)
            logits = self.decode(states.expand(n, -1, -1), mask.expand(n, -1), h0.expand(-1, n, -1), inputs)
            return logits[:, -1].log_softmax(-1).cpu()

        return step

    def greedy(self, question: Sequence[int], max_len: int = 12) -> Ids:
        """Unconstrained greedy decoding (what the model says without the trie)."""
        step, out = self.scorer(question), ()
        while len(out) < max_len:
            tok = int(step([out])[0].argmax())
            if tok == EOS:
                break
            out += (tok,)
        return out


def exact_match(model: Seq2Seq, task: KBQATask, decoding: str, beam: int = 3) -> float:
    """Share of test questions decoded to exactly their target: decoding is `free` (unconstrained
    greedy), `trie-greedy` or `trie-beam` (the best of a constrained beam of width `beam`)."""
    trie = task.trie()
    hits = 0
    model.eval()
    for question, target in task.test:
        if decoding == "free":
            answer = model.greedy(question)
        elif decoding == "trie-greedy":
            answer = constrained_greedy(model.scorer(question), trie)[0]
        elif decoding == "trie-beam":
            answer = constrained_beam_search(model.scorer(question), trie, beam)[0][0]
        else:
            raise ValueError(f"decoding must be free, trie-greedy or trie-beam, got {decoding!r}")
        hits += answer == target
    return hits / len(task.test)


def train_seq2seq(task: KBQATask, config: Seq2Seq.Config | None = None, steps: int = 1500,
                  batch_size: int = 64, lr: float = 3e-3, seed: int = 0, device: str = "cpu") -> Seq2Seq:
    """Train with genlab's Trainer (Adam with cosine decay, gradients clipped at norm 1)."""
    optim = {"name": "adam", "lr": lr, "schedule": "cosine", "grad_clip": 1.0}
    return fit_in_memory("recipe-seq2seq", Seq2Seq, config or Seq2Seq.Config(), task.dataset(), steps,
                         batch_size, optim, seed, device)


# Distinct 2- and 3-syllable names: make_task cannot draw more subjects than this.
MAX_SUBJECTS = len(SYLLABLES) ** 2 + len(SYLLABLES) ** 3


def main(argv: list[str] | None = None) -> None:
    from genlab.core.arguments import ArgumentParser, integer

    parser = ArgumentParser(prog="python -m genlab.recipes.seq2seq", description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=integer(2, MAX_SUBJECTS), default=200)
    parser.add_argument("--steps", type=integer(1, 1_000_000), default=1000)
    args = parser.parse_args(argv)
    task = make_task(n_subjects=args.subjects)
    trie = task.trie()
    print(f"Seq2seq retrieval under a prefix trie: {len(trie)} stored (subject, predicate) keys, "
          f"{len(task.train)} training questions, {len(task.test)} held-out questions (a subject with a "
          f"predicate never asked about it in training; 30% with a misspelt name)")
    model = train_seq2seq(task, steps=args.steps)
    for decoding in ("free", "trie-greedy", "trie-beam"):
        print(f"  exact match, {decoding:<12}: {exact_match(model, task, decoding):.3f}")
    for question, target in task.test[:4]:
        (best, score), = constrained_beam_search(model.scorer(question), trie, beam=3)[:1]
        print(f"  {task.decode(question)!r} -> {trie.get(best)} (log p {score:.2f}; "
              f"truth {trie.get(target)})")


if __name__ == "__main__":
    main()
