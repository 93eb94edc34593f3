"""Decompression bombs: a segment that decodes to far more than it weighs is refused from its
footer, or while it is read a batch at a time, without the server's memory growing; a large
honest segment is accepted within the same bound."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials

from .servers import LiveServer, segment_file, store_tree, tidy_table

pytestmark = pytest.mark.slow

#: what one request may add to the server's peak resident memory (README: "Limits")
RSS_BOUND_MB = 64


def _prepared(server: LiveServer, tmp_path: Path) -> tuple[dict[str, str], str]:
    key = server.user("alice")
    c = ServerClient(Credentials(server.url, key, "file"), retries=0)
    with c:
        c.put_run("alice", "p", "r1", {"id": "r1"}, [])
        # warm up every code path of an upload (imports, pools) before measuring
        small = segment_file(tmp_path / "warm", tidy_table(1000), seq=1)
        assert c.put_segment("alice", "p", "r1", "history", small)
    return {"Authorization": f"Bearer {key}"}, f"{server.url}/api/v1/runs/alice/p/r1"


def _upload(server: LiveServer, headers: dict[str, str], url: str, path: Path):
    before = server.reset_peak()
    r = httpx.put(
        f"{url}/segments/history/{path.name}",
        content=path.read_bytes(),
        headers=headers,
        timeout=120,
    )
    grew = server.peak_mb() - before
    print(
        f"{path.stat().st_size / 1e6:.2f} MB upload: HTTP {r.status_code}, peak RSS +{grew:.1f} MB"
    )
    return r, grew


def test_twenty_million_constant_rows_are_refused_from_the_footer(
    server: LiveServer, tmp_path: Path
):
    headers, url = _prepared(server, tmp_path)
    t = tidy_table(1)  # one row, repeated: every column constant
    chunk = pa.table([pa.repeat(c[0], 1_000_000) for c in t.columns], schema=t.schema)
    bomb = segment_file(tmp_path / "bomb", (chunk for _ in range(20)), seq=2)
    assert bomb.stat().st_size < 2_000_000  # ~400 KB on the wire for 20M rows
    tree = store_tree(server.root)
    r, grew = _upload(server, headers, url, bomb)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "segment_too_large"
    assert "20,000,000 rows" in r.json()["message"] and "--max-segment-rows" in r.json()["message"]
    assert grew < RSS_BOUND_MB, f"server peak RSS grew by {grew:.0f} MB"
    assert store_tree(server.root) == tree


def test_a_string_repeated_millions_of_times_is_refused_without_expanding_it(
    server: LiveServer, tmp_path: Path
):
    """3M rows (under the row limit) whose text is one 2 KB string: 6 GB once decoded, a few
    KB as a Parquet dictionary; refused while it is read a batch at a time."""
    headers, url = _prepared(server, tmp_path)
    t = tidy_table(1, kind=3, text="x" * 2048)
    n = 500_000
    # the strings as one-entry dictionaries: built without materialising 6 GB here either
    zeros = pa.array(np.zeros(n, np.int32))
    cols = [
        pa.DictionaryArray.from_arrays(zeros, c) if c.type == pa.string() else pa.repeat(c[0], n)
        for c in t.columns
    ]
    chunk = pa.table(cols, names=t.schema.names)
    bomb = segment_file(tmp_path / "bomb", [chunk] * 6, seq=2, store_schema=False)
    assert bomb.stat().st_size < 1_000_000
    tree = store_tree(server.root)
    r, grew = _upload(server, headers, url, bomb)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "segment_too_large" and "bytes of text" in r.json()["message"]
    assert grew < RSS_BOUND_MB, f"server peak RSS grew by {grew:.0f} MB"
    assert store_tree(server.root) == tree


def test_a_large_honest_segment_is_accepted_within_the_memory_bound(
    server: LiveServer, tmp_path: Path
):
    """2M values (four times what a writer seals by default), checked with bounded memory."""
    headers, url = _prepared(server, tmp_path)
    seg = segment_file(
        tmp_path / "big",
        (tidy_table(32_768, ("loss", "acc", "lr", "gn"), start=i * 32_768) for i in range(16)),
        seq=2,
    )  # row groups of 131,072 values, as a writer seals them
    r, grew = _upload(server, headers, url, seg)
    assert r.status_code == 201, r.text
    assert grew < RSS_BOUND_MB, f"server peak RSS grew by {grew:.0f} MB"
    assert (server.root / "runs" / "@alice/p" / "r1" / "history" / seg.name).exists()


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


@pytest.mark.parametrize(
    ("claim", "status", "code"),
    [(100 * 2**20, 413, "segment_too_large"), (30 * 2**20, 400, "not_parquet")],
)
def test_a_page_header_that_claims_more_than_its_footer_is_refused_before_decoding(
    server: LiveServer, tmp_path: Path, claim: int, status: int, code: str
):
    """A page header states the buffer its page is decompressed into; one that claims more
    than the footer declares (or than a page may hold) is refused before any page is read."""
    headers, url = _prepared(server, tmp_path)
    honest = segment_file(tmp_path / "honest", tidy_table(200_000), seq=2)
    data = bytearray(honest.read_bytes())
    # the steps' dictionary page: 131,072 int64s, 1 MB (pyarrow's dictionary page limit)
    at = pq.read_metadata(honest).row_group(0).column(0).dictionary_page_offset
    assert data[at : at + 3] == b"\x15\x04\x15"  # PageHeader: type 2, then its size
    size = sum((b & 0x7F) << (7 * i) for i, b in enumerate(data[at + 3 : at + 7])) // 2
    assert 2**20 <= size < 2**21 and data[at + 6] < 0x80  # a 4-byte varint (zigzag: 2n)
    data[at + 3 : at + 7] = _varint(2 * claim)
    liar = tmp_path / f"w1-000002-{hashlib.sha256(data).hexdigest()}.parquet"
    liar.write_bytes(data)
    tree = store_tree(server.root)
    r, grew = _upload(server, headers, url, liar)
    assert (r.status_code, r.json()["error"]) == (status, code), r.text
    assert grew < RSS_BOUND_MB
    assert store_tree(server.root) == tree


def test_many_run_frames_in_one_body_are_not_held_in_memory(server: LiveServer, tmp_path: Path):
    """A run's sync request holds its run.json frame in memory (it is read, never stored);
    a body of a hundred such frames of almost a MB each is refused - one run per request -
    and was never all in memory: past a MB, they go to temp files like segments."""
    headers, url = _prepared(server, tmp_path)
    frame = b'{"stream": "run", "name": "run.json", "size": %d}\n' % (2**20 - 1)
    body = (frame + b" " * (2**20 - 1)) * 100
    before = server.reset_peak()
    r = httpx.post(
        f"{url}/sync",
        content=body,
        headers={**headers, "Content-Type": "application/x-flightlog-segments"},
        timeout=300,
    )
    grew = server.peak_mb() - before
    print(f"100 run frames of 1 MB: HTTP {r.status_code}, peak RSS +{grew:.1f} MB")
    assert r.status_code == 400 and "only the first frame may be the run" in r.text
    assert grew < RSS_BOUND_MB, f"server peak RSS grew by {grew:.0f} MB"
    assert list((server.root / ".uploads").iterdir()) == []


def test_segment_checks_at_once_are_bounded_across_every_upload_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """README's "2 segment checks at once" (limits.concurrent_checks) holds for the server,
    not per route: a segment PUT, a batch, a run's sync and a project's sync arriving together
    check at most 2 segments at once (each route had its own 2: 4 here, 8 at most, each check
    holding up to a row group in memory)."""
    import threading

    from flightlog.sync import receive
    from flightlog.sync.accounts import Accounts
    from flightlog.sync.frames import BATCH_TYPE, frame_header
    from flightlog.sync.server import create_app

    from .servers import app_in_thread

    root = tmp_path / "server"
    accounts = Accounts(root)
    accounts.add_user("alice")
    auth = {"Authorization": f"Bearer {accounts.create_key('alice')}"}
    inside = most = 0
    lock, crowded = threading.Lock(), threading.Event()
    real = receive.check_segment_file

    def counted(*args: object) -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
            if inside > 2:
                crowded.set()
        crowded.wait(10)  # room for more checks to come in, if the server lets them
        try:
            real(*args)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(receive, "check_segment_file", counted)
    with app_in_thread(create_app(root)) as port:
        url = f"http://127.0.0.1:{port}/api/v1"
        seg = segment_file(tmp_path / "a", tidy_table(10), seq=1)
        framed = frame_header("history", seg) + seg.read_bytes()
        meta = b'{"meta": {"id": "%s"}, "writers": []}'

        def run_frame(name: str, run_id: str) -> bytes:
            doc = meta % run_id.encode()
            return (
                b'{"stream": "run", "name": "%s", "size": %d}\n' % (name.encode(), len(doc)) + doc
            )

        for run_id in ("r1", "r2"):
            r = httpx.put(
                f"{url}/runs/alice/p/{run_id}", content=meta % run_id.encode(), headers=auth
            )
            assert r.status_code == 201, r.text
        batch = {**auth, "Content-Type": BATCH_TYPE}
        requests = [
            ("PUT", f"/runs/alice/p/r1/segments/history/{seg.name}", seg.read_bytes(), auth),
            ("POST", "/runs/alice/p/r2/segments", framed, batch),
            ("POST", "/runs/alice/p/r3/sync", run_frame("run.json", "r3") + framed, batch),
            ("POST", "/sync/alice/p", run_frame("r4/run.json", "r4") + framed, batch),
        ]
        answers: list[int] = []

        def send(method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
            r = httpx.request(method, url + path, content=body, headers=headers, timeout=120)
            answers.append(r.status_code)

        senders = [threading.Thread(target=send, args=req) for req in requests]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        assert sorted(answers) == [200, 200, 201, 201], answers
        assert sorted(p.name for p in (root / "runs/@alice/p").iterdir()) == [
            "r1",
            "r2",
            "r3",
            "r4",
        ]
        assert all((root / f"runs/@alice/p/r{i}/history" / seg.name).exists() for i in range(1, 5))
        assert most <= 2, f"{most} segment checks at once"
