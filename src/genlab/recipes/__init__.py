"""Recipes: the blog's other systems as small, self-contained and tested modules (one idea per file).

Each runs as ``python -m genlab.recipes.<name>`` and prints its headline check in a few seconds:
`gillespie` (exact stochastic simulation of reaction systems, https://kexue.fm/archives/5607),
`stirling` (the asymptotic Stirling series for log Gamma(x + 1), https://kexue.fm/archives/3731),
`ellipses` (two congruent ellipses bent and glued into a closed solid, https://kexue.fm/archives/6818),
`linear_autoencoder` (a linear autoencoder trained by gradient descent recovers truncated SVD,
https://kexue.fm/archives/4208), `trie` (a prefix tree over token ids with constrained greedy / beam
decoding, https://kexue.fm/archives/8802), `glove` (simpler GloVe word vectors on Python's own docs,
https://kexue.fm/archives/4669), `seq2seq` (question -> stored key under the trie, trained by genlab's
Trainer, https://kexue.fm/archives/8802) and `spo` (triple extraction, half pointer half tagging,
https://kexue.fm/archives/7161); `fit` trains a recipe's model in memory (`labelled_run` a classifier,
`feature_net` genlab's feature networks, the `genlab features train` command). The NLP ones take a minute or
more: `capsules` (matrix capsules with EM routing, a capsule classifier
trained by genlab's trainer, https://kexue.fm/archives/5155) and `finetune` (a shipped feature CNN fine-tuned
with a GLU layer, center loss and staged unfreezing, https://kexue.fm/archives/4611). They are not
imported here, so each loads on its own.
"""
