"""Two runs holding the same file upload its blob at once (8 clients of a load test sharing a
requirements.txt). One finishes and places the blob, dropping the upload's parts, between
the other's part being kept and its offset read back: the other was told the server kept 0
bytes after its part at 0, and its sync gave up ("the upload makes no progress"), seen in a
full suite under load. The interleaving is forced here on a real server store (SQLite, the
root's files): the slower upload learns the blob is stored."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from flightlog.sync.blob_receive import BlobReceiver
from flightlog.sync.db.blob_table import BlobTable
from flightlog.sync.db.drivers import connect
from flightlog.sync.db.schema import upgrade
from flightlog.sync.objstore import ObjectStore


def _part(tmp: Path, name: str, data: bytes) -> tuple[Path, str]:
    path = tmp / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_an_upload_whose_blob_another_placed_meanwhile_learns_it_is_stored(tmp_path: Path):
    root = tmp_path / "server"
    root.mkdir()
    driver = connect(None, root, filename="accounts.db")
    upgrade(driver)
    table = BlobTable(driver)
    blobs = BlobReceiver(ObjectStore.from_uri(str(root)), table, root)
    data = os.urandom(300_000)
    sha, size, half = hashlib.sha256(data).hexdigest(), len(data), len(data) // 2
    real_add = table.add_part
    raced = []

    def the_other_upload_overtakes(*args: object) -> bool:
        if raced:  # (the other upload's own calls)
            return real_add(*args)
        raced.append(True)  # both sent part 0; the other's is recorded first, then its end
        head, digest = _part(tmp_path, "fast-0", data[:half])
        assert blobs.put_part("alice", "p", sha, size, 0, head, digest)["offset"] == half
        kept = real_add(*args)
        tail, digest = _part(tmp_path, "fast-1", data[half:])
        assert blobs.put_part("alice", "p", sha, size, half, tail, digest)["stored"]
        return kept

    table.add_part = the_other_upload_overtakes  # type: ignore[method-assign]
    slow, digest = _part(tmp_path, "slow-0", data[:half])
    answer = blobs.put_part("alice", "p", sha, size, 0, slow, digest)
    assert raced and answer["offset"] == size, answer
    assert blobs.holds("alice", "p", sha)
