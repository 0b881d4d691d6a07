"""(subject, predicate, object) extraction, "half pointer, half tagging" (https://kexue.fm/archives/7161).

Order s -> (p, o): per token, a start and an end probability of a subject; for one subject, the vector
[h_start; h_end] conditions a layer norm of the sequence (gamma and beta shifted by linear maps of the
subject, zero-initialised so training starts from a plain LayerNorm), and per token and predicate a
start and an end probability of that subject's object follow. Overlapping triples (one subject with
several objects, an object that is itself a subject) come out naturally. Sigmoid outputs are raised
to a power n (2 for subjects, 4 for objects) and trained by ordinary binary cross-entropy on p^n,
which weighs positives by n, damps the many easy negatives, and starts near the sparse targets without
changing how the logits are distributed. Here the BERT encoder is replaced by a small transformer
trained from scratch on generated sentences with known triples, trained as a genlab `Model`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.core.checks import check_int, check_range
from genlab.core.protocol import Batch, DataSpec, Model, StepContext, Update
from genlab.data.dataset import Dataset
from genlab.recipes.fit import fit_in_memory

Span = tuple[int, int]  # first and last token, inclusive
Triple = tuple[Span, int, Span]  # (subject, predicate, object)


def power_bce(logits: Tensor, target: Tensor, n: float) -> Tensor:
    """Elementwise BCE of p^n against the target, p = sigmoid(logits):
    -t n log p - (1 - t) log(1 - p^n), computed from log-sigmoids so large logits stay finite."""
    log_pn = n * F.logsigmoid(logits)
    # log(1 - p^n) = log(-expm1(log p^n)), which is -inf once p^n rounds to 1: bounded at -69 by the clamp
    log_not = torch.log(-torch.expm1(log_pn.clamp(max=-1e-30)))
    return -(target * log_pn + (1 - target) * log_not)


class ConditionalLayerNorm(nn.Module):
    """LayerNorm whose gain and bias are shifted by linear maps of a condition vector (one per sequence).

    The maps start at zero, so before training (or with a zero condition) this is nn.LayerNorm.
    """

    def __init__(self, dim: int, cond_dim: int, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.to_gain = nn.Linear(cond_dim, dim, bias=False)
        self.to_bias = nn.Linear(cond_dim, dim, bias=False)
        nn.init.zeros_(self.to_gain.weight)
        nn.init.zeros_(self.to_bias.weight)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """x (B, T, D), cond (B, C)."""
        normed = F.layer_norm(x, x.shape[-1:], eps=self.norm.eps)
        gain = self.norm.weight + self.to_gain(cond)[:, None]
        return normed * gain + self.norm.bias + self.to_bias(cond)[:, None]


def decode_spans(start: Tensor, end: Tensor, start_threshold: float = 0.6, end_threshold: float = 0.5
                 ) -> list[Span]:
    """Pair each position with start probability above its threshold with the nearest end at or after it."""
    ends = (end > end_threshold).nonzero().flatten().tolist()
    spans = []
    for i in (start > start_threshold).nonzero().flatten().tolist():
        j = next((e for e in ends if e >= i), None)
        if j is not None:
            spans.append((i, j))
    return spans


class SPOExtractor(Model):
    """Token embedding + transformer encoder, a subject pointer head and a subject-conditioned object head."""

    @dataclass
    class Config:
        n_predicates: int = 4
        dim: int = 64
        layers: int = 2
        heads: int = 4
        max_len: int = 64
        subject_power: float = 2.0
        object_power: float = 4.0

        def __post_init__(self) -> None:
            for name in ("n_predicates", "dim", "layers", "heads", "max_len"):
                check_int(name, getattr(self, name), 1)
            if self.dim % self.heads:
                raise ValueError(f"dim must be a multiple of heads, got dim={self.dim}, heads={self.heads}")
            check_range("subject_power", self.subject_power, 1.0)
            check_range("object_power", self.object_power, 1.0)

    def __init__(self, config: Config, spec: DataSpec):
        spec.require("SPOExtractor", tokens=True)
        super().__init__()
        if spec.shape[0] > config.max_len:
            raise ValueError(f"sentences of {spec.shape[0]} tokens exceed max_len={config.max_len}")
        self.cfg, d = config, config.dim
        self.embed = nn.Embedding(spec.vocab_size, d, padding_idx=0)
        self.position = nn.Parameter(0.02 * torch.randn(config.max_len, d))
        layer = nn.TransformerEncoderLayer(d, config.heads, 2 * d, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.subject_head = nn.Linear(d, 2)
        self.condition = ConditionalLayerNorm(d, 2 * d)
        self.object_head = nn.Linear(d, 2 * config.n_predicates)

    def encode(self, x: Tensor) -> Tensor:
        """Token states (B, T, D); id 0 is padding, masked out of attention."""
        h = self.embed(x) + self.position[: x.shape[1]]
        return self.encoder(h, src_key_padding_mask=x == 0)

    def subject_logits(self, states: Tensor) -> Tensor:
        """(B, T, 2): start and end logits."""
        return self.subject_head(states)

    def object_logits(self, states: Tensor, subjects: Tensor) -> Tensor:
        """(B, T, P, 2) for one subject span per sequence, `subjects` (B, 2) = (start, end)."""
        rows = torch.arange(len(states), device=states.device)
        cond = torch.cat([states[rows, subjects[:, 0]], states[rows, subjects[:, 1]]], -1)
        out = self.object_head(self.condition(states, cond))
        return out.view(*out.shape[:2], self.cfg.n_predicates, 2)

    def train_step(self, batch: Batch, ctx: StepContext):
        """x (B, T) tokens; y (B, K, 5) triples (s_start, s_end, p, o_start, o_end), rows of -1 pad."""
        x, y = batch["x"], batch["y"]
        b, t = x.shape
        mask = (x != 0).float()
        valid = y[..., 0] >= 0
        rows = torch.arange(b, device=x.device)[:, None].expand_as(valid)
        subject_target = torch.zeros(b, t, 2, device=x.device)
        subject_target[rows[valid], y[..., 0][valid], 0] = 1.0
        subject_target[rows[valid], y[..., 1][valid], 1] = 1.0
        # one subject per sentence, drawn at random among its triples (training samples every subject)
        pick = torch.multinomial(valid.float() + 1e-12 * ~valid, 1).squeeze(1)
        subject = y[torch.arange(b, device=x.device), pick, :2]
        same = valid & (y[..., :2] == subject[:, None]).all(-1)
        object_target = torch.zeros(b, t, self.cfg.n_predicates, 2, device=x.device)
        object_target[rows[same], y[..., 3][same], y[..., 2][same], 0] = 1.0
        object_target[rows[same], y[..., 4][same], y[..., 2][same], 1] = 1.0

        states = self.encode(x)
        s_loss = power_bce(self.subject_logits(states), subject_target, self.cfg.subject_power).mean(-1)
        s_loss = (s_loss * mask).sum() / mask.sum()
        o_loss = power_bce(self.object_logits(states, subject), object_target, self.cfg.object_power)
        o_loss = (o_loss.mean(-1).sum(-1) * mask).sum() / mask.sum()  # summed over predicates
        loss = s_loss + o_loss
        yield Update(("model",), loss, {"loss": loss, "subject_loss": s_loss, "object_loss": o_loss})

    @torch.no_grad()
    def extract(self, tokens: Sequence[int]) -> set[Triple]:
        """Triples of one sentence: subject spans from the powered subject probabilities, then objects of
        every subject at once (thresholds 0.6 for starts, 0.5 for ends, as in the article)."""
        x = torch.tensor([list(tokens)], device=self.position.device)
        states = self.encode(x)
        p_subject = torch.sigmoid(self.subject_logits(states)[0]) ** self.cfg.subject_power
        subjects = decode_spans(p_subject[:, 0], p_subject[:, 1])
        if not subjects:
            return set()
        spans = torch.tensor(subjects, device=x.device)
        logits = self.object_logits(states.expand(len(subjects), -1, -1), spans)
        p_object = torch.sigmoid(logits) ** self.cfg.object_power
        return triples_from_pointers(subjects, p_object)


def triples_from_pointers(subjects: Sequence[Span], object_probs: Tensor) -> set[Triple]:
    """Triples from object start/end probabilities (S, T, P, 2), one slice per subject span."""
    out = set()
    for subject, probs in zip(subjects, object_probs):
        for p in range(probs.shape[1]):
            out |= {(tuple(subject), p, span) for span in decode_spans(probs[:, p, 0], probs[:, p, 1])}
    return out


def prf(predicted: Sequence[set[Triple]], gold: Sequence[set[Triple]]) -> tuple[float, float, float]:
    """Micro precision, recall and F1 of exact triples over sentences."""
    hits = sum(len(p & g) for p, g in zip(predicted, gold))
    n_pred, n_gold = sum(map(len, predicted)), sum(map(len, gold))
    precision, recall = hits / max(n_pred, 1), hits / max(n_gold, 1)
    return precision, recall, 2 * hits / max(n_pred + n_gold, 1)


# ----------------------------------------------------------------------------- generated corpus
SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zu", "be", "do", "fa")
PREDICATES = ("born in", "works for", "located in", "founded by")  # person->place, person->org, org->...
SUBJECT_KIND = ("person", "person", "org", "org")
OBJECT_KIND = ("place", "org", "place", "person")
MAIN = ("{s} was born in {o}", "{s} works for {o}", "{s} is located in {o}", "{s} was founded by {o}")
RELATIVE = (", who was born in {o} ,", ", who works for {o} ,", ", which is located in {o} ,",
            ", which was founded by {o} ,")


@dataclass
class SPOCorpus:
    vocab: list[str]
    sentences: list[tuple[list[int], set[Triple]]]

    def text(self, tokens: Sequence[int], span: Span | None = None) -> str:
        """The words of a sentence, or of one span of it."""
        first, last = span if span is not None else (0, len(tokens) - 1)
        return " ".join(self.vocab[i] for i in tokens[first: last + 1])

    def dataset(self, n_test: int) -> Dataset:
        """x: sentences padded with 0; labels: (N, K, 5) triples padded with rows of -1."""
        t = max(len(s) for s, _ in self.sentences)
        k = max(len(g) for _, g in self.sentences)
        x = torch.zeros(len(self.sentences), t, dtype=torch.long)
        y = torch.full((len(self.sentences), k, 5), -1, dtype=torch.long)
        for n, (tokens, triples) in enumerate(self.sentences):
            x[n, : len(tokens)] = torch.tensor(tokens)
            for m, ((s0, s1), p, (o0, o1)) in enumerate(sorted(triples)):
                y[n, m] = torch.tensor([s0, s1, p, o0, o1])
        return Dataset("spo-toy", x[n_test:], x[:n_test], train_labels=y[n_test:], test_labels=y[:n_test],
                       vocab_size=len(self.vocab))


class _Sentence:
    """Tokens appended left to right, with the spans of the triples they state."""

    def __init__(self, vocab: list[str], name: Callable[[], list[int]]):
        self.vocab, self.name = vocab, name
        self.tokens: list[int] = []
        self.triples: set[Triple] = set()

    def put(self, part: str | list[int]) -> Span:
        ids = part if isinstance(part, list) else [self.vocab.index(w) for w in part.split()]
        self.tokens.extend(ids)
        return len(self.tokens) - len(ids), len(self.tokens) - 1

    def clause(self, template: str, subject: Span | None, p: int) -> Span:
        """Write `template` with a fresh object name (and a fresh subject name where `subject` is None);
        returns the object's span."""
        before, after = template.split("{o}")
        if subject is None:
            subject = self.put(self.name())
        before = before.replace("{s}", "")
        if before.strip():
            self.put(before)
        obj = self.put(self.name())
        if after.strip():
            self.put(after)
        self.triples.add((subject, p, obj))
        return obj


def make_corpus(n_sentences: int, seed: int = 0) -> SPOCorpus:
    """Sentences with random 1-3 syllable names and 1-2 clauses: a single fact, a subject with a relative
    clause (two objects), two joined facts, or a chain whose object is the next clause's subject."""
    check_int("n_sentences", n_sentences, 1)
    words = {w for f in (*MAIN, *RELATIVE) for w in f.split() if w not in ("{s}", "{o}")}
    vocab = ["<pad>", *SYLLABLES, *sorted(words | {"and", "."})]
    g = torch.Generator().manual_seed(seed)

    def draw(n: int) -> int:
        return int(torch.randint(n, (1,), generator=g))

    def name() -> list[int]:
        return [1 + draw(len(SYLLABLES)) for _ in range(1 + draw(3))]

    def predicate(subject_kind: str | None = None) -> int:
        options = [p for p, k in enumerate(SUBJECT_KIND) if subject_kind in (None, k)]
        return options[draw(len(options))]

    sentences = []
    for _ in range(n_sentences):
        out = _Sentence(vocab, name)
        kind, p = draw(4), predicate()
        if kind == 0:  # "A was born in B ."
            out.clause(MAIN[p], None, p)
        elif kind == 1:  # "A , who was born in B , works for C ."
            subject = out.put(name())
            out.clause(RELATIVE[p], subject, p)
            q = predicate(SUBJECT_KIND[p])
            out.clause(MAIN[q], subject, q)
        elif kind == 2:  # "A works for C and D was born in B ."
            out.clause(MAIN[p], None, p)
            out.put("and")
            q = predicate()
            out.clause(MAIN[q], None, q)
        else:  # "A works for C , which is located in B ."
            while OBJECT_KIND[p] == "place":
                p = predicate()
            obj = out.clause(MAIN[p], None, p)
            q = predicate(OBJECT_KIND[p])
            out.clause(RELATIVE[q].rstrip(" ,"), obj, q)
        out.put(".")
        sentences.append((out.tokens, out.triples))
    return SPOCorpus(vocab, sentences)


def train_spo(corpus: SPOCorpus, n_test: int, config: SPOExtractor.Config | None = None, steps: int = 1500,
              batch_size: int = 64, lr: float = 2e-3, seed: int = 0, device: str = "cpu") -> SPOExtractor:
    """Train with genlab's Trainer: Adam with warm-up and cosine decay, weight EMA 0.99 for evaluation
    (the article: Adam, EMA 0.999 over many more steps)."""
    config = config or SPOExtractor.Config(n_predicates=len(PREDICATES))
    optim = {"name": "adam", "lr": lr, "schedule": "cosine", "warmup_steps": steps // 20, "ema": 0.99}
    return fit_in_memory("recipe-spo", SPOExtractor, config, corpus.dataset(n_test), steps, batch_size,
                         optim, seed, device)


def evaluate(model: SPOExtractor, corpus: SPOCorpus, n_test: int) -> tuple[float, float, float]:
    """Precision, recall, F1 on the first `n_test` sentences (the held-out split of `dataset`)."""
    model.eval()
    held_out = corpus.sentences[:n_test]
    return prf([model.extract(tokens) for tokens, _ in held_out], [gold for _, gold in held_out])


def main(argv: list[str] | None = None) -> None:
    from genlab.core.arguments import ArgumentParser, integer

    parser = ArgumentParser(prog="python -m genlab.recipes.spo", description=__doc__.splitlines()[0])
    # a sixth is held out: at least one test and one training sentence
    parser.add_argument("--sentences", type=integer(7, 1_000_000), default=4000)
    parser.add_argument("--steps", type=integer(1, 1_000_000), default=1000)
    args = parser.parse_args(argv)
    corpus, n_test = make_corpus(args.sentences, seed=0), args.sentences // 6
    print(f"SPO extraction (half pointer, half tagging) on {len(corpus.sentences) - n_test} generated "
          f"sentences, {len(PREDICATES)} predicates; held-out: {n_test} sentences")
    model = train_spo(corpus, n_test, steps=args.steps)
    precision, recall, f1 = evaluate(model, corpus, n_test)
    print(f"  exact triples: precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}")
    for tokens, gold in corpus.sentences[:3]:
        found = model.extract(tokens)
        print(f"  {corpus.text(tokens)}")
        for s, p, o in sorted(found | gold):
            mark = "ok" if (s, p, o) in found and (s, p, o) in gold else ("missed" if (s, p, o) in gold
                                                                          else "spurious")
            print(f"      ({corpus.text(tokens, s)}, {PREDICATES[p]}, {corpus.text(tokens, o)})  {mark}")


if __name__ == "__main__":
    main()
