"""Two uploads of the same blob at once (runs sharing a requirements.txt or an empty
output.log, 8 clients syncing together): the upload that completes the blob places it and
drops its parts, while the other may still be reading its part back to check it. That read
found the part gone and the request failed with a 500 ("I/O error on PUT /blobs/...", and
the client's sync "1 failed": seen in test_server_load under load). The blob is stored, so
the slower upload is answered as done."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import httpx
import pytest

from .servers import app_in_thread

PATIENCE = 120.0


def test_a_part_dropped_by_the_upload_that_placed_the_blob_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from flightlog.sync import objstore
    from flightlog.sync.accounts import Accounts
    from flightlog.sync.server import create_app

    root = tmp_path / "server"
    accounts = Accounts(root)
    accounts.add_user("alice")
    auth = {"Authorization": f"Bearer {accounts.create_key('alice')}"}
    data = os.urandom(100_000)
    sha = hashlib.sha256(data).hexdigest()
    written, other_done = threading.Event(), threading.Event()
    real_sha256 = objstore.ObjectStore.sha256

    def late_read_back(self: objstore.ObjectStore, key: str) -> str:
        # the first upload has written its part; the second completes the blob meanwhile
        if key.startswith("blob_parts/") and not written.is_set():
            written.set()
            assert other_done.wait(PATIENCE)
        return real_sha256(self, key)

    monkeypatch.setattr(objstore.ObjectStore, "sha256", late_read_back)
    answers: dict[str, httpx.Response] = {}
    with app_in_thread(create_app(root)) as port:
        url = f"http://127.0.0.1:{port}/api/v1/blobs/alice/p/{sha}"

        def put(name: str) -> None:
            params = {"size": len(data), "offset": 0}
            answers[name] = httpx.put(
                url, params=params, content=data, headers=auth, timeout=PATIENCE
            )

        first = threading.Thread(target=put, args=("first",))
        first.start()
        try:
            assert written.wait(PATIENCE), "the first upload never read its part back"
            put("second")  # finds the part there, completes the blob, drops the parts
        finally:
            other_done.set()
        first.join(PATIENCE)
        assert answers["second"].status_code < 300, answers["second"].text
        assert answers["first"].status_code < 300, answers["first"].text
        assert answers["first"].json()["offset"] == len(data)
        got = httpx.get(url, headers=auth, timeout=PATIENCE)
        assert got.status_code == 200 and got.content == data
        assert not list((root / "blob_parts").glob("*")), "a part left behind"
