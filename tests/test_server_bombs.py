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


@pytest.fixture
def server(tmp_path: Path):
    srv = LiveServer(tmp_path / "server").start()
    yield srv
    srv.stop()


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
