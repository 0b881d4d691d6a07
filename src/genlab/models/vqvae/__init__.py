"""VQ-VAE (van den Oord, Vinyals & Kavukcuoglu, arXiv:1711.00937) and its PixelCNN prior."""

from genlab.models.vqvae.ema import EMACodebook
from genlab.models.vqvae.model import VQVAE
from genlab.models.vqvae.pixelcnn import MaskedConv2d, PixelCNN
from genlab.models.vqvae.prior import VQVAEPrior
from genlab.models.vqvae.quantizer import VectorQuantizer, nearest_codes, perplexity, straight_through

__all__ = ["VQVAE", "EMACodebook", "MaskedConv2d", "PixelCNN", "VQVAEPrior", "VectorQuantizer",
           "nearest_codes", "perplexity", "straight_through"]
