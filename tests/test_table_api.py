"""wandb's Table as training scripts call it: `MAX_ROWS` / `MAX_ARTIFACT_ROWS` (and what a
table beyond them keeps), `add_column(name, data, optional=)`, `iterrows()`,
`get_column(convert_to="numpy")`, `get_index()`, `add_computed_columns(fn)`, `cast()`,
`add_row()`; each table logged and read back. Before, each of these was an AttributeError
or a TypeError (add_column took no `optional`) in the user's script."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import flightlog


def _logged(api: flightlog.Api, table: flightlog.Table) -> Any:
    """The table as a reader loads it back after a run logged it."""
    run = flightlog.init(project="t", reinit="create_new")
    run.log({"t": table})
    run.finish()
    (row,) = list(api.run(run.path).scan_history())
    return row["t"].load()


def test_the_row_limits_are_wandbs() -> None:
    assert flightlog.Table.MAX_ROWS == 10000
    assert flightlog.Table.MAX_ARTIFACT_ROWS == 200000


def test_a_table_beyond_the_limit_keeps_its_first_rows_and_says_so(
    api: flightlog.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flightlog.Table, "MAX_ROWS", 3)
    monkeypatch.setattr(flightlog.Table, "MAX_ARTIFACT_ROWS", 5)
    table = flightlog.Table(columns=["i"], data=[[i] for i in range(8)])
    with pytest.warns(RuntimeWarning, match=r"cut to its first 5 .*MAX_ARTIFACT_ROWS"):
        loaded = _logged(api, table)
    assert loaded.get_column("i") == [0, 1, 2, 3, 4]
    assert len(table.data) == 8  # the script's own table is left whole
    monkeypatch.setattr(flightlog.Table, "MAX_ROWS", 8)  # a script that raised MAX_ROWS
    assert _logged(api, table).get_column("i") == list(range(8))


def test_columns_added_computed_and_read_back(api: flightlog.Api) -> None:
    table = flightlog.Table(columns=["user"])
    for user in ("geoff", "juergen", "ada"):
        table.add_data(user)
    table.add_column("score", np.array([0.5, 0.25, 1.0]), optional=False)
    table.add_column("note", ["a", None, "c"], optional=True)
    table.add_computed_columns(lambda i, row: {"length": len(row["user"]), "at": i})
    table.add_row("alan", 0.75, "d", 4, 3)
    assert table.columns == ["user", "score", "note", "length", "at"]
    assert [(i, row[0]) for i, row in table.iterrows()] == [
        (0, "geoff"), (1, "juergen"), (2, "ada"), (3, "alan"),
    ]  # fmt: skip
    assert table.get_index() == [0, 1, 2, 3]
    assert table.get_column("length") == [5, 7, 3, 4]
    got = table.get_column("score", convert_to="numpy")
    assert isinstance(got, np.ndarray) and got.tolist() == [0.5, 0.25, 1.0, 0.75]
    table.cast("length", int)
    table.cast("score", float)
    table.cast("note", str, optional=True)
    with pytest.raises(TypeError, match="'note' has None in row 1"):
        table.cast("note", str)
    with pytest.raises(TypeError, match="'user' row 0 holds a str"):
        table.cast("user", float)
    with pytest.raises(ValueError, match="already has a column 'user'"):
        table.add_column("user", [1, 2, 3, 4])
    loaded = _logged(api, table)
    assert loaded.columns == table.columns
    assert loaded.data == [
        ["geoff", 0.5, "a", 5, 0],
        ["juergen", 0.25, None, 7, 1],
        ["ada", 1.0, "c", 3, 2],
        ["alan", 0.75, "d", 4, 3],
    ]


def test_the_first_column_of_an_empty_table_makes_its_rows(api: flightlog.Api) -> None:
    table = flightlog.Table()
    table.add_column("x", [1, 2, 3])
    table.add_column("y", ["a", "b", "c"])
    assert _logged(api, table).data == [[1, "a"], [2, "b"], [3, "c"]]
