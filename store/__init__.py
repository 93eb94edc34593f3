"""flightlog.store: the on-disk format, the segment writer, the readers (and later the index).

Nothing here imports the facade (`flightlog`), the UI or sync: they depend on the store,
never the other way round.
"""

from typing import Any

from .layout import RunPaths, check_name, check_run_id, iter_run_dirs
from .liveness import CRASHED, FAILED, FINISHED, RUNNING, STATES
from .writer import RunWriter, WriterSettings, new_writer_id

__all__ = [
    "CRASHED",
    "FAILED",
    "FINISHED",
    "RUNNING",
    "STATES",
    "RunPaths",
    "RunWriter",
    "StoredRun",
    "WriterSettings",
    "check_name",
    "check_run_id",
    "iter_run_dirs",
    "new_writer_id",
]


def __getattr__(name: str) -> Any:
    # the reader needs numpy and pyarrow.compute: loaded when a reader asks, not by log()
    if name == "StoredRun":
        from .reader import StoredRun

        return StoredRun
    raise AttributeError(f"module 'flightlog.store' has no attribute {name!r}")
