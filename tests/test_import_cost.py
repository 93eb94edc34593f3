"""`import flightlog` loads the write path and nothing else: a training script pays for
pyarrow, not for the reader (pyarrow.compute), the index, the UI or sync."""

from __future__ import annotations

from .conftest import python_script

NOT_ON_THE_WRITE_PATH = [
    "pyarrow.compute",
    "flightlog.store.reader",
    "duckdb",
    "textual",
    "httpx",
    "watchdog",
]


def test_import_flightlog_loads_only_the_write_path() -> None:
    res = python_script(f"""
        import sys, flightlog
        print([m for m in {NOT_ON_THE_WRITE_PATH!r} if m in sys.modules])
        flightlog.Api  # reading loads the reader, on demand
        print("flightlog.store.reader" in sys.modules)
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["[]", "True"], res.stdout


def test_a_logged_and_finished_run_loads_no_reader() -> None:
    # pyarrow itself imports pandas (and with it pyarrow.compute) at its first pa.array()
    # call when pandas is installed; that is pyarrow's cost, not flightlog's, so the child
    # makes pandas unimportable to see what flightlog alone loads
    res = python_script(f"""
        import sys
        sys.modules["pandas"] = None
        import flightlog
        run = flightlog.init(project="p", settings={{"stats_interval": 0}})
        run.log({{"a": 1.0, "s": "text"}})
        run.finish(quiet=True)
        print([m for m in {NOT_ON_THE_WRITE_PATH!r} if m in sys.modules])
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout


def test_the_writer_thread_never_makes_pyarrow_import_pandas() -> None:
    """pyarrow's pa.array() imports pandas the first time when pandas is installed: ~0.5 s
    under the GIL and the import lock, which held a log() call in the training thread for
    as long. The writer builds its arrays from buffers instead."""
    import pytest

    pytest.importorskip("pandas")
    res = python_script(f"""
        import sys, time, flightlog
        run = flightlog.init(project="p", settings={{"stats_interval": 0.05}})
        for i in range(2000):
            row = {{"a": i / 2, "n": i, "ok": i % 2 == 0}}
            if i % 100 == 0:
                row.update(s="text", big=2**60, missing=None, nested={{"x": 1.0}})
            run.log(row)
        time.sleep(0.3)  # a few system-metrics samples
        run.finish(quiet=True)
        print([m for m in ["pandas", *{NOT_ON_THE_WRITE_PATH!r}] if m in sys.modules])
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout
