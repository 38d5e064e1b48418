"""ML-100K runs and models shared by the explanation tests: closed-form fits through the runner, and
torch models (FM, DeepFM, SASRec) built on the same data with random weights (exactness does not need
training; random weights keep every term non-zero)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import recframe
from recframe.data.features import build_features
from recframe.models import DatasetInfo, apply_history

FAST = ["data=ml-100k", "trainer.progress_bar=false", "logger=none"]


@pytest.fixture(scope="session")
def closed_form_run(ml100k: Path, tmp_path_factory: pytest.TempPathFactory):
    """``run(model) -> run folder`` of an ML-100K closed-form run (``explain=fidelity``, 40 users)."""
    done: dict[str, Path] = {}

    def get(model: str) -> Path:
        if model not in done:
            run_dir = tmp_path_factory.mktemp(f"explain-{model}")
            recframe.run(
                [*FAST, f"model={model}", "explain=fidelity", "explain.fidelity.sample_users=40"], run_dir=run_dir
            )
            done[model] = run_dir
        return done[model]

    return get


def randomised(model: torch.nn.Module, seed: int = 1, std: float = 0.3) -> torch.nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
        for m in model.modules():
            if hasattr(m, "reset_padding"):
                m.reset_padding()
    return model.eval()


@pytest.fixture(scope="session")
def ml100k_saved(closed_form_run):
    """The saved ML-100K split of the EASE run (id maps, item table, feature spec)."""
    return recframe.load(closed_form_run("ease")).saved


def info_from(saved) -> DatasetInfo:
    train = saved.train
    spec = (saved.config.get("data") or {}).get("features")
    return DatasetInfo(
        train.n_users,
        train.n_items,
        train,
        np.bincount(train.item, minlength=train.n_items),
        build_features(spec, train),
    )


@pytest.fixture(scope="session")
def torch_models(ml100k_saved):
    """``{"fm", "deepfm", "sasrec"}`` built on ML-100K with random weights (SASRec's history applied)."""
    from recframe_context.deepfm import DeepFM
    from recframe_context.fm import FM
    from recframe_sequential.sasrec import SASRec

    info = info_from(ml100k_saved)
    sasrec = randomised(SASRec(info, embedding_dim=16, num_layers=2, num_heads=2, max_len=20), std=0.1)
    apply_history(sasrec, ml100k_saved.history)
    return {
        "fm": randomised(FM(info, embedding_dim=8)),
        "deepfm": randomised(DeepFM(info, embedding_dim=8), std=0.2),
        "sasrec": sasrec,
    }
