"""RecBole side of ``benchmarks/cf_vs_recbole.py``; run by the RecBole virtualenv's python, not by recframe's.

Usage: ``python recbole_driver.py DATA_DIR WORK_DIR EPOCHS REPEATS LR SEED THREADS``, or
``python recbole_driver.py fit MODEL DATA_DIR WORK_DIR LR SEED THREADS [JSON]`` for one whole RecBole
training run (``Trainer.fit`` with its early stopping, then the best model on the test split; the
optional JSON object overrides config keys), which prints ``RESULT`` with the best validation
score, the test metrics and the wall seconds. ``DATA_DIR``
holds ``ml-1m/ml-1m.inter``. Prints one line ``RESULT <json>`` with the filtered counts, the BPR
epoch times (``Trainer._train_epoch``, no evaluation), the full test evaluation times, BPR test
NDCG@10 after ``EPOCHS`` epochs, and the EASE fit time (model construction: RecBole's EASE solves
its closed form in ``__init__``) with its test NDCG@10. Each time is ``[wall, process CPU]``
seconds. Everything runs on the CPU.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import torch  # noqa: E402
from recbole.config import Config  # noqa: E402
from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.utils import get_model, get_trainer, init_logger, init_seed  # noqa: E402


def config_dict(data_dir: str, work_dir: str, lr: float, seed: int) -> dict:
    """RecBole's ML-1M general-recommendation benchmark protocol."""
    return {
        "data_path": data_dir,
        "checkpoint_dir": os.path.join(work_dir, "saved"),
        "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]},
        "val_interval": {"rating": "[3,inf)"},
        "user_inter_num_interval": "[10,inf)",
        "item_inter_num_interval": "[10,inf)",
        "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "RO", "group_by": "user", "mode": "full"},
        "metrics": ["Recall", "MRR", "NDCG", "Hit", "Precision"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "train_batch_size": 4096,
        "eval_batch_size": 4096 * 1024,
        "embedding_size": 64,
        "learning_rate": lr,
        "reg_weight": 1000.0,  # EASE's; BPR ignores it
        "device": "cpu",
        "use_gpu": False,
        "seed": seed,
        "reproducibility": True,
        "show_progress": False,
        "save_dataset": False,
        "save_dataloaders": False,
        "log_wandb": False,
        "state": "WARNING",
    }


def prepare(model: str, data_dir: str, work_dir: str, lr: float, seed: int):
    config = Config(model=model, dataset="ml-1m", config_dict=config_dict(data_dir, work_dir, lr, seed))
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logging.getLogger().setLevel(logging.WARNING)
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    return config, dataset, train, test


def now() -> tuple[float, float]:
    """(wall, process CPU) clocks; CPU time is less disturbed by other jobs on a shared machine."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> list[float]:
    wall, cpu = now()
    return [wall - start[0], cpu - start[1]]


def timed_eval(trainer, test, repeats: int) -> tuple[list[list[float]], dict]:
    times, result = [], {}
    trainer.evaluate(test, load_best_model=False, show_progress=False)  # warm-up, untimed (as recframe's)
    for _ in range(repeats):
        start = now()
        result = trainer.evaluate(test, load_best_model=False, show_progress=False)
        times.append(since(start))
    return times, {k: float(v) for k, v in result.items()}


def fit(argv: list[str]) -> None:
    """One RecBole run of ``MODEL`` under the benchmark protocol, to set beside a reproduction."""
    model_name, data_dir, work_dir, lr, seed, threads = (
        argv[0],
        argv[1],
        argv[2],
        float(argv[3]),
        int(argv[4]),
        int(argv[5]),
    )
    if threads > 0:
        torch.set_num_threads(threads)
    os.makedirs(work_dir, exist_ok=True)
    os.chdir(work_dir)
    overrides = json.loads(argv[6]) if len(argv) > 6 else {}
    start = time.perf_counter()
    config = Config(
        model=model_name, dataset="ml-1m", config_dict={**config_dict(data_dir, work_dir, lr, seed), **overrides}
    )
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logging.getLogger().setLevel(logging.WARNING)
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    best_valid, _ = trainer.fit(train, valid, saved=True, show_progress=False, verbose=False)
    result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    print(
        "RESULT "
        + json.dumps(
            {
                "model": model_name,
                "seconds": time.perf_counter() - start,
                "best_valid": float(best_valid),
                "test": {k: float(v) for k, v in result.items()},
                "config": {k: config[k] for k in ("learning_rate", "epochs", "stopping_step", "train_batch_size")},
                "overrides": overrides,
            }
        ),
        flush=True,
    )


def main() -> None:
    if sys.argv[1] == "fit":
        fit(sys.argv[2:])
        return
    data_dir, work_dir = sys.argv[1], sys.argv[2]
    epochs, repeats, lr, seed = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    threads = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    if threads > 0:
        torch.set_num_threads(threads)
    os.makedirs(work_dir, exist_ok=True)
    os.chdir(work_dir)  # RecBole writes ./log and ./log_tensorboard
    out: dict = {"torch_threads": torch.get_num_threads(), "torch": torch.__version__}
    import recbole

    out["recbole"] = recbole.__version__

    # BPR: epochs without evaluation, then full test evaluation of the trained model.
    start = time.perf_counter()
    config, dataset, train, test = prepare("BPR", data_dir, work_dir, lr, seed)
    out["prepare_seconds"] = time.perf_counter() - start
    out["counts"] = {
        "users": int(dataset.user_num),
        "items": int(dataset.item_num),
        "interactions": int(dataset.inter_num),
    }
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    epoch_times = []
    for epoch in range(epochs):
        start = now()
        trainer._train_epoch(train, epoch, show_progress=False)
        epoch_times.append(since(start))
    out["bpr_epoch_seconds"] = epoch_times
    out["eval_seconds"], metrics = timed_eval(trainer, test, repeats)
    out["bpr_test"] = metrics

    # EASE: the closed form is computed when the model is built.
    config, dataset, train, test = prepare("EASE", data_dir, work_dir, lr, seed)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    fit_times = []
    for _ in range(repeats):
        start = now()
        model = get_model(config["model"])(config, train._dataset).to(config["device"])
        fit_times.append(since(start))
    out["ease_fit_seconds"] = fit_times
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    out["ease_eval_seconds"], out["ease_test"] = timed_eval(trainer, test, 1)
    out["torch_threads_after"] = torch.get_num_threads()
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
