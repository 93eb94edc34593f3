"""The page headers of a Parquet column chunk, read without decoding any page.

A footer's sizes are only what the writer says. The sizes a reader actually allocates come
from each page's header: `uncompressed_page_size` is the buffer a page is decompressed into.
So before a segment is decoded, every page header is read and its sizes checked against the
footer and a per-page cap - a file that lies in its footer is caught here, before pyarrow
trusts it.

Page headers are Thrift structs in the compact protocol: PageHeader starts with the
required fields 1 type, 2 uncompressed_page_size and 3 compressed_page_size; the rest is
skipped field by field, which gives the header's length.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from typing import Any

Buffer = bytes | memoryview | mmap.mmap

#: a page header is tens of bytes (plus statistics); a longer one is not a page header
MAX_HEADER = 64 * 1024
_BOOL_TRUE, _BOOL_FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY = range(1, 9)
_LIST, _SET, _MAP, _STRUCT = 9, 10, 11, 12


class BadPage(ValueError):
    """A page header that cannot be read, or does not fit its column chunk."""


class _Reader:
    """A cursor over `data` (the mapped file) that may not pass `end`. Hot: one call per
    byte of every page header, so locals rather than attribute lookups in the loops."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: Buffer, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def byte(self) -> int:
        pos = self.pos
        if pos >= self.end:
            raise BadPage("page header runs past its end")
        self.pos = pos + 1
        return self.data[pos]

    def varint(self) -> int:
        data, pos, end = self.data, self.pos, self.end
        out = shift = 0
        while True:
            if pos >= end:
                raise BadPage("page header runs past its end")
            b = data[pos]
            pos += 1
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                self.pos = pos
                return out
            shift += 7
            if shift > 63:
                raise BadPage("varint too long in a page header")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def skip(self, kind: int, depth: int = 0) -> None:
        if depth > 16:
            raise BadPage("page header nested too deeply")
        if kind in (_BOOL_TRUE, _BOOL_FALSE):
            return
        if kind == _BYTE:
            self.byte()
        elif kind in (_I16, _I32, _I64):
            self.varint()
        elif kind == _DOUBLE:
            self.pos += 8
        elif kind == _BINARY:
            size = self.varint()  # (not `self.pos += self.varint()`: pos is read first)
            self.pos += size
        elif kind in (_LIST, _SET):
            head = self.byte()
            size, elem = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            for _ in range(size):
                self.byte() if elem in (_BOOL_TRUE, _BOOL_FALSE) else self.skip(elem, depth + 1)
        elif kind == _MAP:
            size = self.varint()
            if size:
                types = self.byte()
                for _ in range(size):
                    self.skip(types >> 4, depth + 1)
                    self.skip(types & 0x0F, depth + 1)
        elif kind == _STRUCT:
            self.struct(depth + 1)
        else:
            raise BadPage(f"unknown Thrift type {kind} in a page header")
        if self.pos > self.end:
            raise BadPage("page header runs past its end")

    def struct(self, depth: int = 0, want: tuple[int, ...] = ()) -> dict[int, int]:
        """Skip a struct; return the integer fields numbered in `want`."""
        found: dict[int, int] = {}
        field = 0
        while True:
            head = self.byte()
            if head == 0:
                return found
            delta, kind = head >> 4, head & 0x0F
            field = field + delta if delta else self.zigzag()
            if field in want and kind in (_I16, _I32, _I64):
                found[field] = self.zigzag()
            else:
                self.skip(kind, depth)


def page_sizes(data: Buffer, start: int, length: int) -> Iterator[tuple[int, int]]:
    """(uncompressed, compressed) size of each page of the column chunk at `start` spanning
    `length` bytes of `data` (the whole file, mapped: no read or copy per page); BadPage if
    the chunk is not inside the file or the headers do not tile it exactly."""
    pos, end = start, start + length
    if start < 0 or length < 0 or end > len(data):
        raise BadPage("a column chunk lies outside the file")
    while pos < end:
        r = _Reader(data, pos, min(pos + MAX_HEADER, end))
        fields = r.struct(want=(2, 3))
        if 2 not in fields or 3 not in fields:
            raise BadPage("a page header without its sizes")
        uncompressed, compressed = fields[2], fields[3]
        if uncompressed < 0 or compressed < 0:
            raise BadPage("a page header with a negative size")
        yield uncompressed, compressed
        pos = r.pos + compressed
    if pos != end:
        raise BadPage("the pages run past their column chunk")


def chunk_pages(data: Buffer, column: Any) -> Iterator[tuple[int, int]]:
    """`page_sizes` of a column chunk (its footer's `ColumnChunkMetaData`), from its
    dictionary page if it has one."""
    start = column.data_page_offset
    if column.has_dictionary_page and 0 < (column.dictionary_page_offset or 0) < start:
        start = column.dictionary_page_offset
    return page_sizes(data, start, column.total_compressed_size)
