"""Tables whose cells the script changes after log() (session 16's fault hunt): each logged
table reads back as it was when log() was called, as wandb's (it serialises the table in
log()); flightlog encodes it later, on the writer thread."""

from __future__ import annotations

import numpy as np
import pytest

import flightlog

#: the writer thread does not tick before finish(): the table is encoded then, as it is
#: whenever training changes a cell before the writer's next tick (~100 ms)
LATE = {"flush_interval": 60}


def test_cells_filled_in_place_after_log_read_back_as_logged(api: flightlog.Api) -> None:
    """A buffer of predictions refilled each epoch, a dict and a list of per-epoch facts:
    every logged table read back with the last epoch's values."""
    run = flightlog.init(project="t", settings=LATE)
    preds, facts, pair = np.zeros(3), {"epoch": 0}, [0, 0]
    for epoch in range(3):
        preds[:] = epoch
        facts["epoch"] = epoch
        pair[0] = epoch
        table = flightlog.Table(columns=["epoch", "preds", "facts", "pair"])
        table.add_data(epoch, preds, facts, pair)
        run.log({"t": table})
    run.finish()
    got = [row["t"].load().data for row in api.run(run.path).scan_history()]
    assert got == [[[e, [float(e)] * 3, {"epoch": e}, [e, 0]]] for e in range(3)]


def test_a_tensor_cell_changed_in_place_after_log_reads_back_as_logged(
    api: flightlog.Api,
) -> None:
    torch = pytest.importorskip("torch")
    run = flightlog.init(project="t", settings=LATE)
    embedding = torch.zeros(2, dtype=torch.bfloat16)
    for epoch in range(2):
        embedding.fill_(epoch + 0.5)
        run.log({"t": flightlog.Table(columns=["e"], data=[[embedding]])})
    run.finish()
    got = [row["t"].load().data for row in api.run(run.path).scan_history()]
    assert got == [[[[0.5, 0.5]]], [[[1.5, 1.5]]]]


def test_a_cell_that_holds_itself_leaves_the_table_out_with_a_warning(
    api: flightlog.Api,
) -> None:
    """What JSON cannot hold is said at the line that logged it, the rest of the row kept."""
    loop: dict = {}
    loop["self"] = loop
    run = flightlog.init(project="t")
    with pytest.warns(RuntimeWarning, match=r"'t' is left out: .*circular reference"):
        run.log({"t": flightlog.Table(columns=["c"], data=[[loop]]), "loss": 1.0})
    run.finish()
    (row,) = api.run(run.path).scan_history()
    assert row["loss"] == 1.0 and "t" not in row
