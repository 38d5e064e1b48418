"""Explanations: why a model recommends an item, as typed reasons, and how faithful they are.

* :mod:`recframe.explain.reasons`: the reason records (history item, field, content term, neighbour);
* :mod:`recframe.explain.base`: the :class:`Explainer` contract plugins implement (``register_explainers``);
* :mod:`recframe.explain.choose`: the explainer for a model (by name or ``auto``);
* :mod:`recframe.explain.fidelity`: the deletion curve (rank drop of top reasons vs random units);
* :mod:`recframe.explain.stage`: the opt-in run stage writing ``results.json``'s ``explain`` block;
* :mod:`recframe.explain.cli`, :mod:`recframe.explain.serve`: ``recframe explain`` and ``GET /explain``.

The documentation is ``docs/explain.md``.
"""
