import pytest
import torch

from genlab.core.errors import ConfigError
from genlab.core.protocol import DataSpec
from genlab.data import DATASETS
from genlab.eval.features.store import require_feature_net
from genlab.models import MODELS
from genlab.recipes.finetune import GLU, CenterLoss, FineTuned, Unfreezing, few_per_class, resize_images
from genlab.recipes.labelled_run import held_out_accuracy, train_labelled
from tests.models import test_contract


@pytest.fixture(scope="module")
def digits():
    return DATASETS.get("digits")()


def test_center_loss_closed_form_and_gradient():
    g = torch.Generator().manual_seed(0)
    loss = CenterLoss(n_classes=3, dim=4)
    loss.centers.copy_(torch.randn(3, 4, generator=g))
    f = torch.randn(5, 4, generator=g, requires_grad=True)
    y = torch.tensor([0, 2, 2, 1, 0])
    value = loss(f, y)
    expected = sum(0.5 * float(((f[i] - loss.centers[y[i]]) ** 2).sum().detach()) for i in range(5)) / 5
    assert value.item() == pytest.approx(expected, rel=1e-6)
    value.backward()
    torch.testing.assert_close(f.grad, (f - loss.centers[y]).detach() / 5)
    assert not loss.centers.requires_grad


def test_center_update_rule():
    g = torch.Generator().manual_seed(1)
    loss = CenterLoss(n_classes=4, dim=3, alpha=0.3)
    loss.centers.copy_(torch.randn(4, 3, generator=g))
    before = loss.centers.clone()
    f, y = torch.randn(6, 3, generator=g), torch.tensor([0, 0, 2, 0, 2, 1])  # class 3 absent
    stats = loss.statistics(f, y)
    # additive: two halves of the batch give the same statistics as the whole
    torch.testing.assert_close(loss.statistics(f[:2], y[:2]) + loss.statistics(f[2:], y[2:]), stats)
    loss.update(stats)
    for j in range(4):
        members = f[y == j]
        delta = (before[j] - members).sum(0) / (1 + len(members))  # Wen et al. eq. 4
        torch.testing.assert_close(loss.centers[j], before[j] - 0.3 * delta)
    assert torch.equal(loss.centers[3], before[3])


def test_center_update_moves_a_centre_towards_a_repeated_feature():
    loss = CenterLoss(1, 2, alpha=1.0)
    x = torch.tensor([[2.0, -1.0]])
    for _ in range(30):
        loss.update(loss.statistics(x.expand(3, 2), torch.zeros(3, dtype=torch.long)))
    torch.testing.assert_close(loss.centers[0], x[0])  # fixed point: the class mean


def test_glu_shape_and_formula():
    torch.manual_seed(0)
    glu = GLU(5, 3)
    x = torch.randn(4, 5)
    out = glu(x)
    assert out.shape == (4, 3)
    a = x @ glu.value.weight.T + glu.value.bias
    b = x @ glu.gate.weight.T + glu.gate.bias
    torch.testing.assert_close(out, a / (1 + torch.exp(-b)))


def test_unfreezing_stages():
    s = Unfreezing.cumulative(["new", "top", "bottom"], [3, 7])
    one, two, three = ("new",), ("new", "top"), ("new", "top", "bottom")
    assert [s.groups_at(t) for t in (0, 2, 3, 6, 7, 100)] == [one, one, two, two, three, three]
    assert [s.stage_at(t) for t in (0, 3, 7)] == [0, 1, 2]
    same_start = Unfreezing(((0, ("a",)), (0, ("a", "b"))))  # a stage shadowed by the next is skipped
    assert same_start.groups_at(0) == ("a", "b")
    with pytest.raises(ValueError, match="step 0"):
        Unfreezing(((1, ("a",)),))
    with pytest.raises(ValueError, match="freezes"):
        Unfreezing(((0, ("a", "b")), (2, ("a",))))
    with pytest.raises(ValueError, match="stage start"):
        Unfreezing(((0, ("a",)), (5, ("a", "b")), (3, ("a", "b", "c"))))


class Snapshots:
    """Trainer hook: every group's parameters after every step."""

    def __init__(self):
        self.after: list[dict[str, list[torch.Tensor]]] = []

    def due(self, step, end):
        return True

    def __call__(self, trainer):
        groups = trainer.model.param_groups()
        self.after.append({g: [p.detach().clone() for p in ps] for g, ps in groups.items()})


def test_staged_unfreezing_leaves_frozen_groups_bit_identical(digits):
    hook = Snapshots()
    small = few_per_class(digits, 3)
    train_labelled("finetune", FineTuned, {"source": "digits", "unfreeze_top": 2, "unfreeze_all": 4}, small,
                   steps=6, batch_size=16, optim={"default": {"name": "adam", "lr": 1e-3},
                                                  "bottom": {"name": "sgd", "lr": 1e-2, "momentum": 0.9}},
                   hooks=[hook])
    body = require_feature_net("digits").net.body  # the shipped weights the backbone starts from
    start = {"bottom": [p for m in (body[0], body[3]) for p in m.parameters()],
             "top": list(body[7].parameters())}
    first_step = {"top": 2, "bottom": 4}  # 0-based step whose update first moves the group
    for group, initial in start.items():
        for step, snap in enumerate(hook.after):  # snap: weights after step `step` (0-based)
            same = all(torch.equal(a, b) for a, b in zip(snap[group], initial))
            assert same == (step < first_step[group]), (group, step)
    assert not any(torch.equal(a, b) for a, b in zip(hook.after[0]["new"], hook.after[1]["new"]))


def test_finetuned_honours_the_model_contract(monkeypatch):
    spec = DataSpec((1, 8, 8), levels=17, n_classes=3)
    monkeypatch.setitem(test_contract.TINY, "finetune", ({"source": "digits", "features": 4}, (spec,)))
    with MODELS.temporary("finetune", FineTuned):
        test_contract.test_contract("finetune", spec)
        test_contract.test_state_round_trip("finetune", spec)


def test_finetuned_bad_configs():
    labelled = DataSpec((1, 8, 8), levels=17, n_classes=3)
    with pytest.raises(ConfigError, match="resize"):
        FineTuned(FineTuned.Config(source="digits"), DataSpec((1, 28, 28), levels=256, n_classes=10))
    with pytest.raises(ConfigError, match="labelled"):
        FineTuned(FineTuned.Config(source="digits"), DataSpec((1, 8, 8), levels=17))
    with pytest.raises(ConfigError, match="stage start"):
        FineTuned(FineTuned.Config(source="digits", unfreeze_top=5, unfreeze_all=2), labelled)
    with pytest.raises(ConfigError, match="center_alpha"):
        FineTuned(FineTuned.Config(source="digits", center_alpha=1.5), labelled)


def test_scratch_baseline_does_not_load_the_weights():
    labelled = DataSpec((1, 8, 8), levels=17, n_classes=10)
    shipped = require_feature_net("digits").net.body
    torch.manual_seed(0)
    pre, scratch = (FineTuned(FineTuned.Config(source="digits", pretrained=p), labelled)
                    for p in (True, False))
    assert torch.equal(pre.body[0].weight, shipped[0].weight)
    assert not torch.equal(scratch.body[0].weight, shipped[0].weight)


def test_resize_and_few_per_class(digits):
    big = resize_images(digits, 28, 20)
    assert big.train.shape[1:] == (1, 28, 20) and big.train.dtype == digits.train.dtype
    assert int(big.train.max()) <= digits.levels - 1 and len(big.test) == len(digits.test)
    few = few_per_class(digits, 5, seed=1)
    assert torch.equal(torch.bincount(few.train_labels), torch.full((10,), 5))
    assert torch.equal(few.test, digits.test)
    # every kept example is one of the original training examples, with its label
    flat = digits.train.flatten(1)
    for x, y in zip(few.train.flatten(1), few.train_labels):
        match = (flat == x).all(1)
        assert match.any() and (digits.train_labels[match] == y).any()


def test_tiny_fine_tune_on_digits(digits):
    target = few_per_class(digits, 10)
    stages = {"unfreeze_top": 10, "unfreeze_all": 20}
    model = train_labelled("finetune", FineTuned, {"source": "digits", **stages}, target, steps=30,
                           batch_size=32)
    assert "finetune" not in MODELS
    assert held_out_accuracy(model, digits) > 0.8
