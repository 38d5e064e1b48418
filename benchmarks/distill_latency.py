"""ML-1M distillation (docs/compression.md): teacher and student scoring latency, interleaved in one process.

Usage: python benchmarks/distill_latency.py <run folder of experiment=balance/distill_ml1m> [--threads N]

The in-run latency column of a compression table is measured minutes after the original's, under
whatever else the machine ran meanwhile; this script times the teacher, the distilled student and its
int8 copy in turns (7 rounds of ``score_latency_ms_per_1k``, 3 repeats each) so that load changes hit all
three alike, and prints the medians and the speed-ups. Both models are BPR-MF; their sizes are read from
the run's config.
"""

import argparse
import json
import statistics
from pathlib import Path

import torch
from omegaconf import OmegaConf

from recframe.checkpoints import load_checkpoint
from recframe.models import DatasetInfo
from recframe.runner import score_latency_ms_per_1k
from recframe_cf.bpr import BPRMF
from recframe_distill.quantize import Quantize


def load(path: Path, info: DatasetInfo, dim: int, prefix: str) -> BPRMF:
    """A BPR-MF of ``dim`` with the weights of a Lightning checkpoint (keys under ``prefix``)."""
    model = BPRMF(info, dim)
    state = load_checkpoint(path, "a distillation run's checkpoint")["state_dict"]  # weights_only=True
    model.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = json.loads((args.run / "results.json").read_text())
    cfg = OmegaConf.load(args.run / ".hydra" / "config.yaml")
    stage = next(r for r in results["compressed"] if r["stage"] == "distill")
    users, items = results["data"]["filtered"]["users"], results["data"]["filtered"]["items"]
    info = DatasetInfo(users, items, None, None)
    teacher_ckpt = Path(results["run"].get("best_checkpoint") or args.run / "checkpoints/best.ckpt")
    seeds = stage["facts"].get("seeds")
    first = f"seed{next(iter(seeds))}/" if seeds else ""
    student_ckpt = args.run / "compressed" / f"{stage['index']}-distill" / first / "student/checkpoints/best.ckpt"
    teacher = load(teacher_ckpt, info, int(cfg.model.embedding_dim), "model.")
    student = load(student_ckpt, info, int(stage["config"]["student"]["embedding_dim"]), "model.student.")
    models = {"teacher": teacher, "student": student, "student int8": Quantize().compress(student)}
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            times[name].append(score_latency_ms_per_1k(model, users, repeats=3))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(
        json.dumps(
            {
                "ms_per_1k_users": {k: round(v, 2) for k, v in med.items()},
                "speed_up_student": round(med["teacher"] / med["student"], 2),
                "speed_up_student_int8": round(med["teacher"] / med["student int8"], 2),
                "threads": args.threads,
                "params": {
                    "teacher": sum(p.numel() for p in teacher.parameters()),
                    "student": sum(p.numel() for p in student.parameters()),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
