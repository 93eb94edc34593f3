"""A batch body's frames read back whole however the body arrives in chunks (sync/bodies.py
`_Buffered`, which hands the bytes on as slices of the chunks rather than copying them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.sync.bodies import _Buffered
from flightlog.sync.refused import Refused

FRAMES = st.lists(st.tuples(st.binary(max_size=40), st.binary(max_size=300)), max_size=8)


async def _chunks(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    at = 0
    for cut in sorted(c % (len(body) + 1) for c in cuts):
        if cut > at:
            yield body[at:cut]
            at = cut
    if at < len(body):
        yield body[at:]


async def _read(body: bytes, cuts: list[int]) -> list[tuple[bytes, bytes]]:
    buffered = _Buffered(_chunks(body, cuts))
    out = []
    while (header := await buffered.line(1024)) is not None:
        size = int(header.split(b" ")[-1])
        out.append((header, b"".join([bytes(p) async for p in buffered.take(size)])))
    return out


@settings(max_examples=300, deadline=None)
@given(FRAMES, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_frames_read_back_whole_whatever_the_chunks(frames, cuts):
    """Each frame: a header line naming its size, then that many bytes (any bytes,
    newlines too); the body cut anywhere, header lines included."""
    headers = [name.replace(b"\n", b"") + b" " + str(len(data)).encode() for name, data in frames]
    body = b"".join(h + b"\n" + data for h, (_, data) in zip(headers, frames, strict=True))
    got = asyncio.run(_read(body, cuts))
    assert got == [(h, data) for h, (_, data) in zip(headers, frames, strict=True)]


@given(st.binary(min_size=1, max_size=200), st.lists(st.integers(0, 500), max_size=10))
def test_a_body_cut_short_is_refused(data, cuts):
    """Fewer bytes than the header says: refused, never read short."""
    body = b"x " + str(len(data) + 1).encode() + b"\n" + data
    with pytest.raises(Refused, match="short of a segment"):
        asyncio.run(_read(body, cuts))
