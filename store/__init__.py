"""flightlog.store: the on-disk format, the segment writer, the readers (and later the index).

Nothing here imports the facade (`flightlog`), the UI or sync: they depend on the store,
never the other way round.
"""

from typing import TYPE_CHECKING, Any

from .layout import RunPaths, check_name, check_run_id, iter_run_dirs
from .liveness import CRASHED, FAILED, FINISHED, RUNNING, STATES

if TYPE_CHECKING:
    from .reader import StoredRun
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
    # the reader needs numpy and pyarrow.compute: loaded when a reader asks, not by log();
    # the writer needs pyarrow: loaded when a writer asks, not by the index or the command
    if name == "StoredRun":
        from .reader import StoredRun

        return StoredRun
    if name in ("RunWriter", "WriterSettings", "new_writer_id"):
        from . import writer

        return getattr(writer, name)
    raise AttributeError(f"module 'flightlog.store' has no attribute {name!r}")
