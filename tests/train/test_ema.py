"""EMA of weights: the warm-up recurrence, and state round trips."""

import torch
from torch import nn

from genlab.train.ema import EMA


def _walk(ema: EMA, p: nn.Parameter, values: list[float]) -> None:
    for v in values:
        with torch.no_grad():
            p.fill_(v)
        ema.update()


def test_ema_follows_warmup_recurrence():
    p = nn.Parameter(torch.zeros(3))
    ema = EMA([p], decay=0.9)
    values = [float(v) for v in torch.randn(40, generator=torch.Generator().manual_seed(0))]
    _walk(ema, p, values)
    expected = 0.0
    for n, v in enumerate(values):
        d = min(0.9, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * v
    torch.testing.assert_close(ema.shadow[0], torch.full((3,), expected), rtol=1e-6, atol=1e-6)


def test_short_run_is_not_dominated_by_initial_weights():
    p = nn.Parameter(torch.zeros(1))
    ema = EMA([p], decay=0.999)
    _walk(ema, p, [1.0] * 100)  # 100 updates: a plain 0.999 average would still be ~0.1
    assert ema.shadow[0].item() > 0.9


def test_state_round_trip_continues_identically():
    p, q = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2))
    a, b = EMA([p], 0.99), EMA([q], 0.99)
    _walk(a, p, [1.0, 2.0, 3.0])
    b.load_state_dict(a.state_dict())
    _walk(a, p, [4.0, 5.0])
    _walk(b, q, [4.0, 5.0])
    assert torch.equal(a.shadow[0], b.shadow[0]) and a.updates == b.updates == 5


def test_applied_restores_raw_weights():
    p = nn.Parameter(torch.ones(2))
    ema = EMA([p], 0.5)
    with torch.no_grad():
        p.fill_(3.0)
    with ema.applied():
        assert torch.equal(p.detach(), torch.ones(2))
    assert torch.equal(p.detach(), torch.full((2,), 3.0))
