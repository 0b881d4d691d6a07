"""Reusable network bodies shared by every model family.

* `mlp`: plain MLPs and the MLP GAN generator/critic.
* `conv`: DCGAN-style conv stacks and the conv encoder/decoder.
* `dcgan`: DCGAN generator and critic on those stacks.
* `resnet`: residual up/down blocks, ResNet generator and critic.
* `norm`: the normalisation/output layer choosers; `scores`: the (B,)-score critic wrapper.
* `feature_cnn`: the small classifier whose penultimate layer is genlab's image feature space.
* `time_embedding`, `time`, `unet`: time-conditioned nets v(x, t) (`TimeMLP`, `UNet`) for diffusion,
  score and flow-matching models, picked by name with `build_time_net`.
"""

from genlab.nets.conv import ConvDecoder, ConvEncoder, down_layers, downsample_plan, up_layers
from genlab.nets.dcgan import DCGANGenerator, dcgan_critic
from genlab.nets.feature_cnn import FeatureCNN, NetSpec
from genlab.nets.mlp import MLPGenerator, mlp, mlp_critic, mlp_layers
from genlab.nets.norm import NORMS, OUTPUTS, norm_layer, output_layer
from genlab.nets.resnet import DownBlock, ResNetCritic, ResNetGenerator, UpBlock
from genlab.nets.scores import Scores
from genlab.nets.time import TIME_NETS, TimeMLP, build_time_net
from genlab.nets.time_embedding import TimeEmbedding
from genlab.nets.unet import UNet

__all__ = ["NORMS", "OUTPUTS", "TIME_NETS", "ConvDecoder", "ConvEncoder", "DCGANGenerator", "DownBlock",
           "FeatureCNN", "MLPGenerator", "NetSpec", "ResNetCritic", "ResNetGenerator", "Scores",
           "TimeEmbedding", "TimeMLP", "UNet", "UpBlock", "build_time_net", "dcgan_critic", "down_layers",
           "downsample_plan", "mlp", "mlp_critic", "mlp_layers", "norm_layer", "output_layer", "up_layers"]
