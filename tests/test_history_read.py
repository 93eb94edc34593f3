"""Reading history back: every logged row, in order, exactly once, through `history()`,
`scan_history()` and `keys=`, whatever the segments' layout (key-sorted row groups, or the
step-ordered layout of stores written before them) and while the run still writes (sealed
segments, an open one and the journal read together)."""

from __future__ import annotations

import hashlib
import math
import os
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog
from flightlog import Histogram
from flightlog.store.journal import MARK_KEY, ROWS_CAP, JournalSnapshot
from flightlog.store.key_pruning import row_groups_with
from flightlog.store.layout import parse_segment_name, sealed_segment_name
from flightlog.store.row_dicts import DISPLAY_KEYS, make_dicts
from flightlog.store.sealing import _PARQUET_OPTIONS, ROW_GROUP

from .conftest import settled

META = ("_step", "_timestamp", "_runtime", "_writer")

finite = st.floats(allow_nan=False, allow_infinity=False)
KINDS = [
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(-1000, 1000), finite), max_size=4),
    st.builds(
        lambda counts: Histogram(np_histogram=(counts, list(range(len(counts) + 1)))),
        st.lists(st.integers(0, 50), min_size=1, max_size=5),
    ),
]
ANY = st.one_of(KINDS)
names = st.text(alphabet="abcxyz/.é 0", min_size=1, max_size=5).filter(lambda k: k[0] != "_")


@st.composite
def runs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows of a run: keys logged every step or every N steps, each key holding one kind of
    value or a mix of them."""
    keys = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    every = {k: draw(st.sampled_from([1, 1, 2, 3, 7])) for k in keys}
    values = {k: ANY if draw(st.booleans()) else draw(st.sampled_from(KINDS)) for k in keys}
    rows = []
    for step in range(draw(st.integers(1, 40))):
        row = {k: draw(values[k]) for k in keys if step % every[k] == 0}
        rows.append(row or {keys[0]: draw(values[keys[0]])})
    return rows


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def same_cell(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)


def cell_holds(cell: Any, v: Any) -> bool:
    """A wide `history()` cell shows the logged value `v` (numbers as numbers, the rest as
    their text)."""
    if v is None:
        return cell is None
    if isinstance(cell, str):
        return cell == str(v) or cell == v
    if isinstance(v, float) and math.isnan(v):
        return math.isnan(cell)
    return cell == v


def check_reads(path: str, logged: list[dict[str, Any]], subset: list[str]) -> None:
    run = flightlog.Api().run(path)
    back = list(run.scan_history())
    assert [r["_step"] for r in back] == list(range(len(logged)))  # in order, exactly once
    for want, got in zip(logged, back, strict=True):
        got = {k: v for k, v in got.items() if k not in META}
        assert got.keys() == want.keys()
        assert all(same(want[k], got[k]) for k in want), (want, got)

    table = run.history()
    assert table.column("_step").to_pylist() == list(range(len(logged)))
    for i, row in enumerate(logged):
        for k, v in row.items():
            assert cell_holds(table.column(k)[i].as_py(), v), (k, v, table.column(k)[i])

    # history(keys=): those columns, in the rows holding any of them, as the full table has
    holding = [i for i, row in enumerate(logged) if any(k in row for k in subset)]
    some = run.history(keys=subset)
    assert some.column("_step").to_pylist() == holding
    for k in subset:
        got, full = some.column(k).to_pylist(), table.column(k).to_pylist()
        assert all(map(same_cell, got, [full[i] for i in holding])), k
    # scan_history(keys=): the rows holding every one of them, with just those keys
    rows = list(run.scan_history(keys=subset))
    every = [(i, row) for i, row in enumerate(logged) if all(k in row for k in subset)]
    assert [r["_step"] for r in rows] == [i for i, _ in every]
    for (_, want), got in zip(every, rows, strict=True):
        assert {k: v for k, v in got.items() if k not in META}.keys() == set(subset)
        assert all(same(want[k], got[k]) for k in subset)


def to_old_layout(history: Path) -> None:
    """Rewrite each sealed segment as flightlog wrote them before key-sorted row groups:
    rows in step order, every key in every row group, content-addressed like any sealed
    file (the store this test builds is what older versions left on disk)."""
    for p in list(history.glob("*.parquet")):
        name = parse_segment_name(p.name)
        assert name is not None and name.sealed
        pf = pq.ParquetFile(p)
        table = pf.read()
        table = table.take(pc.sort_indices(table, [("step", "ascending")]))
        tmp = p.with_name(".old.tmp")
        writer = pq.ParquetWriter(tmp, table.schema, **_PARQUET_OPTIONS)  # type: ignore[arg-type]
        writer.write_table(table, row_group_size=ROW_GROUP)
        mark = (pf.metadata.metadata or {}).get(MARK_KEY)
        if mark is not None:
            writer.add_key_value_metadata({MARK_KEY: mark})
        writer.close()
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
        tmp.rename(p.with_name(sealed_segment_name(name.writer, name.seq, digest)))
        p.unlink()


@pytest.mark.parametrize("layout", ["key-sorted", "old"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logged=runs(), data=st.data())
def test_every_logged_row_reads_back_once_in_order(
    layout: str, logged: list[dict[str, Any]], data: st.DataObject
) -> None:
    run = flightlog.init(reinit=True, settings={"segment_rows": 16})
    for row in logged:
        run.log(row)
    run.finish(quiet=True)
    if layout == "old":
        to_old_layout(Path(run.dir) / "history")
    keys = sorted({k for row in logged for k in row})
    subset = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True))
    check_reads(run.path, logged, subset)


@pytest.mark.parametrize("layout", ["key-sorted", "old"])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logged=runs(), data=st.data())
def test_a_running_run_reads_sealed_open_and_journal_rows_together(
    layout: str, logged: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Sealed segments, the open segment and rows only the journal holds yet, read at once
    while the run is still logging, then again once it finished."""
    run = flightlog.init(reinit=True, settings={"segment_rows": 6, "flush_interval": 60})
    cut1, cut2 = sorted(data.draw(st.integers(0, len(logged))) for _ in range(2))
    for i, row in enumerate(logged):
        if i in (cut1, cut2):
            run._writer.flush()  # rows so far reach segments (full ones rotate and seal)
        run.log(row)
    history = Path(run.dir) / "history"
    if layout == "old":
        to_old_layout(history)
    keys = sorted({k for row in logged for k in row})
    subset = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True))
    check_reads(run.path, logged, subset)
    run.finish(quiet=True)
    check_reads(run.path, logged, subset)


def test_keys_decode_only_the_row_groups_that_hold_them() -> None:
    """A 100-key run: its sealed row groups each hold a narrow range of keys, and reading
    three keys decodes only the groups whose range holds one of them."""
    keys = [f"metric/{j:03d}" for j in range(100)]
    run = flightlog.init(reinit=True)
    for step in range(1000):
        run.log({k: step + j / 1000 for j, k in enumerate(keys)})
    run._writer.flush()  # else finish() may leave a backlog in the journal, sealed later
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    (seg,) = (Path(run.dir) / "history").glob("*.parquet")
    pf = pq.ParquetFile(seg)
    groups = pf.metadata.num_row_groups
    assert groups >= 4
    wanted = ["metric/007", "metric/050", "metric/099"]
    assert len(row_groups_with(pf, wanted)) < groups
    # 100,000 rows sealed in two batches: one key sits in one row group of each
    assert len(row_groups_with(pf, ["metric/050"])) <= 2
    some = flightlog.Api().run(run.path).history(keys=wanted)
    assert some.column_names == [*META, *wanted]
    assert some.column("_step").to_pylist() == list(range(1000))
    for k in wanted:
        j = keys.index(k)
        assert some.column(k).to_pylist() == [step + j / 1000 for step in range(1000)]
    # every key's rows still come in step order in the file (a sorted, stable layout)
    table = pf.read()
    for k in wanted:
        steps = table.filter(pc.equal(table.column("key"), k)).column("step").to_pylist()
        assert steps == list(range(1000))


def test_the_committed_sample_runs_read_as_their_files_hold(tmp_path: Path) -> None:
    """sample_runs/ was written before key-sorted row groups: each run's scan_history()
    gives exactly the values its files hold, in step order."""
    import shutil

    from flightlog.store.schema import decode_value

    root = tmp_path / "samples"  # a copy: listing runs builds an index in the store
    shutil.copytree(Path(__file__).parent.parent / "sample_runs" / "runs", root / "runs")
    api = flightlog.Api(dir=str(root))
    checked = 0
    for run in api.runs():
        tables = [pq.read_table(p) for p in sorted((run.dir / "history").glob("*.parquet"))]
        if not tables:
            continue
        tidy = pa.concat_tables(tables).to_pylist()
        want: dict[int, dict[str, Any]] = {}
        for r in tidy:
            want.setdefault(r["step"], {})[r["key"]] = decode_value(
                r["value"], r["kind"], r["text"], run.dir
            )
        got = list(run.scan_history())
        assert [r["_step"] for r in got] == sorted(want)
        for row in got:
            values = {k: v for k, v in row.items() if k not in META}
            expected = want[row["_step"]]
            assert values.keys() == expected.keys()
            assert all(same(expected[k], values[k]) for k in values), row["_step"]
        checked += 1
    assert checked


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.text(max_size=12), min_size=1, max_size=300),
    texts=st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=1, max_size=300),
    min_rows=st.integers(1, 120),
    start=st.integers(0, 3),
    chunk=st.integers(1, 100),
)
def test_key_groups_sort_by_key_keep_each_keys_order_and_cut_at_key_boundaries(
    keys: list[str], texts: list[str | None], min_rows: int, start: int, chunk: int
) -> None:
    """What the writer thread seals: the same rows, sorted bytewise by key, each key's rows
    in their logged order, row groups of at least `min_rows` rows (but the last) that
    never split a key, and so at most rows / min_rows + 1 of them."""
    from flightlog.store.schema import HISTORY_SCHEMA
    from flightlog.store.sealing import key_groups

    n = len(keys)
    rows = [
        {"step": i, "time": i, "key": k, "value": None if i % 5 == 0 else i / 2, "kind": 0,
         "text": texts[i % len(texts)]}
        for i, k in enumerate(keys)
    ]  # fmt: skip
    table = pa.Table.from_pylist(rows, schema=HISTORY_SCHEMA)
    table = pa.Table.from_batches(table.to_batches(max_chunksize=chunk)).slice(min(start, n - 1))
    want = table.to_pylist()
    groups = key_groups(table, min_rows)
    got = [r for g in groups for r in g.to_pylist()]
    assert sorted(got, key=lambda r: r["step"]) == want  # every row, unchanged
    assert [r["key"].encode() for r in got] == sorted(r["key"].encode() for r in got)
    for k in {r["key"] for r in want}:
        assert [r["step"] for r in got if r["key"] == k] == [
            r["step"] for r in want if r["key"] == k
        ]
    assert all(g.num_rows >= min_rows for g in groups[:-1])
    assert len(groups) <= len(want) // min_rows + 1
    for a, b in pairwise(groups):
        assert a.column("key")[-1].as_py() != b.column("key")[0].as_py()


def test_rows_of_one_step_from_several_writers_come_in_the_order_the_writers_started() -> None:
    """Two writers of a shared run log step 0: the first to start comes first, whatever
    their labels ("host:pid": "vm:10351" sorts before "vm:9876", so a child whose pid had
    one more digit came first, and `history()["a"][0]` was None)."""
    first = flightlog.init(project="p", id="sh", settings={"label": "vm:9876"}, reinit=True)
    first.log({"a": 1})
    first._writer.flush()
    second = flightlog.init(
        project="p",
        id="sh",
        mode="shared",
        resume="allow",
        reinit="create_new",
        settings={"label": "vm:10351"},
    )
    second.log({"b": 2})
    second.finish(quiet=True)
    first.finish(quiet=True)
    h = flightlog.Api().run(first.path).history()
    assert h.column("_writer").to_pylist() == ["vm:9876", "vm:10351"]
    assert h.column("a").to_pylist() == [1, None] and h.column("b").to_pylist() == [None, 2]


def test_a_read_while_log_fills_a_journal_and_goes_on_in_the_next_misses_no_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read takes one snapshot per journal; meanwhile `log()` may fill the one read and go
    on in the spare journal read next. The rows committed in between were in neither
    snapshot, yet later rows were: `scan_history` skipped about one batch (steps 0..195,999
    then 196,602.., a journal's end) while a run logged. The interleaving is made exact by
    logging from inside the read, between two journal snapshots."""
    run = flightlog.init(reinit=True, settings={"flush_interval": 60})
    for i in range(1000):
        run.log({"i": i, "j": -i})
    run._writer.flush()  # these rows reach a segment; the writer thread readies a spare
    for i in range(1000, 2000):
        run.log({"i": i, "j": -i})  # only the journal holds these
    history = Path(run.dir) / "history"
    assert len(list(history.glob("*.journal"))) == 2  # log()'s journal and the spare
    read = JournalSnapshot.read
    logged = 2000

    def read_then_log(path: Path) -> JournalSnapshot:
        nonlocal logged
        snap = read(path)
        if logged == 2000:  # fill log()'s journal and go on in the spare one
            for i in range(2000, ROWS_CAP + 500):
                run.log({"i": i, "j": -i})
            logged = ROWS_CAP + 500
        return snap

    with monkeypatch.context() as m:
        m.setattr(JournalSnapshot, "read", read_then_log)
        steps = [r["_step"] for r in flightlog.Api().run(run.path).scan_history(keys=["i"])]
    assert len(steps) >= 2000
    assert steps == list(range(len(steps)))  # a prefix of what was logged: no hole
    run.finish(quiet=True)
    steps = [r["_step"] for r in flightlog.Api().run(run.path).scan_history(keys=["i"])]
    assert steps == list(range(logged))


def test_a_segment_sealed_while_the_directory_is_listed_is_still_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """readdir need not show a file renamed into place or removed while it runs: a listing
    taken while a segment is sealed may hold neither its open nor its sealed name, while
    the next segment, with a later mark, is there. Such a listing is made here by leaving
    that segment out of the read's first directory scan."""
    run = flightlog.init(reinit=True, settings={"segment_rows": 10})
    for i in range(50):
        run.log({"i": i})
        if i % 10 == 9:
            run._writer.flush()  # a full segment: sealed, the next one started
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    history = Path(run.dir) / "history"
    assert len(list(history.glob("*-000002-*.parquet"))) == 1
    scandir = os.scandir
    scans = 0

    class Scan(list):  # what os.scandir gives: entries, and a context manager
        def __enter__(self) -> Scan:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def scan_mid_seal(path: Any = ".") -> Scan:
        nonlocal scans
        entries = Scan(scandir(path))
        if Path(path) == history:
            scans += 1
            if scans == 1:  # the first scan of the read: segment 2 is being sealed
                return Scan(e for e in entries if "-000002" not in e.name)
        return entries

    monkeypatch.setattr(os, "scandir", scan_mid_seal)
    steps = [r["_step"] for r in flightlog.Api().run(run.path).scan_history(keys=["i"])]
    assert scans >= 1
    assert steps == list(range(50))


def test_wide_rows_of_floats_read_back_as_logged() -> None:
    """Rows of more keys than a dict display is made for (300 floats, NaN and infinities
    among them) are built a block at a time from the grid: the same dicts, keys in the same
    order, as the narrow rows'; a row that logged fewer keys has only those."""
    keys = [f"w/{j:03d}" for j in range(300)]
    special = [math.nan, math.inf, -math.inf, -0.0]
    logged = [
        {k: (special[j % 4] if (i + j) % 17 == 0 else i + j / 8) for j, k in enumerate(keys)}
        for i in range(500)  # 150,000 cells: several blocks of rows
    ]
    logged[499] = {k: 1.5 for k in keys[::3]}
    run = flightlog.init(reinit=True)
    for row in logged:
        run.log(row)
    run.finish(quiet=True)
    check_reads(run.path, logged, [keys[0], keys[150]])
    api = flightlog.Api()
    back = list(api.run(run.path).scan_history())
    assert [list(r) for r in back] == [[*META, *sorted(row)] for row in logged]
    assert {type(r["_step"]) for r in back} == {int}
    assert {type(r["_timestamp"]) for r in back} == {float}
    some = list(api.run(run.path).scan_history(min_step=5, max_step=499))  # every key
    assert [list(r) for r in some] == [list(r) for r in back[5:499]]
    assert all(same(a[k], b[k]) for a, b in zip(some, back[5:499], strict=True) for k in a)


def test_rows_across_many_blocks_read_back_as_logged() -> None:
    """70,000 rows (dicts are built a block of rows at a time): ints, floats and bools in
    every row, a key logged every 1,000 steps, every row back in order, as logged."""
    logged: list[dict[str, Any]] = []
    for i in range(70_000):
        row: dict[str, Any] = {"n": i, "x": i / 4, "ok": i % 3 == 0}
        if i % 1000 == 0:
            row["rare"] = -i
        logged.append(row)
    run = flightlog.init(reinit=True)
    for row in logged:
        run.log(row)
    run.finish(quiet=True)
    back = list(flightlog.Api().run(run.path).scan_history())
    assert [{k: v for k, v in r.items() if k not in META} for r in back] == logged
    assert all(type(r["n"]) is int and type(r["ok"]) is bool for r in back)
    rare = list(flightlog.Api().run(run.path).scan_history(keys=["rare"]))
    assert [r["_step"] for r in rare] == list(range(0, 70_000, 1000))


def test_keys_that_read_as_code_come_back_as_logged() -> None:
    """Row dicts are built by generated code (store/row_dicts.py): keys are its data, never
    its source, so keys that look like that code, or like Python, come back as logged."""
    keys = ["k0", "v0", "keys", "rows", "make", "'}, {'", '"),\nimport os #', "{k0: v0}", "é x"]
    run = flightlog.init(reinit=True)
    for i in range(3):
        run.log({k: i + j for j, k in enumerate(keys)})
    run.finish(quiet=True)
    back = list(flightlog.Api().run(run.path).scan_history())
    assert [{k: v for k, v in r.items() if k not in META} for r in back] == [
        {k: i + j for j, k in enumerate(keys)} for i in range(3)
    ]


@given(
    keys=st.lists(st.text(), max_size=8),
    n=st.integers(0, 3),
    wide=st.booleans(),
)
def test_row_dicts_pair_any_key_strings_with_their_values(
    keys: list[str], n: int, wide: bool
) -> None:
    """`make_dicts` gives what `dict(zip(keys, row))` gives for any key strings (duplicates
    too: the last wins), narrow rows by a generated dict display, wide ones past it."""
    if wide:
        keys = keys + [f"w{j}" for j in range(DISPLAY_KEYS)]
    columns = [[f"{j}.{i}" for i in range(n)] for j in range(len(keys))]
    want = [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
    got = list(make_dicts(keys, columns))
    assert got == want and [list(d) for d in got] == [list(d) for d in want]
