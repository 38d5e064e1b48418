"""Sweeps and tuning: recframe's Optuna sweeper (search space, samplers, objectives, storage, pruning)
and ``recframe report`` (sweep tables and Pareto fronts). See ``docs/sweeps.md``."""
