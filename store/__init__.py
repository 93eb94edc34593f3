"""flightlog.store: the on-disk format, the segment writer, the readers (and later the index).

Nothing here imports the facade (`flightlog`), the UI or sync: they depend on the store,
never the other way round.
"""

from .layout import RunPaths, check_name, check_run_id, iter_run_dirs
from .liveness import CRASHED, FAILED, FINISHED, RUNNING, STATES
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
