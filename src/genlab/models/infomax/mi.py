"""Jensen-Shannon mutual-information estimate from critic scores of positive and negative pairs.

With joint pairs (x, z) ~ p(x, z) and product pairs (x', z) ~ p(x) p(z), the f-GAN dual of the JS
divergence (Nowozin et al. 2016, arXiv:1606.00709; genlab's `jensen_shannon` row) gives

    JS(p(x, z) || p(x) p(z)) >= E_joint[T(v)] - E_product[g(T(v))]
                              = log 2 - 1/2 E_joint softplus(-v) - 1/2 E_product softplus(v),

tight at the optimal raw score v* = log p(x, z) / (p(x) p(z)). Deep InfoMax's JSD estimator (Hjelm et al.
2019, "Learning deep representations by mutual information estimation and maximization", arXiv:1808.06670,
sec. 3.1) is 2 (bound - log 2), the binary cross-entropy of telling positives from negatives, which is
what https://kexue.fm/archives/6024 writes as E log sigma(v+) + E log(1 - sigma(v-)).
"""

from __future__ import annotations

from torch import Tensor

from genlab.adversarial.fdivergence import LOG2, get_divergence

_JS = get_divergence("jensen_shannon")


def js_mi_bound(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    """Lower bound on JS(joint || product of marginals) in nats (at most log 2), from raw critic
    scores of positive (joint) and negative (product) pairs; every score counts equally."""
    return _JS.activation(pos_scores).mean() - _JS.fused_conjugate(neg_scores).mean()


def js_mi_loss(pos_scores: Tensor, neg_scores: Tensor) -> Tensor:
    """The loss minimised for the JS estimate: 2 (log 2 - bound) = E softplus(-v+) + E softplus(v-),
    the scale of the reference code, so its weights alpha and beta carry over unchanged."""
    return 2 * (LOG2 - js_mi_bound(pos_scores, neg_scores))
