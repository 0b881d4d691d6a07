import pytest
import torch
import torch.nn.functional as F

from genlab.core.protocol import DataSpec, StepContext
from genlab.recipes.spo import (
    PREDICATES,
    SYLLABLES,
    ConditionalLayerNorm,
    SPOExtractor,
    decode_spans,
    evaluate,
    make_corpus,
    power_bce,
    prf,
    train_spo,
    triples_from_pointers,
)


def test_conditional_layer_norm_with_zero_condition_is_layer_norm():
    torch.manual_seed(0)
    cln = ConditionalLayerNorm(8, 6)
    with torch.no_grad():
        cln.norm.weight.normal_()
        cln.norm.bias.normal_()
        cln.to_gain.weight.normal_()
        cln.to_bias.weight.normal_()
    reference = torch.nn.LayerNorm(8)
    reference.load_state_dict(cln.norm.state_dict())
    x = torch.randn(3, 5, 8)
    torch.testing.assert_close(cln(x, torch.zeros(3, 6)), reference(x))
    fresh = ConditionalLayerNorm(8, 6)  # zero-initialised maps: LayerNorm for any condition
    torch.testing.assert_close(fresh(x, torch.randn(3, 6)), torch.nn.LayerNorm(8)(x))


def test_conditional_layer_norm_shifts_gain_and_bias_per_sequence():
    torch.manual_seed(1)
    cln = ConditionalLayerNorm(4, 3)
    with torch.no_grad():
        cln.to_gain.weight.normal_()
        cln.to_bias.weight.normal_()
    x, c = torch.randn(2, 6, 4), torch.randn(2, 3)
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    expected = (x - mean) / (var + 1e-5).sqrt() * (1 + c @ cln.to_gain.weight.T)[:, None] \
        + (c @ cln.to_bias.weight.T)[:, None]
    torch.testing.assert_close(cln(x, c), expected)


@pytest.mark.parametrize("n", [1.0, 2.0, 4.0])
def test_power_bce_is_bce_of_p_to_the_n(n):
    z = torch.linspace(-6, 6, 25, dtype=torch.float64)
    t = (torch.arange(25) % 3 == 0).double()
    p = torch.sigmoid(z)
    formula = -t * n * p.log() - (1 - t) * (1 - p**n).log()
    torch.testing.assert_close(power_bce(z, t, n), formula)
    torch.testing.assert_close(power_bce(z, t, n), F.binary_cross_entropy(p**n, t, reduction="none"))


def test_power_bce_stays_finite_for_large_logits():
    z = torch.tensor([-80.0, -30.0, 30.0, 80.0], requires_grad=True)
    loss = power_bce(z, torch.tensor([1.0, 0.0, 1.0, 0.0]), 4.0)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(z.grad).all()
    assert loss[1].item() == pytest.approx(0.0, abs=1e-6) and loss[2].item() == pytest.approx(0.0, abs=1e-6)
    assert loss[0].item() == pytest.approx(320.0, rel=1e-4)  # -n log p with log p = -80: no clamp
    assert loss[3].item() > 60  # confidently wrong costs a lot


def test_decode_spans_pairs_each_start_with_the_nearest_end():
    start = torch.tensor([0.9, 0.0, 0.7, 0.0, 0.0, 0.61, 0.0, 0.95])
    end = torch.tensor([0.0, 0.8, 0.0, 0.0, 0.9, 0.0, 0.0, 0.3])
    # starts above 0.6 at 0, 2, 5, 7; ends above 0.5 at 1, 4: the starts at 5 and 7 have no end after them
    assert decode_spans(start, end) == [(0, 1), (2, 4)]
    spans = decode_spans(start, end, start_threshold=0.6, end_threshold=0.2)
    assert spans == [(0, 1), (2, 4), (5, 7), (7, 7)]


def test_triples_from_hand_built_pointers():
    t, p = 6, len(PREDICATES)
    probs = torch.zeros(2, t, p, 2)
    probs[0, 3, 1, 0], probs[0, 4, 1, 1] = 0.9, 0.9  # subject 0: predicate 1 -> tokens 3..4
    probs[0, 5, 2, 0], probs[0, 5, 2, 1] = 0.8, 0.7  # and predicate 2 -> token 5
    probs[1, 0, 3, 0], probs[1, 1, 3, 1] = 0.65, 0.55  # subject 1: predicate 3 -> tokens 0..1
    probs[1, 2, 0, 0] = 0.59  # below the start threshold: nothing
    found = triples_from_pointers([(0, 1), (3, 4)], probs)
    assert found == {((0, 1), 1, (3, 4)), ((0, 1), 2, (5, 5)), ((3, 4), 3, (0, 1))}


def test_prf_on_hand_built_sets():
    gold = [{((0, 0), 1, (2, 2)), ((0, 0), 2, (4, 5))}, {((1, 2), 0, (3, 3))}]
    pred = [{((0, 0), 1, (2, 2)), ((0, 0), 2, (4, 4))}, set()]
    precision, recall, f1 = prf(pred, gold)
    assert (precision, recall) == (0.5, pytest.approx(1 / 3))
    assert f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert prf([set()], [set()]) == (0.0, 0.0, 0.0)


def test_corpus_spans_cover_names():
    corpus = make_corpus(200, seed=2)
    syllables = set(range(1, len(SYLLABLES) + 1))
    kinds = set()
    for tokens, triples in corpus.sentences:
        assert 1 <= len(triples) <= 2
        subjects = {s for s, _, _ in triples}
        kinds.add((len(triples), len(subjects), any(o in subjects for _, _, o in triples)))
        for s, _, o in triples:
            for a, b in (s, o):  # a span is a whole name: syllables only, bounded by non-syllables
                assert set(tokens[a: b + 1]) <= syllables
                assert a == 0 or tokens[a - 1] not in syllables
                assert tokens[b + 1] not in syllables
    # single facts, a subject with two objects, two facts, an object that is the next subject
    assert kinds == {(1, 1, False), (2, 1, False), (2, 2, False), (2, 2, True)}
    ds = corpus.dataset(n_test=50)
    assert ds.train.shape[0] == 150 and ds.spec.vocab_size == len(corpus.vocab)
    assert ds.test_labels.shape[-1] == 5 and int((ds.test_labels[..., 0] >= 0).sum()) == sum(
        len(g) for _, g in corpus.sentences[:50])


def test_train_step_targets_and_untrained_start():
    corpus = make_corpus(64, seed=0)
    ds = corpus.dataset(n_test=0)
    torch.manual_seed(0)
    model = SPOExtractor(SPOExtractor.Config(dim=16, heads=2, layers=1), ds.spec)
    update = next(model.train_step({"x": ds.train, "y": ds.train_labels}, StepContext(0)))
    # at initialisation p^n is small everywhere: the loss is mostly the positives' n * log 2 terms
    assert torch.isfinite(update.loss) and 0 < update.logs["subject_loss"] < 2
    with pytest.raises(ValueError, match="needs token data"):
        SPOExtractor(SPOExtractor.Config(), DataSpec((5,)))
    with pytest.raises(ValueError, match="heads"):
        SPOExtractor.Config(dim=10, heads=4)


@pytest.mark.slow
def test_trained_model_extracts_held_out_triples():
    corpus, n_test = make_corpus(2400, seed=1), 300
    torch.manual_seed(0)
    untrained = SPOExtractor(SPOExtractor.Config(), corpus.dataset(n_test).spec)
    assert evaluate(untrained, corpus, n_test)[2] < 0.1
    model = train_spo(corpus, n_test, steps=800)
    assert evaluate(model, corpus, n_test)[2] > 0.6
