"""The server's accounts: users, teams, API keys and projects, in one SQLite file.

SQLite (not the DuckDB index) because the admin commands (`flightlog server user add`...) write
while the server runs, and SQLite lets several processes do that safely. The file is in WAL
mode (readers never wait for a writer) with a 30 s busy timeout, and each thread keeps its
own connection, so the server's worker threads neither share one nor reopen it per call.
Keys are stored as their sha256 only: a key is 32 random bytes, so a plain hash cannot be
brute-forced, and a leaked accounts file gives no usable key. Users and teams share one
namespace: entities.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ACCOUNTS_FILE = "accounts.sqlite"
KEY_PREFIX = "flk_"
VISIBILITIES = ("private", "open")

#: entities are lowercase and never contain '.', which separates entity and project on disk
_ENTITY_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (name TEXT PRIMARY KEY, kind TEXT NOT NULL, created REAL);
CREATE TABLE IF NOT EXISTS members (team TEXT, user TEXT, PRIMARY KEY (team, user));
CREATE TABLE IF NOT EXISTS keys (hash TEXT PRIMARY KEY, user TEXT NOT NULL, hint TEXT,
                                 created REAL);
CREATE TABLE IF NOT EXISTS projects (entity TEXT, name TEXT, visibility TEXT NOT NULL,
                                     created REAL, PRIMARY KEY (entity, name));
"""


def check_entity(name: str) -> str:
    """Validate an entity (user or team) name; return it unchanged."""
    if not isinstance(name, str) or not _ENTITY_RE.match(name):
        raise ValueError(
            f"invalid entity name {name!r}: use 1-64 lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Access:
    """What one user may do in one project."""

    member: bool  # may write, and sees git information and the command
    read: bool
    project_exists: bool


#: seconds a statement waits for another connection's write before failing
BUSY_TIMEOUT = 30.0


class Accounts:
    """The accounts file of one server root; one connection per thread, one transaction per
    method."""

    def __init__(self, root: Path | str) -> None:
        self.path = Path(root) / ACCOUNTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # key hashes: nobody else's
        os.close(fd)
        self.path.chmod(0o600)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            self._local.db = db
        with db:  # one transaction: committed, or rolled back on an exception
            yield db

    # -- entities --------------------------------------------------------------------------
    def add_user(self, name: str) -> None:
        self._add_entity(name, "user")

    def add_team(self, name: str, members: list[str]) -> None:
        self._check_users(members)  # before the team exists: no half-made team
        self._add_entity(name, "team")
        self._insert_members(name, members)

    def _add_entity(self, name: str, kind: str) -> None:
        check_entity(name)
        with self._db() as db:
            row = db.execute("SELECT kind FROM entities WHERE name = ?", [name]).fetchone()
            if row is not None:
                raise ValueError(f"{row[0]} {name!r} already exists (users and teams share names)")
            db.execute("INSERT INTO entities VALUES (?, ?, ?)", [name, kind, time.time()])

    def add_members(self, team: str, users: list[str]) -> None:
        if self.kind(team) != "team":
            raise LookupError(f"no team {team!r}: create it with `flightlog server team add`")
        self._check_users(users)
        self._insert_members(team, users)

    def _check_users(self, users: list[str]) -> None:
        for u in users:
            if self.kind(u) != "user":
                raise LookupError(f"no user {u!r}: add it first with `flightlog server user add`")

    def _insert_members(self, team: str, users: list[str]) -> None:
        with self._db() as db:
            db.executemany(
                "INSERT OR IGNORE INTO members VALUES (?, ?)", [(team, u) for u in users]
            )

    def kind(self, entity: str) -> str | None:
        """'user', 'team', or None when there is no such entity."""
        with self._db() as db:
            row = db.execute("SELECT kind FROM entities WHERE name = ?", [entity]).fetchone()
        return row[0] if row else None

    def entities(self) -> list[tuple[str, str]]:
        with self._db() as db:
            return db.execute("SELECT name, kind FROM entities ORDER BY name").fetchall()

    def teams_of(self, user: str) -> list[str]:
        with self._db() as db:
            rows = db.execute(
                "SELECT team FROM members WHERE user = ? ORDER BY team", [user]
            ).fetchall()
        return [r[0] for r in rows]

    def is_member(self, user: str, entity: str) -> bool:
        """A user is a member of their own entity and of the teams they belong to."""
        if user == entity:
            return True
        with self._db() as db:
            row = db.execute(
                "SELECT 1 FROM members WHERE team = ? AND user = ?", [entity, user]
            ).fetchone()
        return row is not None

    # -- keys ------------------------------------------------------------------------------
    def create_key(self, user: str) -> str:
        """A new key for `user`, returned once; only its hash is kept."""
        self._check_users([user])
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._db() as db:
            db.execute(
                "INSERT INTO keys VALUES (?, ?, ?, ?)",
                [hash_key(key), user, key[: len(KEY_PREFIX) + 4], time.time()],
            )
        return key

    def user_for_key(self, key: str) -> str | None:
        return self.user_for_key_hash(hash_key(key))

    def user_for_key_hash(self, key_hash: str) -> str | None:
        """The user of a key known by its hash (a browser session keeps only the hash)."""
        with self._db() as db:
            row = db.execute("SELECT user FROM keys WHERE hash = ?", [key_hash]).fetchone()
        return row[0] if row else None

    def revoke_keys(self, user: str) -> int:
        with self._db() as db:
            return db.execute("DELETE FROM keys WHERE user = ?", [user]).rowcount

    # -- projects --------------------------------------------------------------------------
    def visibility(self, entity: str, project: str) -> str | None:
        with self._db() as db:
            row = db.execute(
                "SELECT visibility FROM projects WHERE entity = ? AND name = ?", [entity, project]
            ).fetchone()
        return row[0] if row else None

    def ensure_project(self, entity: str, project: str) -> None:
        """Create a project on first write; new projects are private."""
        with self._db() as db:
            db.execute(
                "INSERT OR IGNORE INTO projects VALUES (?, ?, 'private', ?)",
                [entity, project, time.time()],
            )

    def set_visibility(self, entity: str, project: str, visibility: str) -> None:
        if visibility not in VISIBILITIES:
            raise ValueError(f"unknown visibility {visibility!r}: use 'private' or 'open'")
        if self.kind(entity) is None:
            raise LookupError(f"no entity {entity!r}")
        with self._db() as db:
            db.execute(
                "INSERT INTO projects VALUES (?, ?, ?, ?) ON CONFLICT (entity, name) "
                "DO UPDATE SET visibility = excluded.visibility",
                [entity, project, visibility, time.time()],
            )

    def projects(self, entity: str) -> list[tuple[str, str]]:
        with self._db() as db:
            return db.execute(
                "SELECT name, visibility FROM projects WHERE entity = ? ORDER BY name", [entity]
            ).fetchall()

    def access(self, user: str, entity: str, project: str) -> Access:
        """Members read and write; anyone signed in reads an open project."""
        member = self.is_member(user, entity)
        vis = self.visibility(entity, project)
        return Access(member=member, read=member or vis == "open", project_exists=vis is not None)
