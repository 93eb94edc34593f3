"""Request bodies the uploader streams from segment files: a segment alone, or a batch of
them - of one run or of several, each run's after its run frame - framed (sync/bodies.py
reads it: a JSON header line `{"stream", "name", "size"}`, then the bytes), read a MB at a
time so an upload holds one chunk whatever the files' sizes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from flightlog.store.atomic import dumps

#: the media type of a batch of segments (sync/bodies.py reads it)
BATCH_TYPE = "application/x-flightlog-segments"
#: bytes read from a segment file at a time while it is sent
READ_CHUNK = 1024 * 1024


def file_chunks(path: Path) -> Iterator[bytes]:
    """A file's bytes a MB at a time: an upload holds one chunk, whatever the file's size."""
    with open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            yield chunk


def frame_header(stream: str, path: Path) -> bytes:
    """The line that introduces a segment in a batch body."""
    doc = {"stream": stream, "name": path.name, "size": path.stat().st_size}
    return dumps(doc, indent=None) + b"\n"


def runs_body(
    runs: list[tuple[bytes, list[tuple[str, Path]]]],
) -> tuple[int, Callable[[], Iterator[bytes]]]:
    """For each of `runs`, its first bytes (a run frame, or nothing) then a frame per
    (stream, segment file): the body's length, and a function that streams it afresh."""
    framed = [(first, [(frame_header(s, p), p) for s, p in items]) for first, items in runs]
    total = sum(len(f) + sum(len(h) + p.stat().st_size for h, p in fs) for f, fs in framed)

    def body() -> Iterator[bytes]:
        for first, frames in framed:
            yield first
            for header, path in frames:
                yield header
                yield from file_chunks(path)

    return total, body
