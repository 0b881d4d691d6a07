"""`encoder_decoder`, the one mlp | conv encoder/decoder builder: the same networks the VAE, multi-task
and AAE/ALI models built by hand before it (layer by layer, and value by value from the same seed)."""

from __future__ import annotations

import math
from typing import get_args

import pytest
import torch
from torch import nn

from genlab.core.errors import ConfigError
from genlab.nets import (
    AUTOENCODERS,
    NORMS,
    OUTPUTS,
    ConvDecoder,
    ConvEncoder,
    MLPGenerator,
    NetKind,
    encoder_decoder,
    mlp,
)
from genlab.nets.norm import NORM_LAYERS, OUTPUT_LAYERS


def _old_plain(kind: str, shape: tuple[int, ...], n_out: int, n_in: int, hidden: int, depth: int):
    """The VAE's / multi-task model's pair as built before genlab 0.2.0 (encoder first)."""
    if kind == "mlp":
        dims = math.prod(shape)
        encoder = nn.Sequential(nn.Flatten(), mlp(dims, n_out, hidden, depth))
        return encoder, nn.Sequential(mlp(n_in, dims, hidden, depth), nn.Unflatten(1, shape))
    return ConvEncoder(shape, n_out, hidden), ConvDecoder(n_in, shape, hidden)


def _layers(module: nn.Module) -> list[tuple[str, tuple]]:
    """(type, parameter shapes) of every leaf module, in order: the architecture without the names."""
    return [(type(m).__name__, tuple(tuple(p.shape) for p in m.parameters(recurse=False)))
            for m in module.modules() if not list(m.children())]


CASES = [("mlp", (2,), 0), ("mlp", (1, 8, 8), 2), ("conv", (1, 8, 8), 2), ("conv", (3, 32, 32), 2),
         ("conv", (1, 28, 28), 2)]


@pytest.mark.parametrize("kind,shape,depth", CASES)
def test_same_networks_and_weights_as_the_hand_built_pairs(kind: str, shape: tuple, depth: int) -> None:
    torch.manual_seed(0)
    old_enc, old_dec = _old_plain(kind, shape, 6, 3, 8, depth)
    torch.manual_seed(0)
    enc, dec = encoder_decoder(kind, shape, 6, 3, 8, depth)
    for old, new in ((old_enc, enc), (old_dec, dec)):
        drop = ("Unflatten",)  # the old multi-task decoder unflattened in a layer, MLPGenerator in forward
        assert [t for t in _layers(new) if t[0] not in drop] == [t for t in _layers(old) if t[0] not in drop]
        for p_old, p_new in zip(old.parameters(), new.parameters(), strict=True):
            assert torch.equal(p_old, p_new)  # same init order, so the same seeded weights
    x, z = torch.randn(4, *shape), torch.randn(4, 3)
    torch.testing.assert_close(enc(x), old_enc(x), rtol=0, atol=0)
    torch.testing.assert_close(dec(z), old_dec(z), rtol=0, atol=0)
    assert dec(z).shape == (4, *shape) and enc(x).shape == (4, 6)


@pytest.mark.parametrize("kind,shape", [("mlp", (2,)), ("conv", (1, 8, 8))])
@pytest.mark.parametrize("norm,output", [("none", "none"), ("batch", "tanh"), ("layer", "sigmoid")])
def test_aae_pairs_keep_their_layout(kind: str, shape: tuple, norm: str, output: str) -> None:
    """The AAE's and ALI's pairs (norm and output given): the decoder is the MLPGenerator /
    ConvDecoder it was, names included (an MLP decoder keeps its norm slot for "none", a conv decoder
    has none then)."""
    enc, dec = encoder_decoder(kind, shape, 6, 3, 8, 1, output=output, norm=norm)
    if kind == "mlp":
        before: nn.Module = MLPGenerator(3, shape, 8, 1, norm=norm, output=output)
    else:
        before = ConvDecoder(3, shape, 8, norm=None if norm == "none" else norm, output=output)
    assert dec.state_dict().keys() == before.state_dict().keys()
    assert _layers(dec) == _layers(before)
    out = dec.eval()(torch.randn(5, 3))
    assert out.shape == (5, *shape)
    if output == "tanh":
        assert out.abs().max() <= 1
    elif output == "sigmoid":
        assert out.min() >= 0 and out.max() <= 1
    assert enc(torch.randn(5, *shape)).shape == (5, 6)


def test_tables_match_their_literals() -> None:
    """Each registry holds exactly the names its config Literal allows (no unreachable or missing entry)."""
    assert set(AUTOENCODERS.names()) == set(get_args(NetKind))
    assert set(NORM_LAYERS.names()) == set(NORMS)
    assert set(OUTPUT_LAYERS.names()) == set(OUTPUTS)


def test_direct_callers_get_one_line_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown model.net 'resnet'; choose one of: conv, mlp"):
        encoder_decoder("resnet", (1, 8, 8), 2, 2, 8, 1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="square"):
        encoder_decoder("conv", (1, 8, 6), 2, 2, 8, 1)
