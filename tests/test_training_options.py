"""Learning-rate schedulers, gradient clipping and user callbacks from the trainer config.

Each test trains BPR-MF on MovieLens-100K for a few epochs with a user callback
(``training_probes.StepRecorder``) that records the learning rate of every optimizer step and the
gradients handed to the optimizer, and checks them against the scheduler's formula or the clip bound.
Both training loops are covered: grouped mini-batches under manual optimisation (the default,
``trainer.batches_per_step=16``, where recframe steps the scheduler and clips) and Lightning's automatic
loop (``trainer.batches_per_step=1``).
"""

from __future__ import annotations

import json
import math

import pytest

import recframe
from recframe.errors import ConfigError

LR = 0.01
BASE = [
    "data=ml-100k",
    "model=bpr",
    "trainer.batch_size=16384",
    f"trainer.lr={LR}",
    "trainer.patience=100",
    "trainer.progress_bar=false",
    "logger=none",
]
LOOPS = {"grouped": "trainer.batches_per_step=16", "automatic": "trainer.batches_per_step=1"}
# the automatic loop's variants run with the slow tests (CI's make test-all); the grouped loop is the default
LOOP_PARAMS = [pytest.param("grouped"), pytest.param("automatic", marks=pytest.mark.slow)]


def _train(tmp_path, *overrides: str, epochs: int = 3) -> tuple[dict, dict]:
    """(results, the recorder's record) of one run."""
    probe = tmp_path / "probe.json"
    callback = f"trainer.callbacks=[{{_target_:training_probes.StepRecorder,path:'{probe}'}}]"
    results = recframe.run([*BASE, f"trainer.max_epochs={epochs}", callback, *overrides], run_dir=tmp_path / "run")
    return results, json.loads(probe.read_text())


@pytest.mark.parametrize("loop", LOOP_PARAMS)
def test_step_scheduler_follows_its_formula_at_every_optimizer_step(ml100k, tmp_path, loop):
    results, rec = _train(
        tmp_path, LOOPS[loop], "trainer/scheduler=step", "trainer.scheduler.interval=step",
        "trainer.scheduler.step_size=3", "trainer.scheduler.gamma=0.5",
    )  # fmt: skip
    lrs = rec["lrs"]
    assert len(lrs) == results["run"]["optimizer_steps"] > 6
    assert lrs == pytest.approx([LR * 0.5 ** (i // 3) for i in range(len(lrs))], rel=1e-12)


@pytest.mark.slow
def test_cosine_per_epoch_and_the_callback_sees_the_runs_trainer(ml100k, tmp_path):
    epochs, eta_min = 4, 1e-4
    results, rec = _train(tmp_path, "trainer/scheduler=cosine", f"trainer.scheduler.eta_min={eta_min}", epochs=epochs)
    expected = [eta_min + (LR - eta_min) * (1 + math.cos(math.pi * e / epochs)) / 2 for e in range(epochs)]
    assert rec["epoch_lrs"] == pytest.approx(expected, rel=1e-9)
    steps_per_epoch = results["run"]["optimizer_steps"] // epochs
    assert rec["lrs"] == pytest.approx([x for x in expected for _ in range(steps_per_epoch)], rel=1e-9)
    # the hook ran inside this run's own trainer: its folder, its epoch budget, recframe's callbacks beside it
    assert rec["trainer"]["root_dir"] == str(tmp_path / "run")
    assert rec["trainer"]["max_epochs"] == epochs and rec["trainer"]["module"] == "RecframeModule"
    assert {"ModelCheckpoint", "EarlyStopping", "StepRecorder"} <= set(rec["trainer"]["callbacks"])


def _one_cycle(step: int, total: int, max_lr: float, pct: float, div: float = 25.0, final_div: float = 1e4) -> float:
    """OneCycleLR's rate after ``step`` steps (Smith & Topin 2019, two cosine phases as torch defines them):
    from max_lr/div up to max_lr until step pct*total - 1, then down to max_lr/div/final_div at total - 1."""
    start, low, peak = max_lr / div, max_lr / div / final_div, pct * total - 1

    def cos(a: float, b: float, frac: float) -> float:
        return b + (a - b) / 2 * (1 + math.cos(math.pi * frac))

    if step <= peak:
        return cos(start, max_lr, step / peak)
    return cos(max_lr, low, (step - peak) / (total - 1 - peak))


@pytest.mark.slow  # the default run covers the grouped loop's stepping with the step scheduler
@pytest.mark.parametrize("loop", LOOPS)
def test_onecycle_warms_up_then_anneals_over_exactly_the_whole_run(ml100k, tmp_path, loop):
    results, rec = _train(tmp_path, LOOPS[loop], "trainer/scheduler=onecycle", "trainer.scheduler.pct_start=0.25")
    lrs, total = rec["lrs"], results["run"]["optimizer_steps"]
    assert len(lrs) == total > 8
    assert lrs == pytest.approx([_one_cycle(i, total, LR, 0.25) for i in range(total)], rel=1e-9)
    assert lrs[-1] == pytest.approx(LR / 25 / 1e4, rel=1e-9)  # the schedule spans exactly the run's steps


@pytest.mark.slow
def test_linear_warmup_then_constant(ml100k, tmp_path):
    warm, start = 7, 0.1
    _, rec = _train(
        tmp_path, "trainer/scheduler=warmup", f"trainer.scheduler.warmup_steps={warm}",
        f"trainer.scheduler.start_factor={start}",
    )  # fmt: skip
    expected = [LR * (start + (1 - start) * min(i, warm) / warm) for i in range(len(rec["lrs"]))]
    assert len(rec["lrs"]) > warm and rec["lrs"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("loop", LOOP_PARAMS)
def test_plateau_halves_the_rate_after_each_validation_without_improvement(ml100k, tmp_path, loop):
    # threshold=10 (relative): no later validation beats the first by 1000%, so with patience 0 every
    # validation after the first halves the rate; the rate of epoch e is LR / 2^(e-1) from e=1 on
    _, rec = _train(
        tmp_path, LOOPS[loop], "trainer/scheduler=plateau", "trainer.scheduler.patience=0",
        "trainer.scheduler.threshold=10", "trainer.scheduler.factor=0.5", epochs=4,
    )  # fmt: skip
    assert rec["epoch_lrs"] == pytest.approx([LR, LR, LR / 2, LR / 4], rel=1e-12)


@pytest.mark.parametrize("loop", LOOP_PARAMS)
def test_gradient_norm_clipping_bounds_what_the_optimizer_gets(ml100k, tmp_path, loop):
    bound = 1e-4
    _, free = _train(tmp_path / "free", LOOPS[loop], epochs=1)
    assert min(free["grad_norms"]) > 5 * bound  # without clipping every recorded norm exceeds the bound
    _, clipped = _train(tmp_path / "clipped", LOOPS[loop], f"trainer.gradient_clip_val={bound}", epochs=1)
    assert len(clipped["grad_norms"]) == len(free["grad_norms"])
    assert max(clipped["grad_norms"]) <= bound * (1 + 1e-4)
    assert min(clipped["grad_norms"]) == pytest.approx(bound, rel=1e-3)  # every norm was above: all rescaled


@pytest.mark.slow
def test_gradient_value_clipping_clamps_each_element(ml100k, tmp_path):
    bound = 1e-6
    _, free = _train(tmp_path / "free", epochs=1)
    assert max(free["grad_max"]) > 10 * bound
    _, clipped = _train(
        tmp_path / "clipped", f"trainer.gradient_clip_val={bound}", "trainer.gradient_clip_algorithm=value", epochs=1
    )
    assert max(clipped["grad_max"]) <= bound * (1 + 1e-6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.callbacks=[{_target_:no_such_module.Callback}]"],
         r"^trainer\.callbacks\[0\]\._target_ 'no_such_module\.Callback' cannot be imported .*e\.g\. "
         r"lightning\.pytorch\.callbacks\.LearningRateMonitor"),
        (["trainer.callbacks=[{_target_:training_probes.NotACallback}]"],
         r"^trainer\.callbacks\[0\]\._target_ 'training_probes\.NotACallback' is not a Lightning callback"),
        (["trainer.callbacks=[{_target_:training_probes.StepRecorder,pth:x}]"],
         r"^trainer\.callbacks\[0\]\.pth is not an argument of training_probes\.StepRecorder \(it takes: path\)"),
        (["trainer/callbacks=lr_monitor", "logger=none"],
         r"^trainer\.callbacks\[0\] \(LearningRateMonitor\) writes to the run's logger, but logger=none; "
         r"choose logger=csv"),
        (["trainer/scheduler=step", "+trainer.scheduler.T_max=3"],
         r"^trainer\.scheduler\.T_max is not an option of the step scheduler \(options: step_size, gamma\)"),
        (["trainer.gradient_clip_val=1", "trainer.optimizer=sparse_adam"],
         r"^trainer\.gradient_clip_val does not apply to trainer\.optimizer=sparse_adam"),
    ],
)  # fmt: skip
def test_bad_training_options_are_one_line_errors_before_any_data(tmp_path, overrides, message):
    # the data folder does not exist: each mistake must be reported before anything is read
    with pytest.raises(ConfigError, match=message) as info:
        recframe.run(
            ["data=ml-100k", f"data.path={tmp_path / 'missing'}", "model=bpr", *overrides], run_dir=tmp_path / "r"
        )
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        ({"callbacks": ["lightning.pytorch.callbacks.Timer"]},
         r"^trainer\.callbacks\[0\] must be a mapping with a _target_ class path"),
        ({"callbacks": {"_target_": "x.Y"}}, r"^trainer\.callbacks must be a list of"),
        ({"scheduler": {"name": "onecycle", "interval": "epoch"}},
         r"^trainer\.scheduler\.interval must be step for the onecycle scheduler"),
        ({"scheduler": {"name": "plateau", "factor": 2}}, r"^trainer\.scheduler\.factor must be in \(0, 1\), got 2"),
        ({"scheduler": {"name": "step", "step_size": 2.5}}, r"^trainer\.scheduler\.step_size must be an integer"),
        ({"scheduler": {"name": "warmup", "start_factor": 1.5}},
         r"^trainer\.scheduler\.start_factor must be in \(0, 1\]"),
        ({"scheduler": {"name": "cyclic"}}, r"^trainer\.scheduler\.name 'cyclic' is not one of none, step, cosine"),
        ({"scheduler": "cosine"}, r"^trainer\.scheduler must be a mapping .* trainer/scheduler=<none\|step"),
        ({"gradient_clip_val": -1}, r"^trainer\.gradient_clip_val must be > 0, got -1"),
        ({"gradient_clip_val": True}, r"^trainer\.gradient_clip_val must be a number"),
        ({"gradient_clip_algorithm": "l2"}, r"^trainer\.gradient_clip_algorithm must be norm .* got 'l2'"),
    ],
)  # fmt: skip
def test_training_option_checks(trainer, message):
    from omegaconf import OmegaConf

    from recframe.training.schedule_options import check_training_options

    with pytest.raises(ConfigError, match=message):
        check_training_options(OmegaConf.create({"trainer": trainer}))


def test_every_shipped_scheduler_and_callback_preset_passes_the_checks():
    from omegaconf import OmegaConf

    from recframe.config import compose
    from recframe.training.schedule_options import SCHEDULERS, check_training_options

    for name in SCHEDULERS:
        cfg = compose([f"trainer/scheduler={name}", "trainer/callbacks=lr_monitor"])
        assert cfg.trainer.scheduler.name == name
        check_training_options(cfg)
    assert OmegaConf.to_container(cfg.trainer.callbacks)[0]["_target_"].endswith("LearningRateMonitor")
