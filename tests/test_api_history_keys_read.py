"""`run.history_keys` (and `history_line_count`) read a run's keys and kinds alone
(store/history_keys.py: the `step`, `key` and `kind` columns, the media keys' texts), not its
whole history. Each answer here is checked against one counted from the full read
(`scan_history()`, every value as logged): values of every kind and a key of several, a
run of several segments sealed and open, step metrics, sparse steps, resumed runs, two
writers of the same steps, a damaged segment, a run still being written, and a server's
run (its keys route)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import flightlog
from flightlog.store.media_ref import MediaRef

from .conftest import cli, settled
from .servers import LiveServer

#: the type names of history_keys by the Python type scan_history gives back
NAMES = {float: "number", int: "number", bool: "boolean", str: "string", list: "list"}


def _from_full_read(run: Any) -> dict[str, Any]:
    """history_keys as the full read says: every row of scan_history(), each value typed."""
    counts: Counter[tuple[str, str]] = Counter()
    rows = 0
    last = -1
    for row in run.scan_history():
        rows += 1
        last = max(last, row["_step"])
        for k, v in row.items():
            if k.startswith("_"):
                continue
            if v is None:
                kind = "nil"
            elif isinstance(v, MediaRef):
                kind = v.kind
            elif isinstance(v, flightlog.Histogram):
                kind = "histogram"
            else:
                kind = NAMES[type(v)]
            counts[k, kind] += 1
    if rows == 0:
        return {"lastStep": -1, "keys": {}}
    keys: dict[str, Any] = {
        k: {"typeCounts": [{"type": "number", "count": rows}]}
        for k in ("_step", "_runtime", "_timestamp")
    }
    for (k, kind), n in sorted(counts.items()):
        keys.setdefault(k, {"typeCounts": []})["typeCounts"].append({"type": kind, "count": n})
    return {"lastStep": last, "keys": keys}


def _same(api: flightlog.Api, path: str) -> dict[str, Any]:
    run = api.run(path)
    got = run.history_keys
    assert got == _from_full_read(run)
    assert run.history_line_count == sum(1 for _ in run.scan_history())
    return got


def _log_every_kind(run: flightlog.Run, steps: int) -> None:
    for i in range(steps):
        row: dict[str, Any] = {"loss": 1.0 / (i + 1), "n": i, "ok": i % 2 == 0}
        if i % 7 == 0:
            row.update(note=f"at {i}", nothing=None, sizes=[i, i + 1])
        if i % 11 == 0:
            row["h"] = flightlog.Histogram([float(i), 1.0, 2.0])
        if i % 13 == 0:
            row["preds"] = flightlog.Table(columns=["a"], data=[[i]])
        if i == 20:
            row["loss"] = "diverged"  # a key of two kinds
        run.log(row)


def test_every_kind_while_running_and_once_sealed(api: flightlog.Api) -> None:
    run = flightlog.init(project="p", id="kinds")
    _log_every_kind(run, 150)
    run.log({"loss": 0.5})
    got = _same(api, "p/kinds")  # while it runs: open segments and journal rows too
    assert got["keys"]["loss"]["typeCounts"] == [
        {"type": "number", "count": 150},
        {"type": "string", "count": 1},
    ]
    run.finish()
    settled(run)
    got = _same(api, "p/kinds")
    assert {"table-file", "histogram", "nil", "list", "boolean"} <= {
        t["type"] for v in got["keys"].values() for t in v["typeCounts"]
    }


def test_step_metrics_and_sparse_steps(api: flightlog.Api) -> None:
    run = flightlog.init(project="p", id="steps", settings={"stats_interval": 0})
    run.define_metric("val/*", step_metric="epoch")
    for epoch in range(5):
        for i in range(10):
            run.log({"train/loss": 1.0 / (epoch * 10 + i + 1)})
        run.log({"epoch": epoch, "val/loss": 0.5 - epoch / 20, "val/acc": epoch / 5})
    run.log({"late": 1.0}, step=10**12)  # steps far apart: counted without a bitmap
    run.finish()
    settled(run)
    got = _same(api, "p/steps")
    assert got["lastStep"] == 10**12


def test_resumed_runs_count_each_writers_rows(api: flightlog.Api) -> None:
    for attempt in range(3):
        run = flightlog.init(
            project="p", id="again", resume="allow", settings={"stats_interval": 0}
        )
        _log_every_kind(run, 30 + attempt)
        run.finish()
    settled()
    got = _same(api, "p/again")
    assert got["keys"]["_step"]["typeCounts"] == [{"type": "number", "count": 93}]


def test_several_writers_logging_the_same_steps_count_a_row_each(api: flightlog.Api) -> None:
    """Two writers of one run (shared mode, labels of their own) log the same steps: a row
    is one a writer and step, so each step counts twice, as the full read gives it."""
    first = flightlog.init(project="p", id="ranks", settings={"label": "rank0"}, reinit=True)
    second = flightlog.init(
        project="p",
        id="ranks",
        mode="shared",
        resume="allow",
        reinit="create_new",
        settings={"label": "rank1"},
    )
    for run in (first, second):
        _log_every_kind(run, 40)
    second.finish(quiet=True)
    first.finish(quiet=True)
    settled()
    got = _same(api, "p/ranks")
    assert got["lastStep"] == 39
    assert got["keys"]["_step"]["typeCounts"] == [{"type": "number", "count": 80}]


def test_a_damaged_segment_is_left_out_as_the_full_read_leaves_it(
    api: flightlog.Api, store: Path
) -> None:
    for _ in range(3):  # a segment each
        run = flightlog.init(project="p", id="hurt", resume="allow")
        _log_every_kind(run, 30)
        run.finish()
    settled()
    sealed = sorted((store / "runs" / "p" / "hurt" / "history").glob("*.parquet"))
    assert len(sealed) > 1
    data = bytearray(sealed[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    sealed[0].write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="damaged"):
        got = _same(api, "p/hurt")
    assert 0 < got["keys"]["_step"]["typeCounts"][0]["count"] < 90


@pytest.mark.slow
def test_a_servers_counts_are_the_local_ones(
    api: flightlog.Api, server: LiveServer, key: str
) -> None:
    """Through Api(host=) the server counts (its keys route) as the local store does, and
    from an older server's history stream too."""
    for attempt in range(2):
        run = flightlog.init(project="p", entity="alice", id="again", resume="allow")
        _log_every_kind(run, 30 + attempt)
        run.finish()
    settled()
    synced = cli("sync", "--all")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    remote = flightlog.Api(host=server.url, api_key=key).run("alice/p/again")
    assert remote.history_keys == _same(api, "alice/p/again") == _from_full_read(remote)
    assert remote.history_line_count == 61
    with server.client(key) as c:
        doc = c.answer(c.request("GET", "/runs/alice/p/again/keys"))
    assert doc["rows"] == 61 and doc["last_step"] == 60
    # a server older than the keys route: counted from its whole history stream, alike
    counted = remote.history_keys
    older = flightlog.Api(host=server.url, api_key=key).run("alice/p/again")
    assert older._reader is not remote._reader  # type: ignore[attr-defined]
    older._reader.key_counts = lambda *_, **__: None  # type: ignore[attr-defined]
    assert older.history_keys == counted
    assert older.history_line_count == 61
