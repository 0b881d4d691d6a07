"""Energy-based models (IGEBM: Du & Mordatch 2019, arXiv:1903.08689; https://kexue.fm/archives/6612).

One idea per module: `energy` (MLP and conv energy nets), `buffer` (the replay buffer of chain
ends), `loss` (the regularised contrastive-divergence loss) and `model` (the `EBM` trained by
genlab's trainer).
The theoretical and practical Langevin samplers live in `genlab.sampling` (shared with score
models); `LangevinSampler` is re-exported here. Convention: low energy = likely.
"""

from genlab.models.ebm.buffer import ReplayBuffer
from genlab.models.ebm.energy import build_energy, conv_energy, mlp_energy
from genlab.models.ebm.loss import cd_loss
from genlab.models.ebm.model import EBM
from genlab.sampling import LangevinSampler

__all__ = ["EBM", "LangevinSampler", "ReplayBuffer", "build_energy", "cd_loss", "conv_energy", "mlp_energy"]
