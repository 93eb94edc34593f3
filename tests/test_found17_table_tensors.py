"""Torch tensors in a logged Table (session 17's fault hunt): log() keeps each cell's numbers
as they were, copied once - a tensor that had to be moved, made dense or cast for numpy
was copied by that step and then once more."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

import flightlog

torch = pytest.importorskip("torch")

#: the writer thread does not tick before finish(): the table is encoded then, long after
#: the script changed the tensor in place
LATE = {"flush_interval": 60}
#: elements of the big tensors: 4 MiB as float32
ELEMENTS = 1 << 20


def test_a_cpu_tensor_cell_changed_in_place_after_log_reads_back_as_logged(
    api: flightlog.Api,
) -> None:
    """A float32 tensor on the CPU (`.numpy()` shares its memory): each logged table holds
    the values of its epoch, not the last epoch's."""
    run = flightlog.init(project="t", settings=LATE)
    scores = torch.zeros(3)
    for epoch in range(3):
        scores.fill_(epoch + 0.25)
        run.log({"t": flightlog.Table(columns=["s"], data=[[scores]])})
    scores.fill_(-1.0)
    run.finish()
    got = [row["t"].load().data for row in api.run(run.path).scan_history()]
    assert got == [[[[e + 0.25] * 3]] for e in range(3)]


def _bfloat16() -> Any:
    return torch.full((ELEMENTS,), 0.5, dtype=torch.bfloat16)


def _sparse() -> Any:
    return torch.sparse_coo_tensor(
        [[0, ELEMENTS - 1]], [1.0, 2.0], (ELEMENTS,), check_invariants=True
    )


@pytest.mark.parametrize("make", [_bfloat16, _sparse], ids=["bfloat16", "sparse"])
def test_a_tensor_converted_for_numpy_is_not_copied_again_by_log(
    api: flightlog.Api, make: Callable[[], Any]
) -> None:
    """A bfloat16 or sparse tensor (as a GPU one: its conversion to numpy makes a new
    tensor, in torch's memory) costs log() no numpy copy of its 4 MiB; one was made on top
    of the conversion. numpy's allocations are what tracemalloc sees, torch's are not."""
    run = flightlog.init(project="t", settings=LATE)
    cell = make()
    table = flightlog.Table(columns=["e"], data=[[cell]])
    tracemalloc.start()
    try:
        run.log({"t": table})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < ELEMENTS * 4 // 2, f"log() allocated {peak:,} bytes for the table"
    run.finish()
    (row,) = api.run(run.path).scan_history()
    stored = row["t"].load().data[0][0]
    assert len(stored) == ELEMENTS
    assert (stored[0], stored[-1]) in ((0.5, 0.5), (1.0, 2.0))
