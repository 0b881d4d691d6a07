import math

import pytest
import torch

from genlab.core.protocol import DataSpec
from genlab.recipes.seq2seq import (
    BOS,
    EOS,
    PAD,
    SEP,
    Seq2Seq,
    exact_match,
    make_task,
    train_seq2seq,
)
from genlab.recipes.trie import constrained_beam_search, constrained_greedy


@pytest.fixture(scope="module")
def task():
    return make_task(n_subjects=40, seed=3)


def random_model(task, seed: int) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(Seq2Seq.Config(emb=16, hidden=24), task.dataset().spec).eval()


def test_task_structure(task):
    trie = task.trie()
    assert len(trie) == len(task.entries) == 40 * 3
    train_targets = {t for _, t in task.train}
    for question, target in task.test:
        assert target in trie and target not in train_targets  # held-out keys are never trained on
        assert target[-2] == SEP and question[-1] != PAD
    subjects = {t[:-2] for t in train_targets}
    assert all(t[:-2] in subjects for _, t in task.test)  # ... though their subjects are
    ds = task.dataset()
    assert ds.spec.vocab_size == len(task.vocab) and ds.train.shape[0] == len(task.train)
    assert bool((ds.train_labels == EOS).any(1).all())


def test_noise_rate():
    clean, noisy = make_task(60, noise=0.0, seed=1), make_task(60, noise=0.5, seed=1)
    mention = lambda q, t: all(tok in q for tok in t[:-2])  # noqa: E731  (every name syllable present)
    assert all(mention(q, t) for q, t in clean.train)
    changed = sum(not mention(q, t) for q, t in noisy.train) / len(noisy.train)
    assert 0.25 < changed < 0.55  # a replaced syllable can coincide with another one of the name


def test_scorer_matches_teacher_forcing(task):
    model = random_model(task, 0)
    question, target = task.test[0]
    full = (*target, EOS)
    logits = model.logits(torch.tensor([question]), torch.tensor([full]))[0].log_softmax(-1)
    step = model.scorer(question)
    for t in range(len(full)):
        torch.testing.assert_close(step([full[:t]])[0], logits[t], rtol=1e-5, atol=1e-5)


def test_padding_does_not_change_the_encoding(task):
    model = random_model(task, 1)
    question = torch.tensor([task.test[0][0]])
    padded = torch.cat([question, torch.full((1, 5), PAD)], 1)
    (s1, _, h1), (s2, m2, h2) = model.encode(question), model.encode(padded)
    torch.testing.assert_close(s2[:, : question.shape[1]], s1)
    torch.testing.assert_close(h2, h1)
    assert not m2[0, question.shape[1]:].any()


@pytest.mark.parametrize("seed", range(8))
def test_decoding_never_leaves_the_trie(task, seed):
    model, trie = random_model(task, seed), task.trie()
    for question, _ in task.test[seed::8][:3]:
        assert constrained_greedy(model.scorer(question), trie)[0] in trie
        found = constrained_beam_search(model.scorer(question), trie, beam=4)
        assert len(found) == 4 and all(ids in trie for ids, _ in found)


def test_uniform_model_beam_equals_brute_force(task):
    model = random_model(task, 0)
    with torch.no_grad():  # zero output layer: every next token equally likely
        model.out[-1].weight.zero_()
        model.out[-1].bias.zero_()
    trie = task.trie()

    def brute_force(entry):  # renormalised uniform: minus the log of the branching at every step
        full = (*entry, EOS)
        return -sum(math.log(len(trie.allowed_next(full[:t]))) for t in range(len(full)))

    exact = {entry: brute_force(entry) for entry in trie}
    found = constrained_beam_search(model.scorer(task.test[0][0]), trie, beam=len(trie))
    assert {ids for ids, _ in found} == set(exact)
    for ids, score in found:
        assert score == pytest.approx(exact[ids], abs=1e-5)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    greedy, score = constrained_greedy(model.scorer(task.test[0][0]), trie)
    assert score == pytest.approx(exact[greedy], abs=1e-5)



def test_needs_token_data():
    with pytest.raises(ValueError, match="needs token data"):
        Seq2Seq(Seq2Seq.Config(), DataSpec((5,)))
    with pytest.raises(ValueError, match="predicates_per_subject"):
        make_task(10, predicates_per_subject=1)
    assert BOS not in {t for _, ts in make_task(10).train for t in ts}


@pytest.mark.slow
def test_trained_model_answers_held_out_questions():
    task = make_task(n_subjects=200, seed=0)
    untrained = random_model(task, 0)
    assert exact_match(untrained, task, "trie-greedy") < 0.1
    model = train_seq2seq(task, Seq2Seq.Config(emb=32, hidden=64), steps=800, seed=0)
    assert exact_match(model, task, "trie-greedy") > 0.6
