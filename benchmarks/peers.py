"""recframe against the fastest CPU libraries (implicit, Cornac, LensKit), same split, same run, same threads.

Each peer lives in its own virtualenv under ``$RECFRAME_CACHE_DIR/peers/<name>`` (created with
``python -m venv`` and filled with pip on first use; a peer that cannot install is reported with pip's
last error line and skipped). recframe loads and splits the data once and writes the split to a
plain ``.npz`` (``$RECFRAME_CACHE_DIR/peers/work/run-*/split.npz``, removed at the end) that
``benchmarks/peer_driver.py``, run by the peer's python, reads; the peer writes back what it
learned (factors, a similarity matrix, EASE's weights), and recframe's own evaluator scores both
sides, so the accuracy columns are the same metric on the same test set. Repetitions alternate between the two sides.

A comparison is one small function registered with ``@comparison("name")``: it gets the
:class:`Bench` (split, evaluator, settings) and returns :class:`Row` s. Add new ones the same way.

Usage::

    RECFRAME_DATA_DIR=/work/shared/data RECFRAME_CACHE_DIR=/tmp/rfcache \
      python benchmarks/peers.py --threads 1 [--only ials,bpr] [--repeats 3] [--json out.json] \
      [--data data=ml-1m protocol=recbole_ml1m]

Every row prints ``peer seconds / recframe seconds`` (> 1: recframe is faster) and NDCG@10 of both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


def _threads_from_argv(default: int = 1) -> int:
    """``--threads`` read before numpy and torch load, so their BLAS pools start with that many threads."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
    return default


THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "LK_NUM_THREADS",
    "LK_NUM_BACKEND_THREADS",
)
for _var in THREAD_VARS:
    os.environ[_var] = str(_threads_from_argv())

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
# What pip installs into each peer's virtualenv (checked on Python 3.11).
PEERS: dict[str, list[str]] = {
    "implicit": ["implicit>=0.7,<0.8"],
    "cornac": ["cornac>=2"],
    "lenskit": ["lenskit>=2025"],
}


def cache_root() -> Path:
    return Path(os.environ.get("RECFRAME_CACHE_DIR", Path.home() / ".cache" / "recframe")) / "peers"


def peer_python(name: str) -> tuple[Path | None, str]:
    """The peer's python (installing it once), or ``None`` and why it could not be installed."""
    venv = cache_root() / name
    py = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.exists():
        return py, marker.read_text().strip()
    print(f"installing {name} ({' '.join(PEERS[name])}) into {venv} (once) ...", flush=True)
    done = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True)
    if done.returncode == 0:
        done = subprocess.run([str(py), "-m", "pip", "install", "-q", *PEERS[name]], capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no output"]
        return None, f"{name} did not install: {lines[-1]}"
    version = subprocess.run([str(py), "-m", "pip", "show", name], capture_output=True, text=True).stdout
    found = next((ln.split(":", 1)[1].strip() for ln in version.splitlines() if ln.startswith("Version:")), "?")
    marker.write_text(f"{name} {found}\n")
    return py, f"{name} {found}"


@dataclass
class Row:
    """One comparison line: a recframe step against a peer's, medians over the repetitions."""

    what: str
    peer: str
    recframe_s: list[float]
    peer_s: list[float]
    recframe_ndcg: float | None = None
    peer_ndcg: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return statistics.median(self.peer_s) / statistics.median(self.recframe_s)

    def line(self) -> str:
        acc = ""
        if self.recframe_ndcg is not None:
            acc = f"  NDCG@10 recframe {self.recframe_ndcg:.4f}"
            acc += f" {self.peer} {self.peer_ndcg:.4f}" if self.peer_ndcg is not None else ""
        return (
            f"{self.what:<34} recframe {statistics.median(self.recframe_s):8.3f} s  {self.peer:<9} "
            f"{statistics.median(self.peer_s):8.3f} s  ratio {self.ratio:6.2f}{acc}  {self.note}"
        )


@dataclass
class Bench:
    """Everything a comparison needs: the split, recframe's evaluator, the settings, the peers."""

    args: argparse.Namespace
    split: Any
    info: Any
    targets: dict[str, Any]
    evaluator: Any
    work: Path
    split_file: Path
    skipped: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def peer(
        self, name: str, task: str, params: dict[str, Any], extra: dict[str, np.ndarray] | None = None
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """Run ``task`` of ``benchmarks/peer_driver.py`` in peer ``name``'s venv; ``None`` when that peer is missing."""
        if name in self.skipped:
            return None
        py, why = peer_python(name)
        if py is None:
            print(why, flush=True)
            self.skipped[name] = why
            return None
        self.versions[name] = why
        split_file = self.split_file
        if extra:
            split_file = self.work / f"{task}-in.npz"
            with np.load(self.split_file, allow_pickle=False) as f:
                np.savez(split_file, **{**{k: f[k] for k in f.files}, **extra})
        out = self.work / f"{task}-out.npz"
        params = {"threads": self.args.threads, "seed": self.args.seed, **params}
        done = subprocess.run(
            [str(py), str(HERE / "peer_driver.py"), task, str(split_file), str(out), json.dumps(params)],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            print(f"{name} {task} failed: {tail[0]}", flush=True)
            return None
        with np.load(out, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        return json.loads(done.stdout.strip().splitlines()[-1]), arrays

    def ndcg(self, model: Any) -> float:
        """Test NDCG@10 by recframe's evaluator (train and valid items masked)."""
        model.eval()
        return float(self.evaluator.evaluate(model, self.targets["test"])[0]["ndcg@10"])


COMPARISONS: dict[str, Callable[[Bench], list[Row]]] = {}


def comparison(name: str) -> Callable[[Callable[[Bench], list[Row]]], Callable[[Bench], list[Row]]]:
    """Register a comparison under ``name`` (``--only name``)."""

    def register(fn: Callable[[Bench], list[Row]]) -> Callable[[Bench], list[Row]]:
        COMPARISONS[name] = fn
        return fn

    return register


def build_model(bench: Bench, name: str, **params: Any) -> Any:
    from recframe.plugins import registries
    from recframe.runner import build

    return build(registries().model.get(name), "model", name, params, bench.info)


def factor_model(bench: Bench, user_factors: np.ndarray, item_factors: np.ndarray) -> Any:
    """A recframe inner-product model holding given factors (an iALS model: scores are ``U V^T``)."""
    model = build_model(bench, "ials", embedding_dim=int(user_factors.shape[1]), iterations=1)
    model.user_factors = torch.from_numpy(np.ascontiguousarray(user_factors, dtype=np.float32))
    model.item_factors = torch.from_numpy(np.ascontiguousarray(item_factors, dtype=np.float32))
    return model


def knn_model(bench: Bench, arrays: dict[str, np.ndarray], k: int) -> Any:
    """A recframe ItemKNN scoring ``X W`` with a peer's similarity ``W`` (CSR, ``W[i, j]``: i's vote for j)."""
    import scipy.sparse as sp

    model = build_model(bench, "itemknn", k=k)
    n = bench.info.n_items
    model.weights = sp.csr_matrix((arrays["w_data"], arrays["w_indices"], arrays["w_indptr"]), shape=(n, n))
    x = bench.split.train.to_csr()
    x.data[:] = 1.0
    model.history = x
    return model


def clock(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


@comparison("ials")
def ials_vs_implicit(bench: Bench) -> list[Row]:
    """iALS fit vs implicit's AlternatingLeastSquares: same factors, iterations, CG steps, confidence, reg.

    recframe's confidence is ``1 + alpha``; implicit's is its ``alpha`` times the (binary) value, so
    implicit gets ``alpha + 1``. With ``--ials-init uniform`` (the default) recframe draws its starting
    factors as implicit does from the same seed, so both sides start equal; ``normal`` is recframe's
    default ``N(0, 0.01^2)``.
    """
    a = bench.args
    params = {
        "factors": a.dim,
        "iterations": a.iterations,
        "alpha": a.alpha + 1.0,
        "regularization": a.reg,
        "cg_steps": a.cg_steps,
    }
    ours, theirs, model, arrays = [], [], None, None
    ours_cpu, theirs_cpu = [], []  # process CPU seconds (all threads): less moved by other jobs than wall time
    for _ in range(a.repeats):
        model = build_model(
            bench,
            "ials",
            embedding_dim=a.dim,
            iterations=a.iterations,
            alpha=a.alpha,
            reg_weight=a.reg,
            cg_steps=a.cg_steps,
            seed=a.seed,
            init=a.ials_init,
        )
        cpu_start = time.process_time()
        ours.append(clock(model.fit, bench.split.train)[0])
        ours_cpu.append(time.process_time() - cpu_start)
        got = bench.peer("implicit", "implicit_als", {**params, "repeats": 1})
        if got is None:
            return []
        theirs += got[0]["seconds"]
        theirs_cpu += got[0]["cpu_seconds"]
        arrays = got[1]
    cpu = (statistics.median(ours_cpu), statistics.median(theirs_cpu))
    return [
        Row(
            f"iALS fit ({a.iterations} it, d={a.dim}, {a.ials_init} init)",
            "implicit",
            ours,
            theirs,
            bench.ndcg(model),
            bench.ndcg(factor_model(bench, arrays["user_factors"], arrays["item_factors"])),
            note=f"CPU s recframe {cpu[0]:.1f} implicit {cpu[1]:.1f} (ratio {cpu[1] / cpu[0]:.2f})",
        )
    ]


def recframe_bpr_epochs(bench: Bench, epochs: int) -> tuple[list[float], Any]:
    """BPR-MF epochs through a bare loop over recframe's batches (model, loss, optimizer as configured)."""
    from recframe.plugins import registries
    from recframe.runner import build
    from recframe.training.batches import InteractionBatches
    from recframe.training.module import RecframeModule
    from recframe.training.sampling import NegativeSampler

    a = bench.args
    torch.manual_seed(a.seed)
    model = build_model(bench, "bpr", embedding_dim=a.dim)
    loss = build(registries().loss.get("bpr"), "loss", "bpr", {})
    batches = InteractionBatches(
        bench.split.train,
        model.batch_kind,
        a.batch_size,
        1,
        NegativeSampler(bench.split.train, distribution="uniform"),
        a.seed,
    )
    optimizer = RecframeModule(
        model, loss, {"optimizer": "adam", "lr": a.lr, "weight_decay": 0.0}, None, None
    ).configure_optimizers()
    seconds = []
    model.train()
    for warm, batch in enumerate(batches):  # untimed: loads the compiled kernels, first allocations
        optimizer.zero_grad(set_to_none=True)
        loss(model(batch), batch).backward()
        optimizer.step()
        if warm >= 2:
            break
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        start = time.perf_counter()
        for batch in batches:
            optimizer.zero_grad(set_to_none=True)
            loss(model(batch), batch).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds, model


def recframe_compiled_bpr_epochs(bench: Bench, epochs: int) -> tuple[list[float], Any]:
    """BPR-MF epochs of ``trainer.optimizer=sgd_compiled``: the loop its Lightning module runs, one
    :class:`CompiledBPRSGD` step per slice of :class:`CompiledPairs` (the epoch's permutation
    included in its time), at the peers' per-pair lr and L2, ``torch.get_num_threads()`` threads."""
    from recframe.training.compiled_epoch import CompiledBPRSGD, CompiledPairs, embedding_tables
    from recframe.training.sampling import NegativeSampler

    a = bench.args
    torch.manual_seed(a.seed)
    model = build_model(bench, "bpr", embedding_dim=a.dim)
    train = bench.split.train
    pairs = CompiledPairs(train, a.batch_size * 16, NegativeSampler(train, distribution="uniform"), a.seed)
    optimizer = CompiledBPRSGD(
        list(embedding_tables(model)), pairs.sampler, pairs.cdf, "sgd", lr=a.bpr_lr, weight_decay=a.bpr_reg
    )
    warm = CompiledPairs(train.subset(np.arange(len(train)) < 1000), 1000, pairs.sampler, a.seed)
    optimizer.pending = next(iter(warm))  # untimed: loads the compiled kernel
    optimizer.step()
    torch.manual_seed(a.seed)
    model = build_model(bench, "bpr", embedding_dim=a.dim)  # fresh factors for the timed epochs
    optimizer = CompiledBPRSGD(
        list(embedding_tables(model)), pairs.sampler, pairs.cdf, "sgd", lr=a.bpr_lr, weight_decay=a.bpr_reg
    )
    seconds = []
    for epoch in range(epochs):
        pairs.set_epoch(epoch)
        start = time.perf_counter()
        for batch in pairs:
            optimizer.pending = batch
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds, model


@comparison("bpr")
def bpr_vs_implicit_and_cornac(bench: Bench) -> list[Row]:
    """One BPR-MF epoch (every training pair once, one uniform negative) vs implicit's and Cornac's BPR.

    ``--bpr-paths`` picks recframe's sides: ``sgd_compiled`` (the compiled BPR-SGD epoch, at the
    peers' lr and L2 per pair: the same update rule as theirs) and ``adam`` (the mini-batch path with
    Adam as recframe's configs, each library keeping its own optimiser). Every side trains
    ``--epochs`` epochs from the same kind of start; accuracy is after them.
    """
    a = bench.args
    ours = {}
    for path in [p.strip() for p in a.bpr_paths.split(",") if p.strip()]:
        ours[path] = (recframe_compiled_bpr_epochs if path == "sgd_compiled" else recframe_bpr_epochs)(bench, a.epochs)
    ndcg = {path: bench.ndcg(model) for path, (_, model) in ours.items()}
    rows = []
    for peer, task in (("implicit", "implicit_bpr"), ("cornac", "cornac_bpr")):
        params = {"factors": a.dim, "epochs": a.epochs, "lr": a.bpr_lr, "reg": a.bpr_reg, "repeats": 1}
        got = bench.peer(peer, task, params)
        if got is None:
            continue
        theirs = bench.ndcg(factor_model(bench, got[1]["user_factors"], got[1]["item_factors"]))
        for path, (seconds, _) in ours.items():
            rows.append(
                Row(
                    f"BPR-MF epoch {path} (d={a.dim})",
                    peer,
                    seconds,
                    got[0]["seconds"],
                    ndcg[path],
                    theirs,
                    f"after {a.epochs} epochs",
                )
            )
    return rows


@comparison("itemknn")
def itemknn_vs_implicit_and_lenskit(bench: Bench) -> list[Row]:
    """ItemKNN fit (cosine, top-k neighbours) vs implicit's CosineRecommender and LensKit's item kNN."""
    a = bench.args
    rows = []
    for peer, task in (("implicit", "implicit_cosine"), ("lenskit", "lenskit_itemknn")):
        ours, theirs, model, arrays = [], [], None, None
        for _ in range(a.repeats):
            model = build_model(bench, "itemknn", k=a.knn_k)
            ours.append(clock(model.fit, bench.split.train)[0])
            got = bench.peer(peer, task, {"k": a.knn_k, "repeats": 1})
            if got is None:
                break
            theirs += got[0]["seconds"]
            arrays = got[1]
        if arrays is None:
            continue
        rows.append(
            Row(
                f"ItemKNN fit (k={a.knn_k})",
                peer,
                ours,
                theirs,
                bench.ndcg(model),
                bench.ndcg(knn_model(bench, arrays, a.knn_k)),
            )
        )
    return rows


@comparison("ease")
def ease_vs_cornac_and_lenskit(bench: Bench) -> list[Row]:
    """EASE fit (closed form, dense ``n_items^2``) vs Cornac's and LensKit's EASE, same L2 weight."""
    a = bench.args
    rows = []
    for peer, task in (("cornac", "cornac_ease"), ("lenskit", "lenskit_ease")):
        ours, theirs, model, arrays = [], [], None, None
        for _ in range(a.repeats):
            model = build_model(bench, "ease", reg_weight=a.ease_reg)
            ours.append(clock(model.fit, bench.split.train)[0])
            got = bench.peer(peer, task, {"reg_weight": a.ease_reg, "repeats": 1})
            if got is None:
                break
            theirs += got[0]["seconds"]
            arrays = got[1]
        if arrays is None:
            continue
        peer_model = build_model(bench, "ease", reg_weight=a.ease_reg)
        peer_model.fit(bench.split.train)  # for its history; the weights are the peer's
        peer_model.item_weights = torch.from_numpy(arrays["weights"])
        rows.append(
            Row(f"EASE fit (reg {a.ease_reg:g})", peer, ours, theirs, bench.ndcg(model), bench.ndcg(peer_model))
        )
    return rows


@comparison("eval")
def evaluation_vs_implicit(bench: Bench) -> list[Row]:
    """Full-ranking test evaluation at 10 of the same iALS factors vs implicit's ``ranking_metrics_at_k``
    and LensKit's pipeline evaluation (``batch.recommend`` + ``RunAnalysis``; ``peer_driver.lenskit_eval``).

    The peers mask only the training items they are given: they get train + valid as "train", so
    every side ranks the same unseen items (LensKit's candidates are the items present in that data).
    NDCG is each library's own value (implicit's NDCG
    normalises by min(K, |test|) relevant items, as recframe's does).
    """
    a = bench.args
    model = build_model(bench, "ials", embedding_dim=a.dim, iterations=3, alpha=a.alpha, reg_weight=a.reg, seed=a.seed)
    model.fit(bench.split.train)
    model.eval()
    seen = bench.split.train.concat(bench.split.valid) if hasattr(bench.split.train, "concat") else None
    if seen is None:
        seen_u = np.concatenate([bench.split.train.user, bench.split.valid.user])
        seen_i = np.concatenate([bench.split.train.item, bench.split.valid.item])
    else:
        seen_u, seen_i = seen.user, seen.item
    extra = {
        "user_factors": model.user_factors.numpy(),
        "item_factors": model.item_factors.numpy(),
        "train_user": seen_u,
        "train_item": seen_i,
    }
    bench.evaluator.evaluate(model, bench.targets["test"])  # warm-up: loads the compiled kernels
    ours, value = [], 0.0
    peers = {"implicit": "implicit_eval", "lenskit": "lenskit_eval"}
    theirs: dict[str, list[float]] = {name: [] for name in peers}
    peer_ndcg: dict[str, float] = {}
    for _ in range(a.repeats):  # alternately: recframe, then each peer, so load changes hit every side
        seconds, result = clock(bench.evaluator.evaluate, model, bench.targets["test"])
        ours.append(seconds)
        value = float(result[0]["ndcg@10"])
        for name, task in peers.items():
            got = bench.peer(name, task, {"k": 10, "repeats": 1}, extra)
            if got is not None:
                theirs[name] += got[0]["seconds"]
                peer_ndcg[name] = got[0]["metrics"].get("ndcg")
    users = len(bench.targets["test"].users) if hasattr(bench.targets["test"], "users") else ""
    return [
        Row("full-ranking test eval @10", name, ours, theirs[name], value, peer_ndcg.get(name), f"{users} users")
        for name in peers
        if theirs[name]
    ]


def prepare(args: argparse.Namespace) -> Bench:
    from recframe import config as rconfig
    from recframe.evaluation.ranking import RankingEvaluator
    from recframe.models import DatasetInfo
    from recframe.plugins import registries
    from recframe.runner import build, build_metrics, derive_seeds, load_data, make_split, ranking_targets

    cfg = rconfig.compose([*args.data, f"seed={args.seed}", "protocol.cutoffs=[10]", "logger=none"])
    split_seed = derive_seeds(cfg.seed, 4)[0]
    data = load_data(cfg)
    split = make_split(cfg, data, split_seed)
    info = DatasetInfo(
        split.n_users, split.n_items, split.train, np.bincount(split.train.item, minlength=split.n_items)
    )
    evaluator = RankingEvaluator(
        build_metrics(cfg, info), batch_users=int(cfg.trainer.eval_batch_users), ties=str(cfg.protocol.ties)
    )
    (cache_root() / "work").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=cache_root() / "work"))  # own folder: runs may overlap
    split_file = work / "split.npz"
    np.savez(
        split_file,
        train_user=split.train.user,
        train_item=split.train.item,
        test_user=split.test.user,
        test_item=split.test.item,
        n_users=np.int64(split.n_users),
        n_items=np.int64(split.n_items),
    )
    warm = build(registries().model.get("ials"), "model", "ials", {"iterations": 1}, info)
    warm.fit(split.train.subset(np.arange(len(split.train)) < 10_000))  # untimed: loads the compiled kernel
    print(
        f"data: {' '.join(args.data)}: {split.n_users} users, {split.n_items} items, {len(split.train)} train / "
        f"{len(split.test)} test interactions; threads {args.threads}",
        flush=True,
    )
    targets = ranking_targets(split, bool(cfg.protocol.filter_seen))
    if 0 < args.max_eval_users < len(targets["test"].users):  # the same seeded sample of test users for every side
        sample = np.random.default_rng(args.seed).choice(targets["test"].users, args.max_eval_users, replace=False)
        targets["test"].users = np.sort(sample)
    return Bench(args, split, info, targets, evaluator, work, split_file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", nargs="+", default=["data=ml-1m", "protocol=recbole_ml1m"])
    parser.add_argument("--only", default=",".join(COMPARISONS), help="comma-separated: " + ", ".join(COMPARISONS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--alpha", type=float, default=10.0)
    parser.add_argument("--reg", type=float, default=100.0)
    parser.add_argument("--cg-steps", type=int, default=3)
    parser.add_argument(
        "--ials-init",
        choices=("uniform", "normal"),
        default="uniform",
        help="recframe's iALS init (uniform: implicit's)",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--bpr-paths", default="sgd_compiled,adam", help="recframe's BPR sides: sgd_compiled, adam")
    parser.add_argument("--bpr-lr", type=float, default=0.01, help="per-pair SGD lr of the peers and sgd_compiled")
    parser.add_argument("--bpr-reg", type=float, default=0.01, help="per-pair L2 of the peers and sgd_compiled")
    parser.add_argument("--max-eval-users", type=int, default=0, help="NDCG@10 on this many test users (0: all)")
    parser.add_argument("--knn-k", type=int, default=100)
    parser.add_argument("--ease-reg", type=float, default=250.0)
    parser.add_argument("--skip-peers", default="", help="comma-separated peers not to run (e.g. lenskit)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from recframe import kernels

    bench = prepare(args)
    for name in [n.strip() for n in args.skip_peers.split(",") if n.strip()]:
        bench.skipped[name] = "--skip-peers"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, compiled kernels: {kernels.available()}")
    rows: list[Row] = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        for row in COMPARISONS[name](bench):
            print(row.line(), flush=True)
            rows.append(row)
    print("\nratio = peer seconds / recframe seconds (medians; > 1: recframe faster)")
    for name, why in bench.skipped.items():
        print(f"skipped {name}: {why}")
    print("peers: " + ", ".join(sorted(bench.versions.values())))
    shutil.rmtree(bench.work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "threads": args.threads,
                    "data": args.data,
                    "peers": bench.versions,
                    "skipped": bench.skipped,
                    "rows": [vars(r) | {"ratio": r.ratio} for r in rows],
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
