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
