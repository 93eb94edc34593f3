"""The server's accounts: users, teams, API keys and projects, in its database (sync/db/).

SQLite by default (`root/accounts.sqlite`, not the DuckDB index: the admin commands write
while the server runs, and SQLite lets several processes do that safely; WAL, a 30 s busy
timeout, a connection per thread), PostgreSQL with `--db postgresql://...` when several
replicas share the accounts. The SQL below is the same for both.
Keys are stored as their sha256 only: a key is 32 random bytes, so a plain hash cannot be
brute-forced, and a leaked accounts table gives no usable key; `keys()` lists the short
prefix kept to tell keys apart, never a key. Users and teams share one namespace: entities.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from .db import Driver, connect
from .db.drivers import Conn
from .db.schema import upgrade

ACCOUNTS_FILE = "accounts.sqlite"
KEY_PREFIX = "flk_"
VISIBILITIES = ("private", "open")

#: entities are lowercase and never contain '.', which separates entity and project on disk
_ENTITY_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


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


class Accounts:
    """The accounts of one server: in `root/accounts.sqlite`, or the PostgreSQL database `db`
    (a URL). One transaction per method."""

    def __init__(
        self,
        root: Path | str | None = None,
        db: str | None = None,
        *,
        driver: Driver | None = None,
        pool: int = 8,
    ) -> None:
        if driver is None:
            if root is None and db is None:
                raise ValueError("accounts need --root DIR or --db postgresql://...")
            driver = connect(db, root or ".", pool=pool, filename=ACCOUNTS_FILE)
        self.driver = driver
        upgrade(driver)

    def _db(self) -> AbstractContextManager[Conn]:
        return self.driver.tx()

    # -- entities --------------------------------------------------------------------------
    def add_user(self, name: str, reclaim: bool = False) -> None:
        """`reclaim`: take the projects a removed entity left under `name` (`left_behind`)."""
        self._add_entity(name, "user", reclaim)

    def add_team(self, name: str, members: list[str], reclaim: bool = False) -> None:
        self._check_users(members)  # before the team exists: no half-made team
        self._add_entity(name, "team", reclaim)
        self._insert_members(name, members)

    def _add_entity(self, name: str, kind: str, reclaim: bool) -> None:
        check_entity(name)
        with self._db() as db:
            row = db.execute("SELECT kind FROM entities WHERE name = ?", [name]).fetchone()
            if row is not None:
                raise ValueError(f"{row[0]} {name!r} already exists (users and teams share names)")
            left = [] if reclaim else _left_behind(db, name)
            if left:
                more = f" and {len(left) - 5} more" if len(left) > 5 else ""
                shown = ", ".join(left[:5]) + more
                raise ValueError(
                    f"a removed user or team left {len(left)} project(s) under the name "
                    f"{name!r} ({shown}), private ones included: pass --reclaim to give them "
                    f"to the new {kind} (the same {kind} again), or pick another name"
                )
            db.execute("INSERT INTO entities VALUES (?, ?, ?)", [name, kind, time.time()])

    def left_behind(self, name: str) -> list[str]:
        """The projects stored under `name`: while no entity has the name, a removed one's
        (what `--reclaim` gives); once one has it, that entity's own."""
        with self._db() as db:
            return _left_behind(db, name)

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
            for u in users:
                db.execute("INSERT INTO members VALUES (?, ?) ON CONFLICT DO NOTHING", [team, u])

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
                'SELECT team FROM members WHERE "user" = ? ORDER BY team', [user]
            ).fetchall()
        return [r[0] for r in rows]

    def is_member(self, user: str, entity: str) -> bool:
        """A user is a member of their own entity and of the teams they belong to."""
        if user == entity:
            return True
        with self._db() as db:
            row = db.execute(
                'SELECT 1 FROM members WHERE team = ? AND "user" = ?', [entity, user]
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
        with self._db() as db:
            row = db.execute('SELECT "user" FROM keys WHERE hash = ?', [hash_key(key)]).fetchone()
        return row[0] if row else None

    def revoke_keys(self, user: str) -> int:
        """Revoke every key of `user`; how many. A name that is no user is an error, not
        "0 keys": an admin revoking a leaked key must not read a typo as done."""
        if self.kind(user) != "user":
            raise LookupError(f"no user {user!r}: `flightlog server user list` lists them")
        with self._db() as db:
            return db.execute('DELETE FROM keys WHERE "user" = ?', [user]).rowcount

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
                "INSERT INTO projects VALUES (?, ?, 'private', ?) ON CONFLICT DO NOTHING",
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

    # -- administration (`flightlog server user list` ...) ---------------------------------
    def users(self) -> list[tuple[str, list[str], int]]:
        """Every user with their teams and how many keys they hold."""
        with self._db() as db:
            names = [
                r[0]
                for r in db.execute(
                    "SELECT name FROM entities WHERE kind = 'user' ORDER BY name"
                ).fetchall()
            ]
            keys = dict(db.execute('SELECT "user", count(*) FROM keys GROUP BY "user"').fetchall())
        return [(n, self.teams_of(n), int(keys.get(n, 0))) for n in names]

    def remove_user(self, name: str) -> int:
        """Remove a user, their keys, browser sessions and memberships (their runs stay in
        the store, readable by the teams they shared; a user or team added under the name
        later gets them only when asked to, see `add_user`); return how many keys were
        revoked."""
        if self.kind(name) != "user":
            raise LookupError(f"no user {name!r}: `flightlog server user list` lists them")
        with self._db() as db:
            n = db.execute('DELETE FROM keys WHERE "user" = ?', [name]).rowcount
            db.execute('DELETE FROM sessions WHERE "user" = ?', [name])
            db.execute('DELETE FROM members WHERE "user" = ?', [name])
            db.execute("DELETE FROM entities WHERE name = ?", [name])
        return n

    def remove_team(self, name: str) -> int:
        """Remove a team and its memberships (its runs stay in the store, as a removed
        user's do); return how many members it had."""
        if self.kind(name) != "team":
            raise LookupError(f"no team {name!r}: `flightlog server team list` lists them")
        with self._db() as db:
            n = db.execute("DELETE FROM members WHERE team = ?", [name]).rowcount
            db.execute("DELETE FROM entities WHERE name = ?", [name])
        return n

    def teams(self) -> list[tuple[str, list[str]]]:
        """Every team with its members."""
        with self._db() as db:
            names = [
                r[0]
                for r in db.execute(
                    "SELECT name FROM entities WHERE kind = 'team' ORDER BY name"
                ).fetchall()
            ]
            rows = db.execute('SELECT team, "user" FROM members ORDER BY team, "user"').fetchall()
        members: dict[str, list[str]] = {n: [] for n in names}
        for team, user in rows:
            members.setdefault(team, []).append(user)
        return [(n, members[n]) for n in names]

    def remove_member(self, team: str, user: str) -> None:
        if self.kind(team) != "team":
            raise LookupError(f"no team {team!r}: `flightlog server team list` lists them")
        with self._db() as db:
            gone = db.execute(
                'DELETE FROM members WHERE team = ? AND "user" = ?', [team, user]
            ).rowcount
        if not gone:
            raise LookupError(f"{user!r} is not a member of team {team!r}")

    def keys(self, user: str | None = None) -> list[tuple[str, str, float]]:
        """(user, prefix, created) of every key, or of one user's: the prefix kept when the
        key was made (`flk_` and 4 characters), never the key, which is not stored."""
        sql = 'SELECT "user", hint, created FROM keys'
        with self._db() as db:
            if user is None:
                rows = db.execute(sql + ' ORDER BY "user", created').fetchall()
            else:
                rows = db.execute(sql + ' WHERE "user" = ? ORDER BY created', [user]).fetchall()
        return [(u, h or "", float(c or 0)) for u, h, c in rows]


def _left_behind(db: Conn, name: str) -> list[str]:
    """Projects stored under the entity name `name`: its projects' rows (made on a project's
    first write) and the replicas' run catalog. Under a removed entity's name they are that
    entity's, private ones too: a new entity of that name must not read them unasked."""
    rows = db.execute(
        "SELECT name FROM projects WHERE entity = ? UNION SELECT project FROM runs "
        "WHERE entity = ? ORDER BY 1",
        [name, name],
    ).fetchall()
    return [r[0] for r in rows]
