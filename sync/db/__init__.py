"""The server's database: accounts and the run catalog, on SQLite (one machine) or PostgreSQL
(several replicas). `connect()` picks the backend from `--db`; `schema.upgrade()` brings it to
the current version; `Accounts` (sync/accounts.py) and `Catalog` (catalog.py) hold the SQL,
written once for both backends."""

from .drivers import Driver, connect

__all__ = ["Driver", "connect"]
