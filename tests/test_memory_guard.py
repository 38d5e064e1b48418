"""Models with dense n_items^2 tables predict their memory from the data's shape and stop before allocating."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import recframe
from recframe.errors import ConfigError
from recframe.memory import available_bytes, check_dense_allocation


def _ml100k_info(ml100k, n_items: int | None = None):
    from recframe.models import DatasetInfo
    from recframe_datasets.movielens import MovieLens100K

    data = MovieLens100K(str(ml100k)).load()
    n = data.n_items if n_items is None else n_items
    return data, DatasetInfo(data.n_users, n, data, np.bincount(data.item, minlength=n))


def test_ease_predicts_its_fit_peak_from_the_item_count(ml100k):
    """The prediction bounds what the fit really allocates (numpy's allocations, traced), and is not
    a loose overestimate: the traced peak is at least half of it."""
    from recframe_cf.ease import EASE, fit_peak_bytes

    data, info = _ml100k_info(ml100k)
    model = EASE(info)
    tracemalloc.start()
    try:
        model.fit(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    predicted = fit_peak_bytes(data.n_items)
    assert 0.5 * predicted <= peak <= predicted, (peak, predicted)


def test_ease_on_too_many_items_stops_in_the_constructor_with_the_size_and_the_alternative(ml100k):
    from recframe_cf.ease import EASE

    _, info = _ml100k_info(ml100k, n_items=400_000)  # 400k^2 x 20 bytes: 2.9 TiB
    with pytest.raises(ConfigError) as err:
        EASE(info)
    message = str(err.value)
    assert "\n" not in message
    assert "'ease'" in message and "2980.2 GiB" in message and "model=itemknn" in message


def test_the_limit_comes_from_the_environment_when_set(ml100k, tmp_path, monkeypatch):
    """ML-100K's 1,682 items need 0.05 GiB; a 0.01 GiB limit stops the run before any fitting."""
    monkeypatch.setenv("RECFRAME_MAX_MEMORY_GB", "0.01")
    assert available_bytes() == int(0.01 * (1 << 30))
    with pytest.raises(ConfigError, match=r"model 'ease' needs about 0\.1 GiB .* 0\.0 GiB of RECFRAME_MAX_MEMORY_GB"):
        recframe.run(["model=ease", "logger=none"], run_dir=tmp_path / "small")
    assert not (tmp_path / "small" / "results.json").exists()
    monkeypatch.setenv("RECFRAME_MAX_MEMORY_GB", "1")
    results = recframe.run(["model=ease", "logger=none"], run_dir=tmp_path / "fits")
    assert results["metrics"]["test/ndcg@10"] > 0.2


def test_a_bad_limit_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("RECFRAME_MAX_MEMORY_GB", "lots")
    with pytest.raises(ConfigError, match="RECFRAME_MAX_MEMORY_GB must be a number"):
        check_dense_allocation("ease", 10, "weights", "use model=itemknn")


def test_without_a_limit_the_system_memory_is_used(monkeypatch):
    monkeypatch.delenv("RECFRAME_MAX_MEMORY_GB", raising=False)
    with open("/proc/meminfo", encoding="ascii") as fh:
        total = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemTotal:"))
    assert 0 < available_bytes() <= total
