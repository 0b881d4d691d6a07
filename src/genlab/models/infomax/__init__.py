"""Deep InfoMax (Hjelm et al. 2019, arXiv:1808.06670) with a Gaussian code and KL prior
(https://kexue.fm/archives/6024)."""

from genlab.models.infomax.mi import js_mi_bound, js_mi_loss
from genlab.models.infomax.model import DeepInfoMax
from genlab.models.infomax.negatives import derangement

__all__ = ["DeepInfoMax", "derangement", "js_mi_bound", "js_mi_loss"]
