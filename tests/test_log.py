"""`run.log()` semantics, wandb's: steps, commit, flattening, value types, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import flightlog


def rows_of(run: flightlog.Run) -> list[dict]:
    run.finish(quiet=True)
    stored = flightlog.Api(run._paths.dir.parents[2]).run(run.path)
    return [
        {k: v for k, v in r.items() if not k.startswith("_") or k == "_step"}
        for r in stored.scan_history()
    ]


def test_step_autoincrements_per_committed_row() -> None:
    run = flightlog.init()
    run.log({"a": 1})
    run.log({"a": 2})
    assert rows_of(run) == [{"_step": 0, "a": 1}, {"_step": 1, "a": 2}]


def test_commit_false_merges_into_the_current_row() -> None:
    run = flightlog.init()
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    run.log({"c": 3})
    run.log({"a": 4})
    assert rows_of(run) == [{"_step": 0, "a": 1, "b": 2, "c": 3}, {"_step": 1, "a": 4}]


def test_explicit_step_defaults_to_no_commit_and_higher_step_commits() -> None:
    run = flightlog.init()
    run.log({"a": 1}, step=0)
    run.log({"b": 2}, step=0)
    run.log({"a": 3}, step=5)  # commits step 0, starts step 5
    run.log({"c": 4})  # no step: merges into step 5 and commits it
    run.log({"a": 5})
    assert rows_of(run) == [
        {"_step": 0, "a": 1, "b": 2},
        {"_step": 5, "a": 3, "c": 4},
        {"_step": 6, "a": 5},
    ]


def test_lower_step_warns_once_and_drops_that_row() -> None:
    run = flightlog.init()
    run.log({"a": 1}, step=3, commit=True)
    with pytest.warns(RuntimeWarning, match="step 1"):
        run.log({"a": 99}, step=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run.log({"a": 98}, step=2)  # warned once only
    run.log({"a": 2})
    assert rows_of(run) == [{"_step": 3, "a": 1}, {"_step": 4, "a": 2}]


def test_summary_step_is_the_last_committed_row_not_a_pending_one() -> None:
    run = flightlog.init()
    run.log({"a": 1}, step=3, commit=True)
    run.log({"b": 2}, step=10)  # pending: not committed yet
    assert run.summary["_step"] == 3
    run.finish(quiet=True)
    assert flightlog.Api().run(run.path).summary["_step"] == 10


def test_finish_commits_the_pending_row() -> None:
    run = flightlog.init()
    run.log({"a": 1}, step=7)
    assert rows_of(run) == [{"_step": 7, "a": 1}]


def test_every_row_has_step_timestamp_runtime() -> None:
    run = flightlog.init()
    run.log({"a": 1})
    run.finish(quiet=True)
    (row,) = flightlog.Api().run(run.path).scan_history()
    assert row["_step"] == 0
    assert abs(row["_timestamp"] - run.start_time) < 5
    assert 0 <= row["_runtime"] < 5


def test_nested_dicts_flatten_to_dotted_keys() -> None:
    run = flightlog.init()
    run.log({"a": {"b": 1, "c": {"d": 2.5}}, "e": 3})
    assert rows_of(run) == [{"_step": 0, "a.b": 1, "a.c.d": 2.5, "e": 3}]


def test_value_types_round_trip_exactly() -> None:
    run = flightlog.init()
    big = 2**70
    run.log({"f": 1.5, "i": 7, "b": True, "s": "hello", "n": None, "big": big, "neg": -3})
    row = rows_of(run)[0]
    assert row == {
        "_step": 0,
        "f": 1.5,
        "i": 7,
        "b": True,
        "s": "hello",
        "n": None,
        "big": big,
        "neg": -3,
    }
    assert type(row["i"]) is int and type(row["b"]) is bool and type(row["big"]) is int


def test_nan_and_inf_are_kept() -> None:
    run = flightlog.init()
    run.log({"x": float("nan"), "y": float("inf"), "z": -math.inf})
    row = rows_of(run)[0]
    assert math.isnan(row["x"]) and row["y"] == math.inf and row["z"] == -math.inf


def test_numpy_scalars_and_0d_arrays() -> None:
    run = flightlog.init()
    run.log(
        {
            "f32": np.float32(0.5),
            "i64": np.int64(3),
            "b": np.bool_(False),
            "arr": np.array(2.25),
            "f64": np.float64(1.25),
        }
    )
    row = rows_of(run)[0]
    assert row == {"_step": 0, "f32": 0.5, "i64": 3, "b": False, "arr": 2.25, "f64": 1.25}
    assert type(row["i64"]) is int and type(row["b"]) is bool


class _FakeTorchScalar:
    """Shaped like a 0-d torch tensor (the test never imports torch, nor does flightlog)."""

    __module__ = "torch"
    shape = ()

    def __init__(self, v: float) -> None:
        self.v = v

    def item(self) -> float:
        return self.v


def test_0d_torch_like_tensor_is_unwrapped() -> None:
    run = flightlog.init()
    run.log({"loss": _FakeTorchScalar(0.125)})
    assert rows_of(run) == [{"_step": 0, "loss": 0.125}]


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"ok": 1, "bad": object()}, r"'bad' has type object"),
        ({"ok": 1, "arr": np.array(["a", "b"])}, r"'arr' is a sequence holding str"),
        ({"ok": 1, "c": 1j}, r"'c' has type complex"),
        ({"ok": 1, "lst": [1, "two"]}, r"'lst' is a sequence holding str 'two'"),
        ({"ok": 1, "s": {1, 2}}, r"'s' has type set"),
        ({1: 2.0}, r"keys must be strings"),
    ],
)
def test_bad_values_raise_typeerror_naming_the_key_and_write_nothing_of_that_call(
    payload: dict, match: str
) -> None:
    run = flightlog.init()
    run.log({"ok": 0})
    with pytest.raises(TypeError, match=match):
        run.log(payload)
    run.log({"ok": 2})
    assert rows_of(run) == [{"_step": 0, "ok": 0}, {"_step": 1, "ok": 2}]


def test_non_dict_payload_and_reserved_or_empty_keys_are_refused() -> None:
    run = flightlog.init()
    with pytest.raises(TypeError, match="takes a dict"):
        run.log([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reserved"):
        run.log({"_step": 3})
    with pytest.raises(ValueError, match="empty key"):
        run.log({"": 3})
    with pytest.raises(TypeError, match="step must be an int"):
        run.log({"a": 1}, step="x")  # type: ignore[arg-type]
    run.log({"a": 1})
    assert rows_of(run) == [{"_step": 0, "a": 1}]


def test_module_level_log_before_init_is_a_clear_error() -> None:
    with pytest.raises(flightlog.UsageError, match=r"call flightlog.init\(\) before"):
        flightlog.log({"a": 1})
    with pytest.raises(flightlog.UsageError, match=r"before using flightlog.config"):
        flightlog.config.lr  # noqa: B018


def test_log_after_finish_warns_and_ignores() -> None:
    run = flightlog.init()
    run.log({"a": 1})
    run.finish(quiet=True)
    with pytest.warns(RuntimeWarning, match="is finished") as said:
        run.log({"a": 2})
    assert said[0].filename == __file__  # the user's line, not flightlog's
    assert [r["a"] for r in flightlog.Api().run(run.path).scan_history()] == [1]


def test_history_is_a_wide_typed_table() -> None:
    run = flightlog.init()
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1), "epoch": i // 2, "phase": "train", "ok": i % 2 == 0})
    run.log({"val/acc": 0.9})
    run.finish(quiet=True)
    table = flightlog.Api().run(run.path).history()
    assert table.column_names[:4] == ["_step", "_timestamp", "_runtime", "_writer"]
    assert table.num_rows == 6
    assert str(table.schema.field("loss").type) == "double"
    assert str(table.schema.field("epoch").type) == "int64"
    assert str(table.schema.field("phase").type) == "string"
    assert str(table.schema.field("ok").type) == "bool"
    assert table.column("val/acc").to_pylist() == [None] * 5 + [0.9]
    only = flightlog.Api().run(run.path).history(keys=["loss"])
    assert only.column_names == ["_step", "_timestamp", "_runtime", "_writer", "loss"]
    assert only.num_rows == 5


def test_a_list_key_is_checked_each_time_whatever_it_held_before(tmp_path) -> None:
    """The same keys and value types skip validation; a list's contents are not in its type,
    so a list of numbers and then a list of images under the same key must both be stored
    (before: the second log() raised TypeError, an Image is not JSON serializable)."""
    run = flightlog.init(project="lists", dir=str(tmp_path), mode="offline")
    run.log({"imgs": [1, 2], "v": [1.0, 2.0]})
    run.log({"imgs": [flightlog.Image(np.zeros((4, 4), np.uint8))], "v": [3.0]})
    run.finish()
    rows = list(flightlog.Api(dir=str(tmp_path)).run(f"lists/{run.id}").scan_history())
    assert rows[0]["imgs"] == [1, 2] and rows[0]["v"] == [1.0, 2.0]
    assert rows[1]["imgs"]["_type"] == "images" and rows[1]["v"] == [3.0]
