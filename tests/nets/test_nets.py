"""Shapes of every body in `genlab.nets`, and the GAN/VAE parameter names of existing checkpoints.

The key lists below were recorded from the code *before* the bodies moved into `genlab.nets`
(models/gan/nets.py held them); run folders and presets load by these names, so they must not change.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlab.core.errors import ConfigError
from genlab.models.gan.nets import build_nets
from genlab.models.vae.model import VAE
from genlab.nets import (
    ConvDecoder,
    ConvEncoder,
    DCGANGenerator,
    MLPGenerator,
    ResNetCritic,
    ResNetGenerator,
    dcgan_critic,
    mlp,
    mlp_critic,
    norm_layer,
    output_layer,
)

SIZES = [8, 28, 32]

GAN_KEYS = {('mlp', (2,), 'batch', 'layer'): ({'net.0.weight': (8, 5),
                                               'net.0.bias': (8,),
                                               'net.1.weight': (8,),
                                               'net.1.bias': (8,),
                                               'net.1.running_mean': (8,),
                                               'net.1.running_var': (8,),
                                               'net.1.num_batches_tracked': (),
                                               'net.3.weight': (8, 8),
                                               'net.3.bias': (8,),
                                               'net.4.weight': (8,),
                                               'net.4.bias': (8,),
                                               'net.4.running_mean': (8,),
                                               'net.4.running_var': (8,),
                                               'net.4.num_batches_tracked': (),
                                               'net.6.weight': (2, 8),
                                               'net.6.bias': (2,)},
                                              {'body.1.weight': (8, 2),
                                               'body.1.bias': (8,),
                                               'body.2.weight': (8,),
                                               'body.2.bias': (8,),
                                               'body.4.weight': (8, 8),
                                               'body.4.bias': (8,),
                                               'body.5.weight': (8,),
                                               'body.5.bias': (8,),
                                               'body.7.weight': (1, 8),
                                               'body.7.bias': (1,)}),
            ('dcgan', (1, 28, 28), 'batch', 'layer'): ({'head.0.weight': (1568, 5),
                                                        'head.0.bias': (1568,),
                                                        'head.1.weight': (1568,),
                                                        'head.1.bias': (1568,),
                                                        'head.1.running_mean': (1568,),
                                                        'head.1.running_var': (1568,),
                                                        'head.1.num_batches_tracked': (),
                                                        'body.0.weight': (32, 16, 4, 4),
                                                        'body.0.bias': (16,),
                                                        'body.1.weight': (16,),
                                                        'body.1.bias': (16,),
                                                        'body.1.running_mean': (16,),
                                                        'body.1.running_var': (16,),
                                                        'body.1.num_batches_tracked': (),
                                                        'body.3.weight': (16, 8, 4, 4),
                                                        'body.3.bias': (8,),
                                                        'body.4.weight': (8,),
                                                        'body.4.bias': (8,),
                                                        'body.4.running_mean': (8,),
                                                        'body.4.running_var': (8,),
                                                        'body.4.num_batches_tracked': (),
                                                        'body.6.weight': (1, 8, 3, 3),
                                                        'body.6.bias': (1,)},
                                                       {'body.0.weight': (8, 1, 3, 3),
                                                        'body.0.bias': (8,),
                                                        'body.2.weight': (16, 8, 4, 4),
                                                        'body.2.bias': (16,),
                                                        'body.3.weight': (16,),
                                                        'body.3.bias': (16,),
                                                        'body.5.weight': (32, 16, 4, 4),
                                                        'body.5.bias': (32,),
                                                        'body.6.weight': (32,),
                                                        'body.6.bias': (32,),
                                                        'body.9.weight': (1, 1568),
                                                        'body.9.bias': (1,)}),
            ('dcgan', (1, 8, 8), 'none', 'none'): ({'head.0.weight': (256, 5),
                                                    'head.0.bias': (256,),
                                                    'body.0.weight': (16, 8, 4, 4),
                                                    'body.0.bias': (8,),
                                                    'body.3.weight': (1, 8, 3, 3),
                                                    'body.3.bias': (1,)},
                                                   {'body.0.weight': (8, 1, 3, 3),
                                                    'body.0.bias': (8,),
                                                    'body.2.weight': (16, 8, 4, 4),
                                                    'body.2.bias': (16,),
                                                    'body.6.weight': (1, 256),
                                                    'body.6.bias': (1,)}),
            ('resnet', (3, 32, 32), 'batch', 'none'): ({'head.weight': (128, 5),
                                                        'head.bias': (128,),
                                                        'body.0.main.0.weight': (8,),
                                                        'body.0.main.0.bias': (8,),
                                                        'body.0.main.0.running_mean': (8,),
                                                        'body.0.main.0.running_var': (8,),
                                                        'body.0.main.0.num_batches_tracked': (),
                                                        'body.0.main.3.weight': (8, 8, 3, 3),
                                                        'body.0.main.3.bias': (8,),
                                                        'body.0.main.4.weight': (8,),
                                                        'body.0.main.4.bias': (8,),
                                                        'body.0.main.4.running_mean': (8,),
                                                        'body.0.main.4.running_var': (8,),
                                                        'body.0.main.4.num_batches_tracked': (),
                                                        'body.0.main.6.weight': (8, 8, 3, 3),
                                                        'body.0.main.6.bias': (8,),
                                                        'body.0.skip.1.weight': (8, 8, 1, 1),
                                                        'body.0.skip.1.bias': (8,),
                                                        'body.1.main.0.weight': (8,),
                                                        'body.1.main.0.bias': (8,),
                                                        'body.1.main.0.running_mean': (8,),
                                                        'body.1.main.0.running_var': (8,),
                                                        'body.1.main.0.num_batches_tracked': (),
                                                        'body.1.main.3.weight': (8, 8, 3, 3),
                                                        'body.1.main.3.bias': (8,),
                                                        'body.1.main.4.weight': (8,),
                                                        'body.1.main.4.bias': (8,),
                                                        'body.1.main.4.running_mean': (8,),
                                                        'body.1.main.4.running_var': (8,),
                                                        'body.1.main.4.num_batches_tracked': (),
                                                        'body.1.main.6.weight': (8, 8, 3, 3),
                                                        'body.1.main.6.bias': (8,),
                                                        'body.1.skip.1.weight': (8, 8, 1, 1),
                                                        'body.1.skip.1.bias': (8,),
                                                        'body.2.main.0.weight': (8,),
                                                        'body.2.main.0.bias': (8,),
                                                        'body.2.main.0.running_mean': (8,),
                                                        'body.2.main.0.running_var': (8,),
                                                        'body.2.main.0.num_batches_tracked': (),
                                                        'body.2.main.3.weight': (8, 8, 3, 3),
                                                        'body.2.main.3.bias': (8,),
                                                        'body.2.main.4.weight': (8,),
                                                        'body.2.main.4.bias': (8,),
                                                        'body.2.main.4.running_mean': (8,),
                                                        'body.2.main.4.running_var': (8,),
                                                        'body.2.main.4.num_batches_tracked': (),
                                                        'body.2.main.6.weight': (8, 8, 3, 3),
                                                        'body.2.main.6.bias': (8,),
                                                        'body.2.skip.1.weight': (8, 8, 1, 1),
                                                        'body.2.skip.1.bias': (8,),
                                                        'body.3.weight': (8,),
                                                        'body.3.bias': (8,),
                                                        'body.3.running_mean': (8,),
                                                        'body.3.running_var': (8,),
                                                        'body.3.num_batches_tracked': (),
                                                        'body.5.weight': (3, 8, 3, 3),
                                                        'body.5.bias': (3,)},
                                                       {'blocks.0.main.0.weight': (8, 3, 3, 3),
                                                        'blocks.0.main.0.bias': (8,),
                                                        'blocks.0.main.2.weight': (8, 8, 3, 3),
                                                        'blocks.0.main.2.bias': (8,),
                                                        'blocks.0.skip.1.weight': (8, 3, 1, 1),
                                                        'blocks.0.skip.1.bias': (8,),
                                                        'blocks.1.main.1.weight': (8, 8, 3, 3),
                                                        'blocks.1.main.1.bias': (8,),
                                                        'blocks.1.main.3.weight': (8, 8, 3, 3),
                                                        'blocks.1.main.3.bias': (8,),
                                                        'blocks.1.skip.0.weight': (8, 8, 1, 1),
                                                        'blocks.1.skip.0.bias': (8,),
                                                        'blocks.2.main.1.weight': (8, 8, 3, 3),
                                                        'blocks.2.main.1.bias': (8,),
                                                        'blocks.2.main.3.weight': (8, 8, 3, 3),
                                                        'blocks.2.main.3.bias': (8,),
                                                        'blocks.3.main.1.weight': (8, 8, 3, 3),
                                                        'blocks.3.main.1.bias': (8,),
                                                        'blocks.3.main.3.weight': (8, 8, 3, 3),
                                                        'blocks.3.main.3.bias': (8,),
                                                        'head.weight': (1, 8),
                                                        'head.bias': (1,)})}
# genlab 0.2.0: the MLP decoder is `MLPGenerator` (genlab.nets.autoencoder), so its keys gained "net."
VAE_KEYS = {('mlp', (2,)): {'raw_log_std': (2,),
                            'encoder.1.0.weight': (8, 2),
                            'encoder.1.0.bias': (8,),
                            'encoder.1.2.weight': (8, 8),
                            'encoder.1.2.bias': (8,),
                            'encoder.1.4.weight': (6, 8),
                            'encoder.1.4.bias': (6,),
                            'decoder.net.0.weight': (8, 3),
                            'decoder.net.0.bias': (8,),
                            'decoder.net.2.weight': (8, 8),
                            'decoder.net.2.bias': (8,),
                            'decoder.net.4.weight': (2, 8),
                            'decoder.net.4.bias': (2,)},
            ('conv', (1, 28, 28)): {'raw_log_std': (1, 28, 28),
                                    'encoder.features.0.weight': (8, 1, 3, 3),
                                    'encoder.features.0.bias': (8,),
                                    'encoder.features.2.weight': (16, 8, 4, 4),
                                    'encoder.features.2.bias': (16,),
                                    'encoder.features.4.weight': (32, 16, 4, 4),
                                    'encoder.features.4.bias': (32,),
                                    'encoder.head.weight': (6, 1568),
                                    'encoder.head.bias': (6,),
                                    'decoder.head.0.weight': (1568, 3),
                                    'decoder.head.0.bias': (1568,),
                                    'decoder.body.0.weight': (32, 16, 4, 4),
                                    'decoder.body.0.bias': (16,),
                                    'decoder.body.2.weight': (16, 8, 4, 4),
                                    'decoder.body.2.bias': (8,),
                                    'decoder.body.4.weight': (1, 8, 3, 3),
                                    'decoder.body.4.bias': (1,)},
            ('conv', (3, 32, 32)): {'raw_log_std': (3, 32, 32),
                                    'encoder.features.0.weight': (8, 3, 3, 3),
                                    'encoder.features.0.bias': (8,),
                                    'encoder.features.2.weight': (16, 8, 4, 4),
                                    'encoder.features.2.bias': (16,),
                                    'encoder.features.4.weight': (32, 16, 4, 4),
                                    'encoder.features.4.bias': (32,),
                                    'encoder.features.6.weight': (64, 32, 4, 4),
                                    'encoder.features.6.bias': (64,),
                                    'encoder.head.weight': (6, 1024),
                                    'encoder.head.bias': (6,),
                                    'decoder.head.0.weight': (1024, 3),
                                    'decoder.head.0.bias': (1024,),
                                    'decoder.body.0.weight': (64, 32, 4, 4),
                                    'decoder.body.0.bias': (32,),
                                    'decoder.body.2.weight': (32, 16, 4, 4),
                                    'decoder.body.2.bias': (16,),
                                    'decoder.body.4.weight': (16, 8, 4, 4),
                                    'decoder.body.4.bias': (8,),
                                    'decoder.body.6.weight': (3, 8, 3, 3),
                                    'decoder.body.6.bias': (3,)}}


def _keys(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_conv_bodies_shapes(size: int, channels: int) -> None:
    torch.manual_seed(0)
    shape = (channels, size, size)
    x, z = torch.randn(2, *shape), torch.randn(2, 5)
    assert ConvEncoder(shape, 7, base=4)(x).shape == (2, 7)
    assert ConvDecoder(5, shape, base=4)(z).shape == (2, *shape)
    gen = DCGANGenerator(5, shape, base=4)
    assert gen(z).shape == (2, *shape)
    assert gen(z).abs().max() <= 1  # tanh output
    assert dcgan_critic(shape, base=4, norm="layer")(x).shape == (2,)
    if size >= 16:  # ResNet needs two halvings
        assert ResNetGenerator(5, shape, ch=4)(z).shape == (2, *shape)
        assert ResNetCritic(shape, ch=4)(x).shape == (2,)
    else:
        with pytest.raises(ConfigError, match="at least 16x16"):
            ResNetCritic(shape, ch=4)


@pytest.mark.parametrize("shape", [(2,), (1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_mlp_bodies_shapes(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    x, z = torch.randn(3, *shape), torch.randn(3, 5)
    assert MLPGenerator(5, shape, hidden=8, depth=2, norm="batch", output="sigmoid")(z).shape == (3, *shape)
    assert mlp_critic(shape, hidden=8, depth=2, norm="layer")(x).shape == (3,)
    assert mlp(5, 4, hidden=8, depth=0)(z).shape == (3, 4)


def test_plain_layout_has_no_norm_slot() -> None:
    # the VAE/flow layout [Linear, act, Linear] vs the GAN layout [Linear, norm, act, Linear]
    assert [type(m) for m in mlp(3, 2, 4, 1)] == [nn.Linear, nn.ReLU, nn.Linear]
    assert [type(m) for m in mlp(3, 2, 4, 1, norm="none")] == [nn.Linear, nn.Identity, nn.ReLU, nn.Linear]


def test_bad_names_and_sizes_raise() -> None:
    with pytest.raises(ValueError, match="normalisation"):
        norm_layer("group", 4)
    with pytest.raises(ValueError, match="generator output"):
        output_layer("relu")
    with pytest.raises(ValueError, match="square"):
        dcgan_critic((1, 8, 12))
    with pytest.raises(ValueError, match="depth"):
        mlp(3, 2, 4, -1)


@pytest.mark.parametrize("args", list(GAN_KEYS))
def test_gan_state_dict_keys_unchanged(args: tuple) -> None:
    net, shape, gn, cn = args
    gen, critic = build_nets(net, 5, shape, 8, 2, gn, cn, "tanh")
    assert (_keys(gen), _keys(critic)) == GAN_KEYS[args]


@pytest.mark.parametrize("args", list(VAE_KEYS))
def test_vae_state_dict_keys(args: tuple) -> None:
    net, shape = args
    model = VAE(VAE.Config(net=net, hidden=8, depth=2, latent_dim=3), shape)
    assert _keys(model) == VAE_KEYS[args]
