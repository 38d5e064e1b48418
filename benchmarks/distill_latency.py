"""ML-1M distillation (docs/compression.md): teacher and student scoring latency, interleaved in one process.

Usage: python benchmarks/distill_latency.py <run folder of experiment=balance/distill_ml1m>
"""
import json
import statistics
import sys

import torch

from recframe.models import DatasetInfo
from recframe.runner import score_latency_ms_per_1k
from recframe_cf.bpr import BPRMF
from recframe_distill.quantize import Quantize

N_USERS, N_ITEMS = 6033, 3123  # RecBole ML-1M protocol
info = DatasetInfo(N_USERS, N_ITEMS, None, None)


def load(path, dim, prefix):
    model = BPRMF(info, dim)
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    model.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    return model.eval()


run = sys.argv[1]
teacher = load(f"{run}/checkpoints/best.ckpt", 256, "model.")
student = load(f"{run}/compressed/0-distill/student/checkpoints/best.ckpt", 32, "model.student.")
models = {"teacher": teacher, "student": student, "student int8": Quantize().compress(student)}
times = {name: [] for name in models}
for _ in range(7):
    for name, model in models.items():
        times[name].append(score_latency_ms_per_1k(model, N_USERS, repeats=3))
med = {k: statistics.median(v) for k, v in times.items()}
print(json.dumps({k: round(v, 2) for k, v in med.items()}),
      "speed-up student:", round(med["teacher"] / med["student"], 2),
      "int8:", round(med["teacher"] / med["student int8"], 2), "threads:", torch.get_num_threads())
