"""The compiled BPR-SGD epoch (trainer.optimizer=sgd_compiled|adagrad_compiled): the kernel against a slow
Python reference of the same SGD, its update against autograd, its negatives, and whole runs on ML-100K."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import recframe
from recframe.errors import ConfigError

MASK = (1 << 64) - 1


def splitmix64(state: int) -> tuple[int, int]:
    """SplitMix64 in Python integers: ``(next state, 64 bits)`` (the reference for the kernel's stream)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def reference_bpr_sgd(P, Q, S_p, S_q, users, items, positives, n_items, cdf, lr, wd, adagrad, eps, seed):
    """A slow, plain reading of the update (one pair at a time, float32 rows, Python RNG and set membership)."""
    f32 = np.float32
    state, negatives, total = seed, [], 0.0
    for u, i in zip(users.tolist(), items.tolist(), strict=True):
        while True:
            state, bits = splitmix64(state)
            if cdf is None:
                j = bits % n_items
            else:
                j = min(int(np.searchsorted(cdf, (bits >> 11) * 2.0**-53, side="right")), n_items - 1)
            if (u, j) not in positives:
                break
        negatives.append(j)
        p, qi, qj = P[u].copy(), Q[i].copy(), Q[j].copy()
        x = f32(0.0)
        for f in range(len(p)):  # the kernel's order of summation
            x = f32(x + p[f] * (qi[f] - qj[f]))
        total += float(np.logaddexp(0.0, -float(x)))
        z = f32(1.0 / (1.0 + np.exp(np.float64(x))))
        gu, gi, gj = -z * (qi - qj) + f32(wd) * p, -z * p + f32(wd) * qi, z * p + f32(wd) * qj
        if adagrad:
            S_p[u] += gu * gu
            S_q[i] += gi * gi
            S_q[j] += gj * gj
            P[u] = p - f32(lr) * gu / (np.sqrt(S_p[u]) + f32(eps))
            Q[i] = qi - f32(lr) * gi / (np.sqrt(S_q[i]) + f32(eps))
            Q[j] = qj - f32(lr) * gj / (np.sqrt(S_q[j]) + f32(eps))
        else:
            P[u], Q[i], Q[j] = p - f32(lr) * gu, qi - f32(lr) * gi, qj - f32(lr) * gj
    return total, np.array(negatives)


@pytest.fixture(scope="module")
def ml100k_train(ml100k):
    from recframe import config as rconfig
    from recframe.runner import load_data, make_split

    cfg = rconfig.compose(["data=ml-100k"])
    return make_split(cfg, load_data(cfg), 0).train


def _tables(train, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    P = (rng.standard_normal((train.n_users, d)) * 0.1).astype(np.float32)
    Q = (rng.standard_normal((train.n_items, d)) * 0.1).astype(np.float32)
    return P, Q


def _run_slice(train, P, Q, sums, order, cdf, lr, wd, seed, threads=1):
    from recframe.training.compiled_epoch import run_slice
    from recframe.training.sampling import NegativeSampler

    sampler = NegativeSampler(train)
    return run_slice(
        P, Q, sums, train.user[order], train.item[order], sampler.keys, sampler.starts, train.n_items,
        np.empty(0) if cdf is None else cdf, lr, wd, 1e-10, seed, threads,
    )  # fmt: skip


@pytest.mark.parametrize("adagrad,popularity", [(False, False), (True, False), (False, True)])
def test_kernel_equals_a_python_reference_of_the_same_sgd_on_ml100k(ml100k_train, adagrad, popularity):
    train = ml100k_train
    order = np.random.default_rng(3).permutation(len(train.user))[:6000]
    cdf = None
    if popularity:
        w = np.bincount(train.item, minlength=train.n_items).astype(np.float64)
        cdf = np.cumsum(w / w.sum())
    P, Q = _tables(train)
    P_ref, Q_ref = P.copy(), Q.copy()
    sums = (np.zeros_like(P), np.zeros_like(Q)) if adagrad else None
    S_p, S_q = np.zeros_like(P), np.zeros_like(Q)
    lr, wd, seed = (0.05 if adagrad else 0.1), 0.01, 12345
    loss, negatives = _run_slice(train, P, Q, sums, order, cdf, lr, wd, seed)
    positives = set(zip(train.user.tolist(), train.item.tolist(), strict=True))
    ref_loss, ref_negatives = reference_bpr_sgd(
        P_ref, Q_ref, S_p, S_q, train.user[order], train.item[order], positives, train.n_items, cdf, lr, wd,
        adagrad, 1e-10, seed,
    )  # fmt: skip
    assert np.array_equal(negatives, ref_negatives)
    assert np.abs(P - P_ref).max() < 1e-6 and np.abs(Q - Q_ref).max() < 1e-6
    assert np.abs(P - _tables(train)[0]).max() > 1e-2  # it did train
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    if adagrad:
        assert np.abs(sums[0] - S_p).max() < 1e-6 and np.abs(sums[1] - S_q).max() < 1e-6


def test_one_pairs_update_is_minus_lr_times_the_autograd_gradient_of_the_bpr_loss(ml100k_train):
    train = ml100k_train
    P, Q = _tables(train, d=16, seed=1)
    before_p, before_q = P.copy(), Q.copy()
    lr, wd = 1e-3, 0.05
    _, negatives = _run_slice(train, P, Q, None, np.array([17]), None, lr, wd, seed=99)
    u, i, j = int(train.user[17]), int(train.item[17]), int(negatives[0])
    p, qi, qj = (
        torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (before_p[u], before_q[i], before_q[j])
    )
    loss = -torch.nn.functional.logsigmoid(p @ qi - p @ qj) + wd / 2 * (p @ p + qi @ qi + qj @ qj)
    loss.backward()
    for after, before, param in ((P[u], before_p[u], p), (Q[i], before_q[i], qi), (Q[j], before_q[j], qj)):
        step = (before.astype(np.float64) - after) / lr
        np.testing.assert_allclose(step, param.grad.numpy(), rtol=1e-3, atol=1e-4)
    untouched = np.ones(train.n_items, bool)
    untouched[[i, j]] = False
    assert np.array_equal(Q[untouched], before_q[untouched]) and np.array_equal(
        np.delete(P, u, 0), np.delete(before_p, u, 0)
    )


@pytest.mark.parametrize("popularity", [False, True])
def test_negatives_are_never_the_users_positives_and_follow_the_distribution(ml100k_train, popularity):
    train = ml100k_train
    counts = np.bincount(train.item, minlength=train.n_items).astype(np.float64)
    cdf = np.cumsum(counts / counts.sum()) if popularity else None
    P, Q = _tables(train)
    order = np.tile(np.arange(len(train.user)), 3)  # every pair three times: 240k draws
    _, negatives = _run_slice(train, P, Q, None, order, cdf, 0.0 + 1e-9, 0.0, seed=7, threads=2)
    keys = set((train.user.astype(np.int64) * train.n_items + train.item).tolist())
    drawn = train.user[order].astype(np.int64) * train.n_items + negatives
    assert not any(k in keys for k in drawn.tolist())
    assert negatives.min() >= 0 and negatives.max() < train.n_items
    # expected draws of each item: a user's draw is the distribution renormalised over their non-positives
    prob = counts / counts.sum() if popularity else np.full(train.n_items, 1.0 / train.n_items)
    draws = np.bincount(train.user[order], minlength=train.n_users).astype(np.float64)
    own = np.bincount(train.user, weights=prob[train.item], minlength=train.n_users)
    weight = draws / (1.0 - own)  # per user: draws / probability mass left to draw from
    expected = prob * (weight.sum() - np.bincount(train.item, weights=weight[train.user], minlength=train.n_items))
    seen = np.bincount(negatives, minlength=train.n_items)
    used = expected > 5
    chi2 = float(((seen[used] - expected[used]) ** 2 / expected[used]).sum())
    assert seen[~used].sum() <= expected[~used].sum() * 3 + 20
    assert chi2 < 1.3 * used.sum()  # about the degrees of freedom: no visible bias


def test_one_thread_is_deterministic_and_two_threads_train_too(ml100k_train):
    train = ml100k_train
    order = np.random.default_rng(0).permutation(len(train.user))
    a, b, c = _tables(train), _tables(train), _tables(train)
    loss_a, neg_a = _run_slice(train, *a, None, order, None, 0.05, 0.01, seed=5)
    loss_b, neg_b = _run_slice(train, *b, None, order, None, 0.05, 0.01, seed=5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and np.array_equal(neg_a, neg_b)
    _, neg_c = _run_slice(train, *c, None, order, None, 0.05, 0.01, seed=6)
    assert not np.array_equal(neg_a, neg_c)
    two = _tables(train)
    first, _ = _run_slice(train, *two, None, order, None, 0.05, 0.01, seed=5, threads=2)
    second, _ = _run_slice(train, *two, None, order, None, 0.05, 0.01, seed=8, threads=2)
    assert second < first  # the second pass over the data has a lower BPR loss


FAST = ["data=ml-100k", "model=bpr", "logger=none", "trainer.progress_bar=false", "data_cache=false"]


def test_plan_time_errors_name_the_setting_before_any_data_is_read(tmp_path, monkeypatch):
    missing = ["data=ml-100k", f"data.path={tmp_path / 'nowhere'}", "logger=none", "trainer.optimizer=sgd_compiled"]
    cases = [
        (["model=gmf", "loss=bce"], "model 'gmf' is not one"),
        (["model=bpr", "loss=bce"], "loss 'bce' is not it"),
        (["model=bpr", "trainer.num_negatives=2"], "trainer.num_negatives=1"),
        (["model=bpr", "trainer.strategy=ddp"], "trainer.strategy=auto trainer.devices=1"),
        (["model=bpr", "trainer.positive_sampling=users"], "trainer.positive_sampling=interactions"),
        (["model=bpr", "trainer.precision=bf16-mixed"], "trainer.precision=32-true"),
        (["model=bpr", "trainer.privacy={epsilon: 8, delta: 1e-6, max_grad_norm: 1.0}"], "trainer.privacy"),
    ]
    for extra, message in cases:
        with pytest.raises(ConfigError, match=message) as err:
            recframe.run([*missing, *extra], run_dir=tmp_path / "run")
        assert "\n" not in str(err.value) and "optimizer" in str(err.value)
    monkeypatch.setenv("RECFRAME_KERNELS", "0")
    with pytest.raises(ConfigError, match="recframe\\[fast\\]"):
        recframe.run([*missing, "model=bpr"], run_dir=tmp_path / "run")


def test_a_run_with_early_stopping_reports_its_updates_and_optimizer(ml100k, tmp_path):
    results = recframe.run(
        [*FAST, "trainer.optimizer=sgd_compiled", "trainer.lr=0.3", "trainer.weight_decay=0.0",
         "trainer.max_epochs=60", "trainer.patience=1"],
        run_dir=tmp_path,
    )  # fmt: skip
    run = results["run"]
    assert run["stopped_by"] == "early_stopping" and run["epochs"] < 60
    n_train = results["data"]["train"]
    assert run["optimizer_steps"] == run["epochs"] * n_train == run["compiled_epoch"]["sgd_updates"]
    assert run["optimizer"] == "sgd_compiled" and run["compiled_epoch"]["rule"] == "sgd"
    assert run["compiled_epoch"]["kernel_calls"] == run["epochs"] * -(-n_train // (2048 * 16))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["run"]["compiled_epoch"] == run["compiled_epoch"]
    assert results["metrics"]["valid/ndcg@10"] == pytest.approx(run["best_valid"], abs=1e-6)  # best epoch reloaded
    assert results["cost"]["train_flops"] == run["epochs"] * 3 * 2 * 2 * 64 * n_train  # BPR-MF's analytic count


def test_adagrad_state_is_checkpointed_and_a_resumed_run_matches_an_uninterrupted_one(ml100k, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the compiled epoch is deterministic
    try:
        args = [*FAST, "trainer.optimizer=adagrad_compiled", "trainer.lr=0.05", "trainer.patience=100"]
        straight = recframe.run([*args, "trainer.max_epochs=3"], run_dir=tmp_path / "straight")
        recframe.run([*args, "trainer.max_epochs=2"], run_dir=tmp_path / "resumed")  # stands for a killed run
        last = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        sums = [s["sum"] for s in last["optimizer_states"][0]["state"].values()]
        sizes = straight["data"]["filtered"]
        assert sorted(tuple(s.shape) for s in sums) == sorted([(sizes["users"], 64), (sizes["items"], 64)])
        assert all(float(s.min()) >= 0 and float(s.max()) > 0 for s in sums)
        resumed = recframe.run([*args, "trainer.max_epochs=3", "resume=true"], run_dir=tmp_path / "resumed")
    finally:
        torch.set_num_threads(threads)
    assert resumed["run"]["resumed_from"].endswith("last.ckpt")
    assert resumed["metrics"] == straight["metrics"]
    assert resumed["run"]["optimizer_steps"] == straight["run"]["optimizer_steps"] == 3 * straight["data"]["train"]


@pytest.mark.slow
def test_on_ml100k_the_compiled_epoch_reaches_the_lightning_paths_accuracy(ml100k, tmp_path):
    common = [*FAST, "trainer.max_epochs=10", "trainer.patience=100"]
    lightning = recframe.run([*common, "trainer.optimizer=adam", "trainer.lr=0.001"], run_dir=tmp_path / "adam")
    compiled = recframe.run(
        [*common, "trainer.optimizer=sgd_compiled", "trainer.lr=0.05", "trainer.weight_decay=0.01"],
        run_dir=tmp_path / "compiled",
    )
    pop = recframe.run(["model=pop", "logger=none"], run_dir=tmp_path / "pop")["metrics"]["test/ndcg@10"]
    ours, theirs = compiled["metrics"]["test/ndcg@10"], lightning["metrics"]["test/ndcg@10"]
    assert ours > pop + 0.03
    assert ours >= 0.95 * theirs
