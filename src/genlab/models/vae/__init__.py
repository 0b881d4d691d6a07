"""VAE / IWAE (Kingma & Welling, arXiv:1312.6114; Burda et al., arXiv:1509.00519)."""

from genlab.models.vae.model import VAE

__all__ = ["VAE"]
