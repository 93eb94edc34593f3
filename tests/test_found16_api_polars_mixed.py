"""`api.runs(...).histories(format="polars")` raised polars' ComputeError ("cannot create
series from Union") as soon as one run had a key of several kinds (a float then a string,
an int then a histogram), where the pandas form gives an object column of the values as
logged. Both frames now hold such a key alike. polars and pandas are optional for users (the
`[test]` extra installs both): each test is skipped, naming the module, where one is missing."""

from __future__ import annotations

import math

import pytest

import flightlog
from flightlog.store.media_ref import MediaRef

from .conftest import settled


def _mixed_runs() -> list[str]:
    """Three runs: `acc` a float then a string, `h` an int then a histogram, `n` an int in
    one run and a string in another, `acc` a float alone in the last."""
    logged = (
        [{"acc": 0.5, "n": 3}, {"acc": "diverged", "n": 4}],
        [{"acc": 0.7, "h": 1}, {"h": flightlog.Histogram([1.0, 2.0, 3.0])}, {"n": "none"}],
        [{"acc": 0.25}],
    )
    ids = []
    for rows in logged:
        run = flightlog.init(project="p", reinit=True, settings={"stats_interval": 0})
        for row in rows:
            run.log(row)
        run.finish(quiet=True)
        ids.append(run.id)
    settled()
    return ids


def _cells(values: list[object]) -> list[object]:
    """A frame column's cells, missing ones (None, NaN) as None, histograms as their text."""
    out: list[object] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        else:
            out.append(v if isinstance(v, int | float | str) else str(v))
    return out


WANT = {
    "acc": [0.5, "diverged", 0.7, None, None, 0.25],
    "n": [3, 4, None, None, "none", None],
}


def test_polars_histories_of_keys_of_several_kinds(api: flightlog.Api) -> None:
    pl = pytest.importorskip("polars")
    a, b, c = _mixed_runs()
    frame = api.runs("p").histories(format="polars")
    assert frame.columns == sorted(frame.columns)
    assert frame["run_id"].to_list() == [a, a, b, b, b, c]
    for key, want in WANT.items():
        assert frame[key].dtype == pl.Object, key
        assert _cells(frame[key].to_list()) == want, key
    h = _cells(frame["h"].to_list())
    assert h[2] == 1 and type(h[2]) is int and str(h[3]).startswith("Histogram(")
    assert frame["_step"].to_list() == [0, 1, 0, 1, 2, 0]  # plain columns stay typed
    assert frame["_step"].dtype == pl.Int64


def test_polars_and_pandas_histories_hold_the_same_cells(api: flightlog.Api) -> None:
    pytest.importorskip("polars")
    pytest.importorskip("pandas")
    _mixed_runs()
    runs = api.runs("p")
    polars_frame = runs.histories(format="polars")
    pandas_frame = runs.histories(format="pandas")
    assert list(pandas_frame.columns) == polars_frame.columns
    for key in ("acc", "h", "n", "run_id", "_step"):
        assert _cells(polars_frame[key].to_list()) == _cells(pandas_frame[key].tolist()), key


def test_polars_histories_of_plain_keys_keep_their_types(api: flightlog.Api) -> None:
    """Ints in one run and floats in another are floats, as pandas gives them."""
    pl = pytest.importorskip("polars")
    for v in (1, 2.5):
        run = flightlog.init(project="q", reinit=True, settings={"stats_interval": 0})
        run.log({"x": v})
        run.finish(quiet=True)
    settled()
    frame = api.runs("q").histories(format="polars")
    assert frame["x"].dtype == pl.Float64 and frame["x"].to_list() == [1.0, 2.5]


def test_a_media_key_of_one_run_and_a_number_of_another_is_media_in_both_frames(
    api: flightlog.Api,
) -> None:
    """A key that logged media in one run (a column of references, no union) and a number in
    another is an object column in polars as in pandas, its media as loadable MediaRefs (the
    polars frame held the reference's JSON text)."""
    pytest.importorskip("polars")
    pytest.importorskip("pandas")
    for value in (flightlog.Table(columns=["a"], data=[[1]]), 0.5):
        run = flightlog.init(project="m", reinit=True, settings={"stats_interval": 0})
        run.log({"x": value})
        run.finish(quiet=True)
    settled()
    runs = api.runs("m")
    for frame in (
        runs.histories(format="polars")["x"].to_list(),
        runs.histories(format="pandas")["x"].tolist(),
    ):
        assert isinstance(frame[0], MediaRef) and frame[1] == 0.5
