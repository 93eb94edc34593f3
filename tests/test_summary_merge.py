"""The run's summary from its writers' states (store/summary_merge.py), by key: a value a
resuming writer only carried from the earlier job's (`summary_carried`) stands over what
earlier generations recorded, under what its own generation logged and later edits."""

from __future__ import annotations

from typing import Any

from flightlog.store.summary_edits import SummaryEdits
from flightlog.store.summary_merge import merged_summary


def _state(generation: int, at: float, carried: list[str] | None = None, **values: Any) -> dict:
    state = {"generation": generation, "summary": {**values, "_timestamp": at}}
    if carried is not None:
        state["summary_carried"] = carried
    return state


def test_a_key_another_rank_logged_wins_over_the_resuming_ranks_carried_value() -> None:
    job0 = _state(0, 10.0, a=1, b=1)
    resumer = _state(1, 30.0, ["b"], a=2, b=1)  # logged last, b only carried
    rank1 = _state(1, 20.0, b=2)
    assert merged_summary([job0, resumer, rank1], None) == {"a": 2, "b": 2, "_timestamp": 30.0}


def test_a_carried_value_stands_over_an_earlier_jobs_record() -> None:
    # a killed writer's summary of the earlier job, a beat behind its rows: the resume's
    # value, worked out from those rows, is the run's
    job0 = _state(0, 10.0, b=1)
    resumer = _state(1, 30.0, ["b"], a=2, b=7)
    assert merged_summary([resumer, job0], None)["b"] == 7


def test_a_carried_value_does_not_undo_a_later_edit() -> None:
    job0 = _state(0, 10.0, a=1, b=1)
    resumer = _state(1, 30.0, ["b"], a=2, b=1)
    edits = SummaryEdits(at=20.0, set={"b": 5}, removed=frozenset({"a"}))
    assert merged_summary([job0, resumer], edits) == {"a": 2, "b": 5, "_timestamp": 30.0}


def test_a_state_without_carried_keys_is_merged_whole_as_before() -> None:
    job0 = _state(0, 10.0, a=1, b=1)
    resumer = _state(1, 30.0, None, a=2, b=1)
    rank1 = _state(1, 20.0, b=2)
    assert merged_summary([job0, resumer, rank1], None) == {"a": 2, "b": 1, "_timestamp": 30.0}
