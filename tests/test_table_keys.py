"""wandb's `Table.set_pk(col)` / `Table.set_fk(col, table, table_col)`: scripts porting from
wandb call them to link tables (predictions to a dataset's rows); they were missing. The keys
are stored with the table, so the table read back names them."""

from __future__ import annotations

import pytest

import flightlog

from .conftest import settled


def _tables() -> tuple[flightlog.Table, flightlog.Table]:
    dataset = flightlog.Table(columns=["id", "text"], data=[["a", "hello"], ["b", "bye"]])
    preds = flightlog.Table(columns=["row", "sample", "label"], data=[[0, "a", 1], [1, "b", 0]])
    dataset.set_pk("id")
    preds.set_fk("sample", dataset, "id")
    return dataset, preds


def test_table_keys_read_back_with_the_logged_tables(api: flightlog.Api) -> None:
    dataset, preds = _tables()
    run = flightlog.init(project="p")
    run.log({"dataset": dataset, "preds": preds})
    run.finish()
    settled()
    (row,) = api.run(f"p/{run.id}").scan_history()
    got_dataset, got_preds = row["dataset"].load(), row["preds"].load()
    assert (got_dataset.primary_key, got_dataset.foreign_keys) == ("id", {})
    assert (got_preds.primary_key, got_preds.foreign_keys) == (None, {"sample": "id"})
    assert got_preds.data == [[0, "a", 1], [1, "b", 0]]


def test_table_keys_are_kept_by_the_snapshot_log_takes() -> None:
    dataset, preds = _tables()
    assert dataset.snapshot().primary_key == "id"
    assert preds.snapshot().foreign_keys == {"sample": "id"}


def test_table_keys_name_what_is_wrong() -> None:
    dataset, preds = _tables()
    with pytest.raises(KeyError, match="no column 'nope'"):
        dataset.set_pk("nope")
    with pytest.raises(KeyError, match="no column 'key'"):
        preds.set_fk("sample", dataset, "key")
    with pytest.raises(ValueError, match="primary key"):
        dataset.set_fk("id", preds, "row")
    with pytest.raises(TypeError, match="a Table"):
        preds.set_fk("sample", "dataset", "id")
    bad = flightlog.Table(columns=["k"], data=[[[1, 2]]])
    with pytest.raises(TypeError, match="column 'k' row 0"):
        bad.set_pk("k")
