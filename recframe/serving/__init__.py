"""Recommendations out of a trained run: the saved model folder, the loaded-model handle, fold-in,
the HTTP server and the approximate index (docs/serving.md).

``recframe.load(run_dir)`` (:func:`recframe.serving.handle.load`) is the entry point; the runner
calls :func:`recframe.serving.artifact.save_model` once per run. Modules import torch and the
server's dependencies only when used.
"""

from __future__ import annotations
