"""HSTU: causality, exactness across batches and padding, scoring from the history, learning, the
layer's equations against a direct transcription, and one-line config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_sequential_models import chains, make, random_sequences

from recframe.errors import ConfigError
from recframe.evaluation.ranking import RankingEvaluator, RankingTarget
from recframe.plugins import registries
from recframe.training.sampling import NegativeSampler
from recframe.training.sequences import SequenceBatches


def test_state_at_t_reads_only_positions_up_to_t():
    torch.manual_seed(0)
    model = make("hstu", chains(), embedding_dim=16, num_layers=2, dqk=8, dv=8, max_len=10).eval()
    seq = random_sequences(12, 10, 30)
    seq[:, 4:] = seq[:, 4:].clamp_min(0)
    later, earlier = seq.clone(), seq.clone()
    later[:, 7:] = (later[:, 7:] + 1) % 30
    earlier[:, 5] = (earlier[:, 5] + 1) % 30
    with torch.no_grad():
        base, after_later, after_earlier = model.encode(seq), model.encode(later), model.encode(earlier)
    assert torch.equal(base[:, :7], after_later[:, :7])
    assert not torch.allclose(base[:, 7:], after_later[:, 7:])
    assert torch.equal(base[:, :5], after_earlier[:, :5])
    assert not torch.allclose(base[:, 5:], after_earlier[:, 5:])


def test_batch_outputs_equal_row_by_row_and_padding_is_ignored():
    torch.manual_seed(0)
    model = make("hstu", chains(), embedding_dim=16, num_layers=2, num_heads=2, dqk=4, dv=4, max_len=20).eval()
    seq = random_sequences(21, 20, 30, seed=1)
    with torch.no_grad():
        batch = model.encode(seq)
        rows = torch.cat([model.encode(seq[i : i + 1]) for i in range(len(seq))])
    assert torch.allclose(batch, rows, atol=1e-5)
    assert torch.all(batch[seq < 0] == 0)
    norms = batch[seq >= 0].norm(dim=-1)  # unit states over sqrt(temperature)
    assert torch.allclose(norms, torch.full_like(norms, model.temperature**-0.5), atol=1e-4)


def test_layer_matches_the_papers_equations_written_out():
    """One layer against a direct transcription of U,V,Q,K = split(SiLU(f1(LN x))); A = SiLU(QK^T + rab)/n
    (causal); out = x + f2(LN(AV) * U), one head, no padding, in double precision."""
    torch.manual_seed(3)
    model = make("hstu", chains(), embedding_dim=8, num_layers=1, dqk=5, dv=6, max_len=7).double().eval()
    layer = model.layers[0]
    with torch.no_grad():
        layer.relative_bias.copy_(torch.randn(7, dtype=torch.float64))
        x = torch.randn(2, 7, 8, dtype=torch.float64)
        allowed = torch.ones(7, 7, dtype=torch.float64).tril().expand(2, 1, 7, 7)
        got = layer(x, allowed)
        for b in range(2):
            h = F.silu(layer.f1(layer.input_norm(x[b])))
            u, v, q, k = h[:, :6], h[:, 6:12], h[:, 12:17], h[:, 17:22]
            out = torch.empty(7, 8, dtype=torch.float64)
            for i in range(7):
                av = sum(F.silu(q[i] @ k[j] + layer.relative_bias[i - j]) / 7 * v[j] for j in range(i + 1))
                out[i] = x[b, i] + layer.f2(layer.attention_norm(av) * u[i])
            assert torch.allclose(got[b], out, atol=1e-10)


def test_score_all_and_score_agree_and_read_the_history():
    data = chains(n_users=20)
    torch.manual_seed(0)
    model = make("hstu", data, embedding_dim=16, dqk=8, dv=8, max_len=5).eval()
    model.set_history(data)
    users = torch.arange(20)
    with torch.no_grad():
        full = model.score_all(users)
        items = torch.randint(0, data.n_items, (20,))
        assert torch.allclose(model.score(users, items), full[users, items], atol=1e-4)
        cosine = F.normalize(model.user_state(users), dim=-1) @ F.normalize(model.item_weights(), dim=-1).T
        assert torch.allclose(full * model.temperature, cosine, atol=1e-5)  # cosine over the temperature


def test_sampled_softmax_on_a_sequence_batch_equals_its_definition_in_double_precision():
    """The loss over HSTU's outputs against ``mean_t [logsumexp(s_pos, s_neg_1..n) - s_pos]`` written
    out per target position in float64 from the encoder's states and the raw item embeddings."""
    data = chains(n_users=12)
    torch.manual_seed(0)
    model = make("hstu", data, embedding_dim=16, num_layers=2, dqk=8, dv=8, max_len=6).eval()
    batch = next(iter(SequenceBatches(data, 12, 6, 5, NegativeSampler(data), seed=3)))
    with torch.no_grad():
        got = registries().loss.get("sampled_softmax")()(model(batch), batch)
        states = model.encode(batch["seq"]).double()
        table = model.item_embedding.weight.double()
    terms = []
    for b, t in zip(*np.nonzero(batch["pos_item"].numpy() >= 0), strict=True):
        items = [int(batch["pos_item"][b, t])] + batch["neg_item"][b, t].tolist()
        vectors = F.normalize(table[items], dim=-1) / model.temperature**0.5
        logits = vectors @ states[b, t]
        terms.append(torch.logsumexp(logits, 0) - logits[0])
    assert len(terms) > 12  # several target positions a row
    assert abs(float(got) - float(torch.stack(terms).mean())) < 1e-5


def test_sampled_softmax_is_log_n_plus_one_when_every_negative_is_the_positive():
    data = chains(n_users=8)
    model = make("hstu", data, embedding_dim=8, dqk=4, dv=4, max_len=5).eval()
    batch = next(iter(SequenceBatches(data, 8, 5, 7, NegativeSampler(data), seed=0)))
    batch["neg_item"] = batch["pos_item"].unsqueeze(-1).expand(-1, -1, 7).clone()
    with torch.no_grad():
        got = registries().loss.get("sampled_softmax")()(model(batch), batch)
    assert abs(float(got) - np.log(8.0)) < 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("loss_name", ["sequence_ce", "sequence_bce", "sampled_softmax"])
def test_hstu_learns_a_deterministic_successor(loss_name):
    data = chains()
    split = registries().splitter.get("leave_one_out")(data, order="time")
    torch.manual_seed(0)
    model = make("hstu", data, embedding_dim=32, num_layers=1, dqk=16, dv=16, dropout=0.1, max_len=8)
    negatives = 8 if loss_name == "sampled_softmax" else 1
    batches = SequenceBatches(split.train, 32, 8, negatives, NegativeSampler(split.train), seed=0)
    loss = registries().loss.get(loss_name)()
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(25):
        for batch in batches:
            optim.zero_grad()
            out = model(batch)
            if loss_name == "sequence_ce":
                out["all_scores"] = model.training_all_scores(out, batch)
            loss(out, batch).backward()
            optim.step()
    evaluator = RankingEvaluator({"hr@1": registries().metric.get("hr")(k=1)}, batch_users=64)
    target = RankingTarget(split.test.to_csr(), split.seen_before("test"), split.history("test"))
    values, _ = evaluator.evaluate(model, target)
    assert values["hr@1"] >= 0.95
    assert model.history[:, -1].tolist() == split.valid.item[np.argsort(split.valid.user)].tolist()


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.temperature=0", "model.temperature"),
        ("model.dqk=0", "model.dqk"),
        ("model.dropout=1.5", "model.dropout"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path, override, key):
    from recframe.runner import run

    with pytest.raises(ConfigError, match=key) as info:
        run(["data=ml-100k", "model=hstu", "protocol=leave_one_out", override], run_dir=tmp_path)
    assert "\n" not in str(info.value)


def _dense_layer_reference(layer, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """The layer as first written (before the in-place weights and the last-query path): every
    ``[B, H, L, L]`` step out of place, ``SiLU(QK^T + rab[i - j]) * allowed / n``, then ``A V``."""
    b, length, _ = x.shape
    h, dqk, dv = layer.num_heads, layer.dqk, layer.dv
    uvqk = F.silu(layer.f1(layer.input_norm(x)))
    u, v, q, k = torch.split(uvqk, [h * dv, h * dv, h * dqk, h * dqk], dim=-1)
    q = q.view(b, length, h, dqk).transpose(1, 2)
    k = k.view(b, length, h, dqk).transpose(1, 2)
    v = v.view(b, length, h, dv).transpose(1, 2)
    distance = (torch.arange(length).view(-1, 1) - torch.arange(length)).clamp(0, layer.max_len - 1)
    weights = F.silu(q @ k.transpose(-1, -2) + layer.relative_bias[distance]) * allowed / layer.max_len
    attended = (weights @ v).transpose(1, 2).reshape(b, length, h * dv)
    return x + layer.f2(layer.attention_norm(attended) * u)


def test_fast_path_equals_the_dense_reference_in_values_and_gradients():
    """The encoder (in-place attention weights, ``1/n`` after ``A V``) gives the first version's states
    and parameter gradients in double precision, with padding, two heads and two layers; the
    last-query scoring path gives the same latest state as the full encoding."""
    torch.manual_seed(5)
    data = chains(n_users=40)
    model = make("hstu", data, embedding_dim=12, num_layers=2, num_heads=2, dqk=3, dv=5, dropout=0.0, max_len=9)
    model = model.double().train()
    with torch.no_grad():
        for layer in model.layers:
            layer.relative_bias.copy_(torch.randn(9, dtype=torch.float64))
    seq = random_sequences(17, 9, data.n_items, seed=4)

    def reference_encode(seq: torch.Tensor) -> torch.Tensor:
        real = seq >= 0
        h = model.item_embedding(model.embedding_index(seq)) * 12**0.5 + model.position_embedding(torch.arange(9))
        h = h * real.unsqueeze(-1)
        allowed = (torch.ones(9, 9, dtype=torch.bool).tril() & real.unsqueeze(1)).unsqueeze(1).double()
        for layer in model.layers:
            h = _dense_layer_reference(layer, h, allowed)
        return F.normalize(h, dim=-1, eps=1e-6) * real.unsqueeze(-1) * model.temperature**-0.5

    weights = torch.randn(17, 9, 12, dtype=torch.float64)
    grads = []
    for encode in (model.encode, reference_encode):
        model.zero_grad()
        out = encode(seq)
        (out * weights).sum().backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (fast, fast_grads), (ref, ref_grads) = grads
    assert torch.allclose(fast, ref, atol=1e-12, rtol=0)
    assert len(fast_grads) == len(ref_grads) > 0
    for a, b in zip(fast_grads, ref_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-10, rtol=0)
    model.eval()
    model.set_history(data)
    users = torch.arange(40)
    with torch.no_grad():
        assert torch.allclose(model.user_state(users), model.encode(model.history[users])[:, -1, :], atol=1e-12)
