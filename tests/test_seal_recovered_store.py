"""The one-machine server's root, and the copy it was synced from, read as the README's
`flightlog sql` and `flightlog show` read them, after a store copied while its last rows were
only in the writer's journal (tests/test_found2_copied_store.py): the copy's sync sealed
those rows into a segment of their own (store/takeover.py, numbered from RECOVERED_SEQ),
and the job's own seal, synced after the next copy, holds them too. Both files are in both
stores; `history()` and `scan_history()` read each step once (one row per writer and step),
but the `history` SQL view and `show`'s counts read both files.

The bucket of a shared server moves such a segment out of its Hive tree
(tests/test_seal_recovered_bucket.py); a store's directory keeps every sealed file, so its
readers cut it (store/recovered_overlap.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flightlog.store.recovered_overlap import held_elsewhere
from flightlog.store.takeover import RECOVERED_SEQ

from .conftest import cli
from .servers import LiveServer
from .test_found2_copied_store import TRAIN, copied_mid_run, copy_store


def test_a_copy_synced_while_rows_were_only_in_the_journal_is_counted_once_by_sql_and_show(
    server: LiveServer, key: str, store: Path, tmp_path: Path
) -> None:
    slow = TRAIN.replace('"flush_interval": 0.01', '"flush_interval": 60')
    assert slow != TRAIN
    copy = copied_mid_run(store, tmp_path, slow, at_step=1500)
    for _ in range(2):
        synced = cli("sync", "--all", "--root", str(copy))
        assert synced.returncode == 0, synced.stdout + synced.stderr
        copy_store(store, copy)

    for root in (server.root, copy):
        sql = cli(
            "sql", "SELECT count(*) FROM history WHERE key = 'loss'", "--format", "csv",
            "--root", str(root),
        )  # fmt: skip
        assert sql.returncode == 0, sql.stderr
        assert sql.stdout.split() == ["count_star()", "3000"], (root, sql.stdout)
        show = cli("show", "copied", "--root", str(root))
        line = next(s for s in show.stdout.splitlines() if s.startswith("loss "))
        assert re.split(r"\s+", line)[1:5] == ["2999", "0", "2999", "3000"], (root, line)


R = RECOVERED_SEQ


@pytest.mark.parametrize(
    ("segments", "held"),
    [
        # the job's own seals reach past the copy's recovered segment: left out
        ([("s1", "w", 1, 0, 999), ("s2", "w", 2, 1000, 2999), ("r", "w", R + 3, 1000, 1500)],
         {"r": None}),
        # they reach into it: its rows past their last step are read
        ([("s1", "w", 1, 0, 999), ("s2", "w", 2, 1000, 1200), ("r", "w", R + 3, 1000, 1500)],
         {"r": 1200}),
        # nothing of the writer's own past it: read whole
        ([("s1", "w", 1, 0, 999), ("r", "w", R + 3, 1000, 1500)], {}),
        # the pieces of one takeover do not overlap; a second takeover's shorter one does
        ([("p1", "w", R + 3, 0, 1999), ("p2", "w", R + 4, 2000, 2999),
          ("r", "w", R + 3, 0, 1500)], {"r": None}),
        # another writer's seals hold none of its rows
        ([("s", "v", 1, 0, 2999), ("r", "w", R + 3, 1000, 1500)], {}),
    ],
)  # fmt: skip
def test_a_recovered_segment_is_cut_where_the_writers_other_segments_hold_its_rows(
    segments: list[tuple[str, str, int, int, int]], held: dict[str, int | None]
) -> None:
    assert held_elsewhere(segments) == held
