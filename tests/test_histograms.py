"""Arrays, lists and histograms: logged like wandb does, read back through the Api."""

from __future__ import annotations

import numpy as np
import pytest

import flightlog
from flightlog import Histogram


def read(run: flightlog.Run) -> list[dict]:
    run.finish(quiet=True)
    return list(flightlog.Api().run(run.path).scan_history())


def test_short_sequences_are_lists_long_ones_histograms() -> None:
    run = flightlog.init()
    weights = np.random.default_rng(0).normal(size=(100, 10))
    run.log({"short": [1, 2.5, 3], "arr": np.arange(32), "weights": weights, "tuple": (0.5, 0.25)})
    (row,) = read(run)
    assert row["short"] == [1, 2.5, 3] and row["tuple"] == [0.5, 0.25]
    assert row["arr"] == list(range(32))  # 32 elements: still a list
    hist = row["weights"]
    assert isinstance(hist, Histogram)
    assert len(hist.counts) == 64 and sum(hist.counts) == 1000
    counts, bins = np.histogram(weights.ravel(), bins=64)
    assert hist.counts == counts.tolist() and hist.bins == pytest.approx(bins.tolist())


def test_histogram_objects_round_trip() -> None:
    run = flightlog.init()
    h1 = Histogram([1, 2, 2, 3, 3, 3], num_bins=3)
    h2 = Histogram(np_histogram=([5, 1], [0.0, 0.5, 1.0]))
    for step, h in enumerate((h1, h2)):
        run.log({"grad": h}, step=step)
    rows = read(run)
    assert [r["grad"] for r in rows] == [h1, h2]
    assert h1.counts == [1, 2, 3]


def test_tensor_like_values_become_lists_or_histograms() -> None:
    class FakeTensor:  # shaped like a torch tensor; flightlog never imports torch
        __module__ = "torch"

        def __init__(self, values: list[float]) -> None:
            self.shape = (len(values),)
            self.values = values

        def tolist(self) -> list[float]:
            return self.values

    run = flightlog.init()
    run.log({"small": FakeTensor([1.0, 2.0]), "big": FakeTensor([float(i) for i in range(100)])})
    (row,) = read(run)
    assert row["small"] == [1.0, 2.0]
    assert isinstance(row["big"], Histogram) and sum(row["big"].counts) == 100


def test_histogram_in_summary_and_history_table() -> None:
    run = flightlog.init()
    run.log({"h": Histogram(list(range(100)), num_bins=4), "loss": 1.0})
    run.finish(quiet=True)
    stored = flightlog.Api().run(run.path)
    assert stored.summary["h"]["_type"] == "histogram"
    assert stored.summary["h"]["counts"] == [25, 25, 25, 25]
    col = stored.history().column("h").to_pylist()
    assert col[0].startswith("Histogram(4 bins")  # the wide table shows it as text


def test_bad_histograms() -> None:
    with pytest.raises(ValueError, match="needs a sequence"):
        Histogram()
    with pytest.raises(ValueError, match="one more bin edge"):
        Histogram(np_histogram=([1, 2], [0.0, 1.0]))
    with pytest.raises(ValueError, match="num_bins"):
        Histogram([1.0], num_bins=0)
