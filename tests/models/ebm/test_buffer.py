"""Replay buffer: the re-initialisation rate, uint8 storage, ring order and state round trip."""

import pytest
import torch
from scipy.stats import binomtest

from genlab.models.ebm import ReplayBuffer


@pytest.mark.parametrize("uint8", [False, True])
def test_reinit_fraction_is_binomial_with_reinit_prob(uint8):
    torch.manual_seed(0)
    shape = (1, 4, 4) if uint8 else (2,)
    buf = ReplayBuffer(100, shape, -1.0, 1.0, reinit_prob=0.05, store_uint8=uint8)
    # stored examples sit at the corner low = -1 (exact in uint8 codes); uniform noise never does
    buf.push(torch.full((100, *shape), -1.0))
    n = 20000
    x = buf.init_chains(n)
    from_noise = int((x.flatten(1) != -1.0).any(1).sum())
    # why: each chain restarts from noise independently with probability 0.05
    assert binomtest(from_noise, n, 0.05).pvalue > 1e-4, from_noise / n
    assert buf.init_chains(10, reinit_prob=0.0).eq(-1.0).all()  # and the buffer was not consumed


def test_empty_or_underfilled_buffer_starts_from_noise():
    torch.manual_seed(0)
    buf = ReplayBuffer(100, (2,), 0.0, 1.0, reinit_prob=0.0)
    x = buf.init_chains(50)
    assert x.shape == (50, 2) and x.min() >= 0 and x.max() <= 1 and len(x.unique()) == 100
    buf.push(torch.full((10, 2), 5.0))
    assert (buf.init_chains(20, min_size=20) <= 1).all()  # fewer than min_size stored: noise
    assert buf.init_chains(20, min_size=10).eq(5.0).all()


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-1.0, 1.0)])
def test_uint8_storage_round_trips_images_within_one_level(low, high):
    torch.manual_seed(0)
    buf = ReplayBuffer(64, (1, 8, 8), low, high, store_uint8=True)
    images = low + (high - low) * torch.rand(64, 1, 8, 8)
    buf.push(images)
    assert buf.data.dtype == torch.uint8 and buf.data.shape == (64, 1, 8, 8)
    back = buf.decode(buf.data)
    # why: rounding to 256 levels of [low, high] moves a value by at most half a level
    assert (back - images).abs().max() <= (high - low) / 255
    assert (back - images).abs().max() <= (high - low) / 510 + 1e-6
    # pixels outside the range are stored at its ends
    buf.push(torch.full((1, 1, 8, 8), high + 3.0))
    assert buf.decode(buf.data[:1]).eq(high).all()


def test_ring_keeps_the_newest_capacity_examples():
    buf = ReplayBuffer(5, (1,), 0.0, 100.0)
    buf.push(torch.arange(3.0).view(3, 1))
    buf.push(torch.arange(3.0, 7.0).view(4, 1))  # 7 pushed: 0 and 1 overwritten
    assert sorted(buf.data.flatten().tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    buf.push(torch.arange(10.0, 22.0).view(12, 1))  # more than the capacity at once
    assert sorted(buf.data.flatten().tolist()) == [17.0, 18.0, 19.0, 20.0, 21.0]


def test_state_round_trip_and_mismatch():
    torch.manual_seed(0)
    a = ReplayBuffer(8, (1, 2, 2), 0.0, 1.0, store_uint8=True)
    a.push(torch.rand(11, 1, 2, 2))
    b = ReplayBuffer(8, (1, 2, 2), 0.0, 1.0, store_uint8=True)
    b.load_state_dict(a.state_dict())
    assert len(b) == 8 and torch.equal(a.data, b.data) and a.pos == b.pos
    torch.manual_seed(1)
    xa = a.init_chains(6)
    torch.manual_seed(1)
    assert torch.equal(xa, b.init_chains(6))
    with pytest.raises(ValueError, match="replay buffer state"):
        ReplayBuffer(8, (1, 2, 2), 0.0, 1.0, store_uint8=False).load_state_dict(a.state_dict())
