"""Privacy as a measured column of the balance: DP-SGD training and a membership-inference audit.

* :mod:`recframe.privacy.settings`: ``trainer.privacy`` read and checked at plan time (no torch);
* :mod:`recframe.privacy.accountant`: noise multiplier for a target epsilon and the epsilon spent
  (Opacus's RDP accountant);
* :mod:`recframe.privacy.clipping`: per-sample gradient clipping and Gaussian noise (DP-SGD) for
  models built from ``nn.Embedding`` and ``nn.Linear`` layers;
* :mod:`recframe.privacy.membership`: the score-rank membership-inference attack and its AUC;
* :mod:`recframe.privacy.stage`: the ``privacy`` block of ``results.json``.

See docs/privacy.md.
"""
