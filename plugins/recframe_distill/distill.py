"""Knowledge distillation of a trained recommender (the teacher) into a smaller one (the student).

The student (any registered model, any size) is trained on the run's training data with the run's
ground-truth loss mixed with one distillation loss: ``(1 - weight) * L_gt + weight * L_kd``.

* ``loss: rd``, ranking distillation (J. Tang, K. Wang, "Ranking Distillation: Learning Compact Ranking
  Models With High Performance for Recommender System", KDD 2018): the teacher's top-``top_k`` unseen
  items of each user are extra positives, weighted by rank, ``w_r ∝ exp(-r / lam)`` (their position
  importance; the dynamic weighting of the paper is not used):
  ``L_kd = -sum_r w_r log sigmoid(s_student(u, pi_r))``.
* ``loss: soft``, pointwise soft labels (G. Hinton, O. Vinyals, J. Dean, "Distilling the Knowledge in a
  Neural Network", 2015): on ``num_samples`` uniformly sampled items per user, binary cross-entropy of
  the student's logits against ``sigmoid(teacher / temperature)``.
* ``loss: listwise``, a listwise KL over sampled candidates (the teacher's top-``top_k`` plus
  ``num_samples`` uniform items): ``KL(softmax(t / T) || softmax(s / T))``, the softmax-distribution
  matching of Hinton et al. applied to a ranking list (cf. S. Kang et al., "DE-RRD", CIKM 2020, which
  distils list orderings).

With ``baseline: true`` the same student is also trained without the teacher (ground truth only, same
budget), and its metrics are reported in the stage's facts: the student must beat it. ``seeds`` trains
the student (and the baseline) once per seed on the run's split, the teacher's top-K computed once;
the facts then give each seed's metrics, their mean and standard deviation, and the paired
student-minus-baseline differences, so that a gain can be told from seed noise.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recframe.api import CompressionContext, Compressor, Measured, evaluate, storage, teacher_topk, unwrap
from recframe.api import Loss, Recommender


def rank_weights(k: int, lam: float) -> Tensor:
    """Position importance of ranks ``1..k``: ``exp(-r / lam)``, normalised to sum to 1."""
    w = torch.exp(-torch.arange(1, k + 1, dtype=torch.float32) / float(lam))
    return w / w.sum()


def ranking_distillation_loss(student_topk_scores: Tensor, weights: Tensor) -> Tensor:
    """``mean_u -sum_r w_r log sigmoid(s(u, pi_r))`` on ``[B, K]`` scores of the teacher's top-K."""
    return -(F.logsigmoid(student_topk_scores) * weights.to(student_topk_scores)).sum(dim=1).mean()


def soft_label_loss(student: Tensor, teacher: Tensor, temperature: float = 1.0) -> Tensor:
    """BCE of student logits against the teacher's soft labels ``sigmoid(t / T)``."""
    return F.binary_cross_entropy_with_logits(student / temperature, torch.sigmoid(teacher / temperature))


def listwise_kl_loss(student: Tensor, teacher: Tensor, temperature: float = 1.0) -> Tensor:
    """``KL(softmax(t/T) || softmax(s/T))`` per row, averaged, scaled by ``T^2`` (Hinton et al.)."""
    t = F.log_softmax(teacher / temperature, dim=1)
    s = F.log_softmax(student / temperature, dim=1)
    return F.kl_div(s, t, log_target=True, reduction="batchmean") * temperature**2


class StudentWithTeacher(Recommender):
    """Training-time wrapper: the student's own outputs plus its (and the teacher's) distillation scores.

    The teacher is held outside the module tree (no gradients, not in checkpoints). For ``soft`` and
    ``listwise`` the teacher scores sampled items on every batch, or reads them from
    ``teacher_table: float[U, I]`` when given (:func:`teacher_score_table`; on ML-1M, 75 MB in place
    of gathering ``B x n`` rows of a wide teacher's item table per batch).
    """

    def __init__(
        self,
        student: Recommender,
        teacher: Recommender,
        topk: Tensor,
        kind: str,
        num_samples: int,
        seed: int,
        teacher_table: Tensor | None = None,
    ) -> None:
        torch.nn.Module.__init__(self)
        self.student = student
        self.n_users, self.n_items = student.n_users, student.n_items
        self.batch_kind = student.batch_kind
        object.__setattr__(self, "_teacher", teacher.eval())
        self.topk, self.kind, self.num_samples = topk, kind, int(num_samples)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.teacher_table = teacher_table

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.student.score(users, items)

    def score_all(self, users: Tensor) -> Tensor:
        return self.student.score_all(users)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        out = dict(self.student(batch))
        users = batch["user"]
        if self.kind == "rd":
            out["kd_student"] = self.student.score_many(users, self.topk[users])
            return out
        sampled = torch.randint(0, self.n_items, (len(users), self.num_samples), generator=self.generator)
        items = sampled if self.kind == "soft" else torch.cat([self.topk[users], sampled], dim=1)
        out["kd_student"] = self.student.score_many(users, items)
        with torch.no_grad():
            if self.teacher_table is not None:
                out["kd_teacher"] = self.teacher_table[users[:, None], items]
            else:
                out["kd_teacher"] = self._teacher.score_many(users, items)
        return out


def teacher_score_table(teacher: Recommender, batch_users: int = 1024) -> Tensor:
    """``float[U, I]``: the teacher's score of every (user, item) pair."""
    with torch.no_grad():
        return torch.cat(
            [
                teacher.score_all(torch.arange(start, min(start + batch_users, teacher.n_users))).float()
                for start in range(0, teacher.n_users, batch_users)
            ]
        )


class DistillLoss(Loss):
    """``(1 - weight) * ground_truth + weight * distillation``."""

    def __init__(self, ground_truth: Loss, kind: str, weight: float, rd_weights: Tensor, temperature: float) -> None:
        super().__init__()
        self.ground_truth, self.kind, self.weight = ground_truth, kind, float(weight)
        self.rd_weights, self.temperature = rd_weights, float(temperature)
        self.batch_kinds = ground_truth.batch_kinds
        self.needs_all_scores = getattr(ground_truth, "needs_all_scores", False)

    def forward(self, outputs: dict[str, Tensor], batch: dict[str, Tensor]) -> Tensor:
        gt = self.ground_truth(outputs, batch) if self.weight < 1.0 else 0.0
        if self.kind == "rd":
            kd = ranking_distillation_loss(outputs["kd_student"], self.rd_weights)
        elif self.kind == "soft":
            kd = soft_label_loss(outputs["kd_student"], outputs["kd_teacher"], self.temperature)
        else:
            kd = listwise_kl_loss(outputs["kd_student"], outputs["kd_teacher"], self.temperature)
        return (1.0 - self.weight) * gt + self.weight * kd


class Distill(Compressor):
    """Train ``student`` (a model config) from the input model with ``loss`` in ``rd``/``soft``/``listwise``.

    Args:
        student: model config of the student, e.g. ``{name: bpr, embedding_dim: 32}``.
        loss: ``rd`` (ranking distillation), ``soft`` (pointwise soft labels), ``listwise`` (sampled KL).
        weight: share of the distillation loss (0: ground truth only, 1: teacher only).
        top_k: the teacher's top-K items per user (``rd``, ``listwise``).
        lam: ``rd`` position-weight sharpness (``w_r ∝ exp(-r / lam)``).
        num_samples: uniformly sampled items per example (``soft``, ``listwise``).
        temperature: softening of ``soft`` and ``listwise``.
        trainer: overrides of the run's ``trainer`` for the student (``max_epochs``, ``lr``...).
        baseline: also train the student without the teacher (same budget) and report it.
        seeds: seeds of the student's (and baseline's) initialisation and sampling, each trained on
            the run's split (default: the run's seed). The stage returns the first seed's student.
    """

    name = "distill"
    max_table_cells = 1 << 26  # soft/listwise: precompute the teacher's [U, I] scores up to this size

    def __init__(
        self,
        student: dict[str, Any] | None = None,
        loss: str = "rd",
        weight: float = 0.5,
        top_k: int = 10,
        lam: float = 5.0,
        num_samples: int = 50,
        temperature: float = 1.0,
        trainer: dict[str, Any] | None = None,
        baseline: bool = False,
        seeds: list[int] | None = None,
    ) -> None:
        super().__init__()
        if loss not in ("rd", "soft", "listwise"):
            raise ValueError(f"loss must be rd, soft or listwise, got {loss!r}")
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self.student = dict(student or {"name": "bpr", "embedding_dim": 16})
        self.loss, self.weight, self.top_k, self.lam = loss, float(weight), int(top_k), float(lam)
        self.num_samples, self.temperature = int(num_samples), float(temperature)
        self.trainer, self.baseline = dict(trainer or {}), bool(baseline)
        self.seeds = [int(s) for s in seeds] if seeds is not None else None
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError(f"compressor seeds must be distinct and not empty, got {seeds}")

    def compress(self, model: Recommender, context: CompressionContext) -> Recommender:
        teacher = unwrap(model).eval()
        users = np.arange(context.info.n_users)
        topk = teacher_topk(
            teacher, users, context.split.train.to_csr(), self.top_k, int(context.cfg.trainer.eval_batch_users)
        )
        seeds = self.seeds or [context.seed]
        small = context.info.n_users * context.info.n_items <= self.max_table_cells
        table = teacher_score_table(teacher) if self.loss != "rd" and small else None  # once for all seeds
        self.facts = {"student": self.student, "loss": self.loss, "weight": self.weight}
        runs = [self._train_seed(teacher, topk, table, context, seed, several=len(seeds) > 1) for seed in seeds]
        first, facts = runs[0]
        self.fit_seconds = facts["fit"]["seconds"]  # the returned student's own training
        if len(seeds) == 1:
            self.facts.update(facts)
        else:
            self.facts["seeds"] = {str(seed): facts for seed, (_, facts) in zip(seeds, runs)}
            self.facts["summary"] = seed_summary([facts for _, facts in runs])
        return Measured(first.eval())

    def rebuild(self, model: Recommender, context: CompressionContext) -> Recommender:
        """An untrained student of the stage's ``student`` config (the teacher is not needed): the saved
        student weights are loaded over it."""
        return Measured(context.build_model(self.student).eval())

    def _train_seed(
        self,
        teacher: Recommender,
        topk: Tensor,
        table: Tensor | None,
        context: CompressionContext,
        seed: int,
        several: bool,
    ) -> tuple[Recommender, dict[str, Any]]:
        """Train the student (and the baseline) with ``seed``; their fit facts and metrics."""
        stage_dir = context.stage_dir / f"seed{seed}" if several and context.stage_dir else context.stage_dir
        context = dataclasses.replace(context, seed=seed, stage_dir=stage_dir)
        student = context.build_model(self.student)
        wrapped = StudentWithTeacher(student, teacher, topk, self.loss, self.num_samples, seed, table)
        loss = DistillLoss(
            context.build_loss(), self.loss, self.weight, rank_weights(topk.shape[1], self.lam), self.temperature
        )
        facts: dict[str, Any] = {"fit": context.train(wrapped, loss, self.trainer, tag="student")}
        if several:
            facts["metrics"], _ = evaluate(student, context.evaluator, context.targets)
        if self.baseline:
            plain = context.build_model(self.student)
            fit = context.train(plain, context.build_loss(), self.trainer, tag="baseline")
            metrics, _ = evaluate(plain, context.evaluator, context.targets)
            params, nbytes = storage(plain)
            facts["baseline"] = {"metrics": metrics, "params": params, "model_bytes": nbytes, "fit": fit}
        return student, facts


def seed_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sample standard deviation over seeds of each student metric and, with baselines, of
    each baseline metric and of the paired difference (student - baseline), with the seeds won."""

    def stats(values: list[float]) -> dict[str, float]:
        return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    keys = sorted(runs[0]["metrics"])
    out: dict[str, Any] = {"n": len(runs), "student": {k: stats([r["metrics"][k] for r in runs]) for k in keys}}
    if all("baseline" in r for r in runs):
        out["baseline"] = {k: stats([r["baseline"]["metrics"][k] for r in runs]) for k in keys}
        diffs = {k: [r["metrics"][k] - r["baseline"]["metrics"][k] for r in runs] for k in keys}
        out["difference"] = {k: {**stats(v), "wins": sum(d > 0 for d in v)} for k, v in diffs.items()}
    return out
