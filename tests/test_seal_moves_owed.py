"""A shorter seal replaced by a longer one stays owed a move out of the bucket's Hive tree
(the catalog's `seal_moves`, sync/db/catalog.py) until the move is done: when it failed
(or its replica died between the record and the move) and the client never sent that
upload again, the writer's next upload or a replica's start moves it, so a direct reader
of the bucket (README "Beyond one machine") counts its rows once. Two replicas share a
catalog - SQLite, and PostgreSQL as a database made by the previous flightlog (schema
version 3) upgraded on start - and a bucket on a local directory (S3's layout and moves);
the move fails as a real filesystem does: a file stands where `superseded/` must be made."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flightlog.sync.accounts import Accounts
from flightlog.sync.db.catalog import Catalog
from flightlog.sync.db.drivers import Driver, PostgresDriver, SqliteDriver
from flightlog.sync.limits import ServerLimits
from flightlog.sync.objstore import ObjectStore
from flightlog.sync.shared_store import SharedStore, open_store
from tests.scale_services import Postgres, postgres  # noqa: F401
from tests.servers import segment_file, tidy_table
from tests.test_server_seal_retirement import in_tree, shorter_stored, upload

Connect = Callable[[], Driver]


@pytest.fixture(params=["sqlite", "postgresql"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Connect]:
    """A new connection to the replicas' shared database, its tables made (PostgreSQL: a
    database the previous flightlog made, upgraded by the first replica's start)."""
    opened: list[Driver] = []
    if request.param == "sqlite":
        db = tmp_path / "server-db" / "accounts.sqlite"
        Accounts(db.parent)

        def new() -> Driver:
            opened.append(SqliteDriver(db))
            return opened[-1]
    else:
        pg: Postgres = request.getfixturevalue("postgres")
        url = pg.new_database()
        old = Accounts(db=url)
        with old.driver.tx() as tx:  # as the previous flightlog left it: schema version 3
            tx.execute("DROP TABLE seal_moves")
            tx.execute("DELETE FROM flightlog_schema WHERE version = 4")
        old.driver.close()
        Accounts(db=url).driver.close()  # a replica's start upgrades it

        def new() -> Driver:
            opened.append(PostgresDriver(url, pool=2))
            return opened[-1]

    yield new
    for driver in opened:
        driver.close()


def replica(root: Path, bucket: Path, connect: Connect) -> SharedStore:
    return SharedStore(root, ServerLimits(), ObjectStore.from_uri(str(bucket)), Catalog(connect()))


@pytest.fixture
def failed(tmp_path: Path, connect: Connect) -> tuple[Path, SharedStore, Path]:
    """(the bucket, replica a, the shorter seal): the shorter stored through a, the longer
    recorded through b, whose move of the shorter failed (a 5xx no client sent again)."""
    bucket = tmp_path / "bucket"
    a, b = (replica(tmp_path / name, bucket, connect) for name in ("a", "b"))
    short, long = shorter_stored(tmp_path, a)
    (bucket / "superseded").write_text("in the way")
    with pytest.raises(OSError):
        upload(b, long)  # recorded, then its move failed: answered 5xx
    assert [r.name for r in a.catalog.segments("alice", "p", "r1")] == [long.name]
    assert in_tree(bucket, short) and in_tree(bucket, long)  # every row still in the tree
    (bucket / "superseded").unlink()
    return bucket, a, short


def test_the_writers_next_upload_moves_a_replaced_seal_left_in_the_tree(
    failed: tuple[Path, SharedStore, Path], tmp_path: Path
) -> None:
    bucket, a, short = failed
    later = segment_file(tmp_path / "job", tidy_table(100, start=3000), seq=2)
    assert upload(a, later) is True
    assert not in_tree(bucket, short) and in_tree(bucket, later)
    assert (bucket / ObjectStore.superseded_key(_key(short))).is_file()


def test_a_replicas_start_moves_a_replaced_seal_left_in_the_tree(
    failed: tuple[Path, SharedStore, Path], tmp_path: Path, connect: Connect
) -> None:
    bucket, a, short = failed
    open_store(tmp_path / "c", ServerLimits(), str(bucket), Catalog(connect()))
    assert not in_tree(bucket, short)
    assert (bucket / ObjectStore.superseded_key(_key(short))).is_file()
    a.fetch_segments("alice", "p", "r1")  # the replicas still read it all
    [long] = a.catalog.segments("alice", "p", "r1")
    assert (a.paths("alice", "p", "r1").history / long.name).is_file()


def _key(seal: Path) -> str:
    return ObjectStore.segment_key("alice", "p", "r1", "history", seal.name)


def test_a_move_that_keeps_failing_holds_back_no_upload_of_the_writer(
    failed: tuple[Path, SharedStore, Path], tmp_path: Path
) -> None:
    bucket, a, short = failed
    (bucket / "superseded").write_text("still in the way")
    later = segment_file(tmp_path / "job", tidy_table(100, start=3000), seq=2)
    assert upload(a, later) is True  # stored and recorded; the move stays owed
    assert in_tree(bucket, short) and in_tree(bucket, later)
    (bucket / "superseded").unlink()
    assert upload(a, later) is False  # the client's retry, or any later upload: moved now
    assert not in_tree(bucket, short)
