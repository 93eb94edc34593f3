"""A server's artifact versions and aliases in the database every replica shares: the same
calls as `flightlog.artifacts.registry.Registry` (the files a one-machine server keeps under
its root), so the routes do not know which one they have.

A version is numbered and found by its digest within one transaction, under a lock on the
artifact's name (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so two replicas
committing the same name at once get two numbers, and the same content once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flightlog._errors import ArtifactNotFoundError
from flightlog.artifacts.names import LATEST, version_number
from flightlog.artifacts.registry import Version, manifest_digest
from flightlog.store.artifact_read import by_version

from .drivers import Driver


def _split(where: str) -> tuple[str, str]:
    """`@ENTITY/PROJECT` (receive.project_dir_name) -> (entity, project)."""
    entity, _, project = where.lstrip("@").partition("/")
    return entity, project


class ArtifactTable:
    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def commit(
        self,
        where: str,
        name: str,
        manifest: dict[str, Any],
        aliases: list[str],
        move_latest: bool = True,
    ) -> tuple[Version, bool]:
        """A new version of `manifest` (or the one with its digest), given `aliases` and
        `latest` (unless `move_latest` is False and the name has a latest already: an alias
        given to a version synced before): (version, created)."""
        entity, project = _split(where)
        digest = manifest_digest(manifest.get("entries") or {})
        key = [entity, project, name]
        with self.driver.tx(lock=True) as db:
            if self.driver.dialect == "postgresql":
                db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"{where}/{name}"])
            row = db.execute(
                "SELECT version, manifest FROM artifact_versions WHERE entity = ? AND "
                "project = ? AND name = ? AND digest = ?",
                [*key, digest],
            ).fetchone()
            created = row is None
            if row is None:
                top = db.execute(
                    "SELECT max(version) FROM artifact_versions WHERE entity = ? AND "
                    "project = ? AND name = ?",
                    key,
                ).fetchone()
                n = 0 if top is None or top[0] is None else int(top[0]) + 1
                body = {**manifest, "digest": digest, "version": n, "created_at": time.time()}
                db.execute(
                    "INSERT INTO artifact_versions VALUES (?, ?, ?, ?, ?, ?)",
                    [*key, n, digest, json.dumps(body)],
                )
            else:
                n, body = int(row[0]), json.loads(row[1])
            kept = (
                not move_latest
                and db.execute(
                    "SELECT 1 FROM artifact_aliases WHERE entity = ? AND project = ? AND name = ? "
                    "AND alias = ?",
                    [*key, LATEST],
                ).fetchone()
            )
            for alias in dict.fromkeys(aliases if kept else [LATEST, *aliases]):
                db.execute(
                    "INSERT INTO artifact_aliases VALUES (?, ?, ?, ?, ?) ON CONFLICT "
                    "(entity, project, name, alias) DO UPDATE SET version = excluded.version",
                    [*key, alias, n],
                )
        return Version(where, name, n, body), created

    def adopt(self, version: Version, aliases: list[str]) -> None:
        """Keep a version as numbered elsewhere (`server migrate`); what is here wins."""
        entity, project = _split(version.project)
        key = [entity, project, version.name]
        with self.driver.tx() as db:
            db.execute(
                "INSERT INTO artifact_versions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [*key, version.version, version.digest, json.dumps(version.manifest)],
            )
            for alias in aliases:
                db.execute(
                    "INSERT INTO artifact_aliases VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [*key, alias, version.version],
                )

    def resolve(self, where: str, name: str, alias: str) -> Version:
        """`name:vN` or `name:alias`, or ArtifactNotFoundError."""
        entity, project = _split(where)
        key = [entity, project, name]
        n = version_number(alias)
        with self.driver.tx() as db:
            if n is None:
                row = db.execute(
                    "SELECT version FROM artifact_aliases WHERE entity = ? AND project = ? AND "
                    "name = ? AND alias = ?",
                    [*key, alias],
                ).fetchone()
                n = int(row[0]) if row else -1
            row = db.execute(
                "SELECT manifest FROM artifact_versions WHERE entity = ? AND project = ? AND "
                "name = ? AND version = ?",
                [*key, n],
            ).fetchone()
        if row is None:
            raise ArtifactNotFoundError(f"no artifact {entity}/{project}/{name}:{alias}")
        return Version(where, name, n, json.loads(row[0]))

    def aliases(self, where: str, name: str) -> dict[int, list[str]]:
        """Version number -> its aliases (`latest` first)."""
        with self.driver.tx() as db:
            rows = db.execute(
                "SELECT version, alias FROM artifact_aliases WHERE entity = ? AND project = ? "
                "AND name = ?",
                [*_split(where), name],
            ).fetchall()
        return by_version((int(version), str(alias)) for version, alias in rows)
