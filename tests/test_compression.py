"""Compression stages (recframe_distill) against hand computations, and the chain end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from recframe.compression import storage, tensor_storage
from recframe.console import baseline_table
from recframe.data.interactions import Interactions
from recframe.models import DatasetInfo, count_parameters, model_bytes
from recframe.plugins import registries
from recframe_distill.distill import listwise_kl_loss, rank_weights, ranking_distillation_loss, soft_label_loss
from recframe_distill.lowrank import LowRank, LowRankEmbedding
from recframe_distill.prune import Prune
from recframe_distill.quantize import Int8Embedding, Quantize


def tiny_info(n_users=50, n_items=40, seed=0) -> DatasetInfo:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < 0.2
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    users, items = np.nonzero(dense)
    data = Interactions(user=users, item=items, n_users=n_users, n_items=n_items)
    return DatasetInfo(n_users, n_items, data, np.bincount(items, minlength=n_items))


def tiny_model(name="bpr", **params):
    torch.manual_seed(0)
    return registries().model.get(name)(tiny_info(), **params).eval()


def scores_of(model):
    with torch.no_grad():
        return model.score_all(torch.arange(model.n_users))


# --- quantize ------------------------------------------------------------------------------------


def test_quantize_stores_int8_tables_and_scores_close_to_the_original():
    model = tiny_model(embedding_dim=32)
    q = Quantize().compress(model)
    n, d = 50 + 40, 32
    assert model_bytes(q) == n * d + 4 * n  # int8 values + one float32 scale per row
    assert model_bytes(q) / model_bytes(model) == pytest.approx(0.25, abs=1 / d + 1e-9)
    ref, got = scores_of(model), scores_of(q)
    assert torch.allclose(got, ref, atol=0.02 * ref.abs().max().item())
    assert torch.equal(model.item_embedding.weight, model.item_embedding.weight)  # input left untouched
    assert isinstance(model.item_embedding, torch.nn.Embedding)


def test_int8_rows_are_symmetric_per_row_quantization():
    w = torch.tensor([[1.0, -0.5, 0.25], [0.0, 2.0, -2.0]])
    emb = Int8Embedding(w)
    assert emb.qweight.dtype == torch.int8
    assert torch.equal(emb.qweight, torch.tensor([[127, -64, 32], [0, 127, -127]], dtype=torch.int8))
    assert torch.allclose(emb.weight, w, atol=1 / 127)
    assert torch.allclose(emb(torch.tensor([1])), emb.weight[1:2])


def test_quantize_linear_layers_of_an_mlp_model():
    model = tiny_model("neumf", embedding_dim=8, mlp_embedding_dim=8, hidden_sizes=[16, 8], dropout=0.0)
    q = Quantize().compress(model)
    linear = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert q.inner.__class__ is model.__class__ and linear == 3
    tables = (50 + 40) * 2 * (8 + 4)  # int8 rows + float32 row scales, four tables
    weights = 16 * 16 + 8 * 16 + 1 * 16  # int8 weights of the tower and the output layer
    biases = 4 * (16 + 8 + 1)  # float32 biases
    assert model_bytes(q) == tables + weights + biases + 3 * 8  # + scale and zero point per layer
    assert model_bytes(q) < 0.4 * model_bytes(model)
    ref, got = scores_of(model), scores_of(q)
    assert torch.allclose(got, ref, atol=0.05 * ref.abs().max().item() + 1e-3)


def test_a_quantized_ncf_tower_ranks_through_its_int8_layers():
    model = tiny_model("ncf_mlp", embedding_dim=8, hidden_sizes=[16, 8])
    q = Quantize().compress(model)
    assert not isinstance(q.inner.tower[1], torch.nn.Linear)  # the split fast path must not apply
    ref, got = scores_of(model), scores_of(q)
    assert torch.allclose(got, ref, atol=0.05 * ref.abs().max().item() + 1e-3)
    pairs = q.score(torch.arange(50).repeat_interleave(40), torch.arange(40).repeat(50)).view(50, 40)
    assert torch.allclose(got, pairs.detach())


# --- low rank ------------------------------------------------------------------------------------


def test_lowrank_equals_the_svd_truncation_and_counts_the_factors():
    model = tiny_model(embedding_dim=16)
    r = 4
    low = LowRank(rank=r).compress(model)
    for name in ("user_embedding", "item_embedding"):
        w = getattr(model, name).weight.detach().double()
        u, s, vh = np.linalg.svd(w.numpy(), full_matrices=False)
        expected = (u[:, :r] * s[:r]) @ vh[:r]
        got = getattr(low.inner, name)
        assert isinstance(got, LowRankEmbedding)
        np.testing.assert_allclose(got.weight.detach().double().numpy(), expected, atol=1e-5)
    n_users, n_items, d = 50, 40, 16
    assert count_parameters(model) == (n_users + n_items) * d
    assert count_parameters(low) == r * (n_users + d) + r * (n_items + d)
    assert model_bytes(low) == 4 * count_parameters(low)


# --- prune ---------------------------------------------------------------------------------------


def test_magnitude_pruning_reaches_the_requested_sparsity_and_size_counts_it():
    model = tiny_model(embedding_dim=16)
    p = Prune(amount=0.75)
    pruned = p.compress(model)
    assert p.facts["sparsity"] == pytest.approx(0.75, abs=1e-9)
    for name, (rows, cols) in {"user_embedding": (50, 16), "item_embedding": (40, 16)}.items():
        w = getattr(pruned.inner, name).weight
        assert int((w == 0).sum()) == round(0.75 * rows * cols)
        # the zeroed weights are the smallest in magnitude
        orig = getattr(model, name).weight.detach().abs()
        assert orig[w == 0].max() <= orig[w != 0].min()
    csr = sum(round(0.25 * r * c) * 8 + 4 * (r + 1) for r, c in [(50, 16), (40, 16)])
    assert model_bytes(pruned) == csr < model_bytes(model)
    assert count_parameters(pruned) == round(0.25 * 50 * 16) + round(0.25 * 40 * 16)


def test_structured_pruning_drops_whole_embedding_columns():
    model = tiny_model(embedding_dim=16)
    p = Prune(amount=0.5, method="structured")
    pruned = p.compress(model)
    assert p.facts["sparsity"] == pytest.approx(0.5)
    w = pruned.inner.user_embedding.weight
    assert int((w != 0).any(dim=0).sum()) == 8
    # dense without the zero columns, plus an int32 index of the kept ones, per table
    assert model_bytes(pruned) == (50 * 8 * 4 + 4 * 8) + (40 * 8 * 4 + 4 * 8)


def test_tensor_storage_keeps_dense_when_sparse_is_not_smaller():
    t = torch.randn(10, 10)
    assert tensor_storage(t, sparse=True) == (100, 400)
    assert storage(torch.nn.Linear(3, 2)) == (8, 32)


# --- distill -------------------------------------------------------------------------------------


def test_ranking_distillation_loss_on_a_hand_toy():
    w = rank_weights(2, lam=1.0)
    e1, e2 = math.exp(-1), math.exp(-2)
    assert torch.allclose(w, torch.tensor([e1, e2]) / (e1 + e2))
    # one user; student scores 0 and ln 3 on the teacher's top-1 and top-2:
    # -(w1 log sigmoid(0) + w2 log sigmoid(ln 3)) = w1 ln 2 + w2 ln(4/3)
    scores = torch.tensor([[0.0, math.log(3.0)]])
    expected = (e1 * math.log(2) + e2 * math.log(4 / 3)) / (e1 + e2)
    assert ranking_distillation_loss(scores, w).item() == pytest.approx(expected, rel=1e-6)
    # two users average; pushing the teacher's items up lowers the loss
    two = torch.tensor([[0.0, math.log(3.0)], [5.0, 5.0]])
    assert ranking_distillation_loss(two, w).item() < expected


def test_soft_and_listwise_losses_are_minimal_at_the_teacher():
    t = torch.tensor([[2.0, -1.0, 0.5]])
    assert listwise_kl_loss(t.clone(), t).item() == pytest.approx(0.0, abs=1e-7)
    assert listwise_kl_loss(torch.zeros_like(t), t).item() > 0
    assert soft_label_loss(t, t).item() < soft_label_loss(-t, t).item()


@pytest.mark.parametrize("kind", ["soft", "listwise"])
def test_the_teacher_score_table_gives_the_teachers_pair_scores(kind):
    from recframe_distill.distill import StudentWithTeacher, teacher_score_table

    teacher, student = tiny_model(embedding_dim=16), tiny_model(embedding_dim=4)
    topk = torch.randint(0, 40, (50, 5), generator=torch.Generator().manual_seed(1))
    batch = {
        "user": torch.tensor([0, 7, 7, 49]),
        "pos_item": torch.tensor([1, 2, 3, 4]),
        "neg_item": torch.tensor([[5], [6], [7], [8]]),
    }
    cached = StudentWithTeacher(
        student, teacher, topk, kind, num_samples=6, seed=3, teacher_table=teacher_score_table(teacher)
    )
    direct = StudentWithTeacher(student, teacher, topk, kind, num_samples=6, seed=3)
    assert cached.teacher_table is not None and direct.teacher_table is None
    a, b = cached(batch), direct(batch)
    assert torch.allclose(a["kd_teacher"], b["kd_teacher"], atol=1e-6)
    assert torch.equal(a["kd_student"], b["kd_student"])  # same sampled items: same seed


# --- the chain, end to end -----------------------------------------------------------------------


def test_chain_from_config_writes_compressed_rows_with_retention(recframe_run, tmp_path):
    results = recframe_run(
        [
            "compressor=chain",
            "+compressor.stages.0.trainer.max_epochs=2",
            "compressor.stages.0.student.embedding_dim=8",
            "model.embedding_dim=32",
        ]
    )
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    rows = saved["compressed"]
    assert [r["stage"] for r in rows] == ["distill", "quantize"]
    for row in rows:
        assert set(row["metrics"]) == set(saved["metrics"])
        for key, value in row["metrics"].items():
            base = saved["metrics"][key]
            if base:
                assert row["retention"][key] == pytest.approx(value / base, rel=1e-5)
        assert {"params", "model_bytes", "fit_seconds", "score_latency_ms_per_1k_users"} <= set(row["cost"])
    n = results["data"]["filtered"]["users"] + results["data"]["filtered"]["items"]
    assert saved["cost"]["params"] == 32 * n
    assert rows[0]["cost"]["params"] == 8 * n
    assert rows[1]["cost"]["model_bytes"] == 8 * n + 4 * n  # the student in int8 plus row scales


def test_distill_over_seeds_reports_each_seed_and_the_paired_difference(recframe_run, tmp_path):
    recframe_run(
        [
            "compressor=distill",
            "compressor.student.embedding_dim=8",
            "compressor.baseline=true",
            "+compressor.seeds=[3,4]",
            "+compressor.trainer.max_epochs=2",
            "model.embedding_dim=32",
        ]
    )
    row = json.loads((tmp_path / "run" / "results.json").read_text())["compressed"][0]
    seeds, summary = row["facts"]["seeds"], row["facts"]["summary"]
    assert sorted(seeds) == ["3", "4"] and summary["n"] == 2
    assert row["metrics"] == seeds["3"]["metrics"]  # the stage's model is the first seed's student
    assert seeds["3"]["metrics"] != seeds["4"]["metrics"]  # the seed reaches initialisation and sampling
    assert row["cost"]["fit_seconds"] == seeds["3"]["fit"]["seconds"] < row["cost"]["stage_seconds"]
    for key in row["metrics"]:
        student = [seeds[s]["metrics"][key] for s in ("3", "4")]
        base = [seeds[s]["baseline"]["metrics"][key] for s in ("3", "4")]
        assert summary["student"][key]["mean"] == pytest.approx(np.mean(student))
        assert summary["student"][key]["std"] == pytest.approx(np.std(student, ddof=1))
        assert summary["baseline"][key]["mean"] == pytest.approx(np.mean(base))
        diffs = np.subtract(student, base)
        assert summary["difference"][key]["mean"] == pytest.approx(diffs.mean())
        assert summary["difference"][key]["wins"] == int((diffs > 0).sum())
    assert (tmp_path / "run" / "compressed" / "0-distill" / "seed4" / "baseline").is_dir()
    printed = rendered(baseline_table(row, "test/ndcg@10"))
    d = summary["difference"]["test/ndcg@10"]
    assert f"{d['mean']:+.4f} ± {d['std']:.4f}, {d['wins']}/2 won" in printed
    assert f"{seeds['4']['baseline']['metrics']['test/ndcg@10']:.4f}" in printed


def rendered(table) -> str:
    import io

    from rich.console import Console

    out = Console(file=io.StringIO(), width=200)
    out.print(table)
    return out.file.getvalue()


@pytest.mark.parametrize("loss", ["soft", "listwise"])
def test_teacher_scoring_losses_train_a_student_through_the_run(recframe_run, loss):
    results = recframe_run(
        [
            "compressor=distill",
            f"compressor.loss={loss}",
            "compressor.student.embedding_dim=8",
            "+compressor.trainer.max_epochs=2",
            "model.embedding_dim=32",
        ]
    )
    row = results["compressed"][0]
    assert row["facts"]["loss"] == loss and row["facts"]["fit"]["epochs"] == 2
    assert row["cost"]["params"] * 4 == results["cost"]["params"]
    assert 0 < row["metrics"]["test/ndcg@10"] and row["metrics"] != results["metrics"]


def test_distill_seeds_must_be_distinct():
    from recframe_distill.distill import Distill

    with pytest.raises(ValueError, match="distinct"):
        Distill(seeds=[1, 1])


def test_pruned_weights_stay_zero_through_fine_tuning(recframe_run, tmp_path):
    results = recframe_run(
        [
            "compressor=prune",
            "compressor.amount=0.75",
            "compressor.finetune_epochs=2",
            "model.embedding_dim=16",
            "trainer.max_epochs=2",
        ]
    )
    row = results["compressed"][0]
    assert row["facts"]["finetune"]["epochs"] == 2
    assert row["facts"]["sparsity"] == pytest.approx(0.75, abs=1e-3)  # the masks held while training
    assert row["metrics"] != results["metrics"]  # and the fine-tuning changed the model


def test_compressing_a_saved_run_folder(recframe_run, tmp_path):
    first = recframe_run(["model.embedding_dim=16"], run_dir=tmp_path / "teacher")
    second = recframe_run(
        ["compressor=compare", "compressor.stages.3.rank=4", f"compressor.from_run={tmp_path / 'teacher'}"],
        run_dir=tmp_path / "low",
    )
    assert second["metrics"] == first["metrics"]  # the saved best checkpoint, evaluated again
    assert second["run"]["compressed_from"] == str(tmp_path / "teacher")
    rows = second["compressed"]
    assert [r["stage"] for r in rows] == ["prune", "prune", "quantize", "lowrank"]
    n, d = first["cost"]["params"] // 16, 16  # users + items, embedding size
    # chain: false, so every stage starts from the saved model, not from the previous stage
    assert rows[0]["facts"]["sparsity"] == pytest.approx(0.5) and rows[1]["facts"]["sparsity"] == pytest.approx(0.5)
    assert rows[1]["cost"]["params"] == n * 8  # half the columns of each table dropped
    assert rows[1]["cost"]["model_bytes"] == n * 8 * 4 + 2 * 4 * 8  # + an int32 index of kept columns
    assert rows[2]["cost"]["model_bytes"] == n * d + 4 * n
    assert rows[3]["cost"]["params"] == 4 * n + 2 * 4 * d
