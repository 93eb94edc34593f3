"""Two database drivers behind one small interface, so the accounts and the catalog are written
once: a transaction (`with driver.tx() as db: db.execute(sql, params)`) and a health check.

SQL is written with `?` placeholders and the subset both dialects share (`INSERT ... ON
CONFLICT`, `TEXT`, `BIGINT`, `DOUBLE PRECISION`); the PostgreSQL driver turns `?` into psycopg's
`%s`. SQLite keeps a connection per thread (WAL, 30 s busy timeout, as before); PostgreSQL
connections come from a psycopg_pool pool shared by the server's threads, bounded by `pool`,
so N replicas hold at most N x pool connections.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

#: seconds a statement waits for another connection's write (SQLite) or for a pooled
#: connection (PostgreSQL) before failing
BUSY_TIMEOUT = 30.0
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Sequence[Any] | None: ...
    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class Driver(Protocol):
    """One database: `dialect` is 'sqlite' or 'postgresql'."""

    dialect: str
    where: str  # for messages: a path, or a URL without its password

    def tx(self, *, lock: bool = False) -> Any:
        """A context manager: one transaction, committed at the end or rolled back on an
        exception. `lock` takes the write lock at once (SQLite's BEGIN IMMEDIATE)."""
        ...

    def connections(self) -> dict[str, int]: ...
    def close(self) -> None: ...


class SqliteDriver:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # key hashes: nobody else's
        os.close(fd)
        path.chmod(0o600)
        self._local = threading.local()
        self._opened = 0
        self._connection().execute("PRAGMA journal_mode=WAL")  # outside a transaction

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            self._local.db = db
            self._opened += 1
        return db

    @contextmanager
    def tx(self, *, lock: bool = False) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        if db.in_transaction:  # nested: the outer transaction decides
            yield db
            return
        db.execute("BEGIN IMMEDIATE" if lock else "BEGIN")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def connections(self) -> dict[str, int]:
        return {"open": self._opened, "in_use": 0}

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class _PgConn:
    """A psycopg connection that takes `?` placeholders."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(sql.replace("?", "%s"), params or None)


class PostgresDriver:
    dialect = "postgresql"

    def __init__(self, url: str, pool: int = 8) -> None:
        try:
            import psycopg  # noqa: F401
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ValueError(
                "--db postgresql://... needs psycopg 3 and psycopg_pool: "
                "pip install 'flightlog[server-scale]'"
            ) from None
        self.where = _without_password(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool),
            timeout=BUSY_TIMEOUT,
            open=False,
            name="flightlog",
        )
        try:
            self._pool.open(wait=True, timeout=BUSY_TIMEOUT)
        except Exception as e:
            self._pool.close()
            raise ValueError(f"cannot connect to the database {self.where}: {e}") from None

    @contextmanager
    def tx(self, *, lock: bool = False) -> Iterator[_PgConn]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PgConn(conn)

    def connections(self) -> dict[str, int]:
        s = self._pool.get_stats()
        size = s.get("pool_size", 0)
        return {"open": size, "in_use": size - s.get("pool_available", 0)}

    def close(self) -> None:
        self._pool.close()


def connect(db: str | None, root: Path | str, *, pool: int = 8, filename: str) -> Driver:
    """The database `--db` names: a PostgreSQL URL, or None for `root/filename` (SQLite)."""
    if db is None:
        return SqliteDriver(Path(root) / filename)
    if db.startswith(POSTGRES_SCHEMES):
        return PostgresDriver(db, pool)
    raise ValueError(
        f"unknown database {_without_password(db)!r}: pass --db postgresql://USER@HOST/NAME, "
        "or leave --db out for the SQLite file in --root"
    )


def _without_password(url: str) -> str:
    """A URL as it may be printed: user:password@ becomes user@."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    cred, _, host = rest.rpartition("@")
    return f"{scheme}://{cred.partition(':')[0]}@{host}"
