"""`Api().run(path).history()` keeps what was logged when a key mixes kinds: a number
column that later gets a string was a column of strings ("0.5"), unlike scan_history() and
wandb, whose DataFrame holds such a key as an object column of numbers and strings."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import settled
from .servers import LiveServer, segment_file, tidy_table


def _mixed_run() -> flightlog.Run:
    run = flightlog.init(project="p")
    run.log({"acc": 0.5, "n": 3})
    run.log({"acc": 0.75, "n": 4})
    run.log({"acc": "diverged", "n": "none left"})
    run.log({"other": 1.0})
    run.finish()
    settled()
    return run


def test_history_keeps_numbers_of_a_key_that_later_got_a_string(api: flightlog.Api) -> None:
    run = _mixed_run()
    table = api.run(f"p/{run.id}").history()
    assert table.column("acc").to_pylist() == [0.5, 0.75, "diverged", None]
    assert table.column("n").to_pylist() == [3, 4, "none left", None]


def test_history_keeps_the_kinds_with_keys_and_samples(api: flightlog.Api) -> None:
    run = _mixed_run()
    table = api.run(f"p/{run.id}").history(keys=["acc"], samples=2)
    assert table.column("acc").to_pylist() == [0.5, "diverged"]


def test_history_as_a_dataframe_holds_the_numbers_as_numbers(api: flightlog.Api) -> None:
    pytest.importorskip("pandas")
    run = _mixed_run()
    frame = api.run(f"p/{run.id}").history(pandas=True)
    assert frame["acc"].dtype == object
    assert frame["acc"].tolist()[:3] == [0.5, 0.75, "diverged"]
    assert [type(v) for v in frame["n"].tolist()[:3]] == [int, int, str]
    assert frame["other"].tolist()[3] == 1.0  # the plain columns as before


def test_a_servers_run_read_through_the_api_keeps_the_kinds_too(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    with server.client(key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])
        for seq, table in enumerate([tidy_table(2), tidy_table(1, start=2, kind=3, text="x")]):
            segment = segment_file(tmp_path / str(seq), table, seq=seq + 1)
            assert c.put_segment("alice", "p", "r1", "history", segment)
    table = flightlog.Api(host=server.url, api_key=key).run("alice/p/r1").history()
    assert table.column("loss").to_pylist() == [0.0, 1.0, "x"]
