"""The database schema as a small versioned set of SQL migrations, applied in order on start.

Why not Alembic: it brings SQLAlchemy and a migration environment for a dozen tables whose SQL is
the same in both dialects; a reviewer (or a DBA) reads every statement below as it runs. Each
migration runs in one transaction and is recorded in `flightlog_schema`; on PostgreSQL an
advisory lock makes replicas that start together apply it once, on SQLite BEGIN IMMEDIATE does.
Migration 1 uses IF NOT EXISTS so an accounts file made before versioning adopts it as it is.
Never edit a released migration: append one.
"""

from __future__ import annotations

import time

from .drivers import Driver

#: (version, what it does, statements)
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "accounts: entities, team members, key hashes, projects",
        (
            "CREATE TABLE IF NOT EXISTS entities (name TEXT PRIMARY KEY, kind TEXT NOT NULL, "
            "created DOUBLE PRECISION)",
            'CREATE TABLE IF NOT EXISTS members (team TEXT, "user" TEXT, '
            'PRIMARY KEY (team, "user"))',
            'CREATE TABLE IF NOT EXISTS keys (hash TEXT PRIMARY KEY, "user" TEXT NOT NULL, '
            "hint TEXT, created DOUBLE PRECISION)",
            "CREATE TABLE IF NOT EXISTS projects (entity TEXT, name TEXT, visibility TEXT NOT "
            "NULL, created DOUBLE PRECISION, PRIMARY KEY (entity, name))",
        ),
    ),
    (
        2,
        "run catalog: runs (metadata, writer states) and their stored segments",
        (
            "CREATE TABLE runs (entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT NOT "
            "NULL, meta TEXT NOT NULL, writers TEXT NOT NULL, created DOUBLE PRECISION, "
            "updated DOUBLE PRECISION, PRIMARY KEY (entity, project, run_id))",
            "CREATE TABLE segments (entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT "
            "NOT NULL, stream TEXT NOT NULL, writer TEXT NOT NULL, seq BIGINT NOT NULL, "
            "sha256 TEXT NOT NULL, size BIGINT NOT NULL, stored DOUBLE PRECISION, "
            "PRIMARY KEY (entity, project, run_id, stream, writer, seq))",
            'CREATE INDEX keys_user ON keys ("user")',
        ),
    ),
    (
        3,
        "shared by replicas: blob references, blob upload parts, run files, artifact "
        "versions and aliases, browser sessions; runs by update time",
        (
            "CREATE TABLE blob_refs (entity TEXT NOT NULL, project TEXT NOT NULL, sha256 TEXT "
            "NOT NULL, size BIGINT NOT NULL, created DOUBLE PRECISION, "
            "PRIMARY KEY (entity, project, sha256))",
            "CREATE TABLE blob_parts (entity TEXT NOT NULL, project TEXT NOT NULL, sha256 TEXT "
            "NOT NULL, start BIGINT NOT NULL, size BIGINT NOT NULL, part_sha256 TEXT NOT NULL, "
            "PRIMARY KEY (entity, project, sha256, start))",
            "CREATE TABLE run_files (entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT "
            "NOT NULL, files TEXT NOT NULL, PRIMARY KEY (entity, project, run_id))",
            "CREATE TABLE artifact_versions (entity TEXT NOT NULL, project TEXT NOT NULL, "
            "name TEXT NOT NULL, version BIGINT NOT NULL, digest TEXT NOT NULL, manifest TEXT "
            "NOT NULL, PRIMARY KEY (entity, project, name, version), "
            "UNIQUE (entity, project, name, digest))",
            "CREATE TABLE artifact_aliases (entity TEXT NOT NULL, project TEXT NOT NULL, "
            "name TEXT NOT NULL, alias TEXT NOT NULL, version BIGINT NOT NULL, "
            "PRIMARY KEY (entity, project, name, alias))",
            'CREATE TABLE sessions (hash TEXT PRIMARY KEY, "user" TEXT NOT NULL, '
            "key_hash TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX runs_updated ON runs (updated)",
        ),
    ),
    (
        4,
        "seal moves: the shorter seals a segment row was moved off, until they leave the "
        "bucket's Hive tree",
        (
            "CREATE TABLE seal_moves (entity TEXT NOT NULL, project TEXT NOT NULL, run_id TEXT "
            "NOT NULL, stream TEXT NOT NULL, writer TEXT NOT NULL, seq BIGINT NOT NULL, "
            "sha256 TEXT NOT NULL, size BIGINT NOT NULL, "
            "PRIMARY KEY (entity, project, run_id, stream, writer, seq, sha256))",
        ),
    ),
)
LATEST = MIGRATIONS[-1][0]
_LOCK_ID = 0x666C6967  # PostgreSQL advisory lock: "flig"


def upgrade(driver: Driver) -> list[int]:
    """Apply the migrations the database lacks; return the versions applied now."""
    applied: list[int] = []
    with driver.tx(lock=True) as db:
        if driver.dialect == "postgresql":
            db.execute("SELECT pg_advisory_xact_lock(?)", [_LOCK_ID])
        db.execute(
            "CREATE TABLE IF NOT EXISTS flightlog_schema (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied DOUBLE PRECISION)"
        )
        done = {r[0] for r in db.execute("SELECT version FROM flightlog_schema").fetchall()}
        if done and max(done) > LATEST:
            raise ValueError(
                f"the database {driver.where} is at schema version {max(done)}, newer than "
                f"this flightlog ({LATEST}): upgrade flightlog on this machine"
            )
        for version, name, statements in MIGRATIONS:
            if version in done:
                continue
            for sql in statements:
                db.execute(sql)
            db.execute(
                "INSERT INTO flightlog_schema VALUES (?, ?, ?)", [version, name, time.time()]
            )
            applied.append(version)
    return applied


def version(driver: Driver) -> int:
    with driver.tx() as db:
        row = db.execute("SELECT max(version) FROM flightlog_schema").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
