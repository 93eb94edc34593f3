"""What a server knows about blobs, in the database every replica shares: which project holds
which blob (`blob_refs`), the whole parts of uploads under way (`blob_parts`) and each run's
file list (`run_files`). The bytes live in the object store (sync/blob_receive.py); a row is
written only after the bytes it names were stored and checked, so a row always names
readable content, and an upload cut on one replica resumes on another from the same rows."""

from __future__ import annotations

import json
import time
from typing import Any

from .drivers import Driver

#: digests per `IN (...)` list (SQLite allows 32,766 parameters, PostgreSQL 65,535)
IN_BATCH = 500


class BlobTable:
    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    # -- references ---------------------------------------------------------------------
    def ref_size(self, entity: str, project: str, sha: str) -> int | None:
        """The size of a blob the project holds, or None."""
        with self.driver.tx() as db:
            row = db.execute(
                "SELECT size FROM blob_refs WHERE entity = ? AND project = ? AND sha256 = ?",
                [entity, project, sha],
            ).fetchone()
        return int(row[0]) if row else None

    def held(self, entity: str, project: str, shas: list[str]) -> dict[str, int]:
        """Which of `shas` the project holds -> their sizes (one query where a run's files
        then need them: a blob's size never changes, its name is its content's sha256)."""
        rows = self._among("sha256, size FROM blob_refs", entity, project, shas)
        return {str(sha): int(size) for sha, size in rows}

    def parts_among(
        self, entity: str, project: str, shas: list[str]
    ) -> dict[str, list[tuple[int, int]]]:
        """sha256 -> (start, size) of the stored parts of each of these uploads, by start."""
        out: dict[str, list[tuple[int, int]]] = {}
        rows = self._among("sha256, start, size FROM blob_parts", entity, project, shas)
        for sha, start, size in sorted(rows, key=lambda r: (r[0], int(r[1]))):
            out.setdefault(str(sha), []).append((int(start), int(size)))
        return out

    def _among(self, what: str, entity: str, project: str, shas: list[str]) -> list[Any]:
        """`SELECT what WHERE` the project's rows of these digests: a query per IN_BATCH."""
        out: list[Any] = []
        for i in range(0, len(shas), IN_BATCH):
            batch = shas[i : i + IN_BATCH]
            marks = ", ".join("?" * len(batch))
            with self.driver.tx() as db:
                out += db.execute(
                    f"SELECT {what} WHERE entity = ? AND project = ? AND sha256 IN ({marks})",
                    [entity, project, *batch],
                ).fetchall()
        return out

    def add_ref(self, entity: str, project: str, sha: str, size: int) -> None:
        with self.driver.tx() as db:
            db.execute(
                "INSERT INTO blob_refs VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [entity, project, sha, size, time.time()],
            )

    # -- parts of uploads under way -----------------------------------------------------
    def parts(self, entity: str, project: str, sha: str) -> list[tuple[int, int, str]]:
        """(start, size, part sha256) of the upload's stored parts, by start."""
        with self.driver.tx() as db:
            rows = db.execute(
                "SELECT start, size, part_sha256 FROM blob_parts WHERE entity = ? AND "
                "project = ? AND sha256 = ? ORDER BY start",
                [entity, project, sha],
            ).fetchall()
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    def add_part(
        self, entity: str, project: str, sha: str, start: int, size: int, part_sha: str
    ) -> bool:
        """Record a stored part; False when another replica recorded one at `start` first."""
        with self.driver.tx() as db:
            n = db.execute(
                "INSERT INTO blob_parts VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [entity, project, sha, start, size, part_sha],
            ).rowcount
        return n == 1

    def drop_parts(self, entity: str, project: str, sha: str) -> None:
        with self.driver.tx() as db:
            db.execute(
                "DELETE FROM blob_parts WHERE entity = ? AND project = ? AND sha256 = ?",
                [entity, project, sha],
            )

    # -- a run's files ------------------------------------------------------------------
    def put_run_files(self, rows: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Record the file lists `(entity, project, run_id, files)` in one transaction (a
        request's runs together: one commit, not one each)."""
        with self.driver.tx() as db:
            for entity, project, run_id, files in rows:
                db.execute(
                    "INSERT INTO run_files VALUES (?, ?, ?, ?) ON CONFLICT (entity, project, "
                    "run_id) DO UPDATE SET files = excluded.files",
                    [entity, project, run_id, json.dumps(files)],
                )

    def run_files(self, entity: str, project: str, run_id: str) -> dict[str, dict[str, Any]]:
        with self.driver.tx() as db:
            row = db.execute(
                "SELECT files FROM run_files WHERE entity = ? AND project = ? AND run_id = ?",
                [entity, project, run_id],
            ).fetchone()
        files = json.loads(row[0]) if row else {}
        return files if isinstance(files, dict) else {}
