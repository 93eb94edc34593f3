"""Reading wandb's `.wandb` transaction log without the wandb package.

The file is a LevelDB-style log: a 7-byte header (":W&B", magic 0xBEE1, version 0), then
32 KiB blocks of records, each `crc32 (LE u32) | length (LE u16) | type (u8) | data`, a
record split across blocks as FIRST/MIDDLE/LAST pieces. The crc is zlib's crc32 of the data
seeded with the crc32 of the type byte. Each record's data is one protobuf `Record`
(wandb_internal.proto); the few fields an import needs are decoded here from the wire format
with their field numbers, so neither wandb nor protobuf is needed.

A torn tail (a run killed mid-write) ends the reading at the last whole record: `read()`
reports how many bytes it could not use.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_SEEDS = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}

#: Record's fields (wandb_internal.proto) that an import reads
HISTORY, SUMMARY, OUTPUT, CONFIG, FILES, STATS, RUN, EXIT, OUTPUT_RAW = 2, 3, 4, 5, 6, 7, 17, 18, 13


class NotAWandbFile(ValueError):
    """The file does not start with wandb's transaction-log header."""


def frames(data: bytes) -> tuple[list[bytes], int]:
    """The whole records of a .wandb file's bytes, and the number of bytes left unread at the
    end (0 for a file that ends cleanly)."""
    if not data.startswith(HEADER):
        raise NotAWandbFile("not a wandb transaction log (no ':W&B' header)")
    out: list[bytes] = []
    pos, pending = len(HEADER), b""
    good = pos  # the end of the last whole record
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:  # a block's tail too short for a header is zero padding
            pos += room
            continue
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 and length == 0:  # zero padding at a block's end
            pos += room
            continue
        body = data[pos + 7 : pos + 7 + length]
        if kind not in _SEEDS or len(body) < length or zlib.crc32(body, _SEEDS[kind]) != crc:
            break
        pos += 7 + length
        if kind == FULL:
            out.append(body)
            good = pos
        elif kind == FIRST:
            pending = body
        elif kind == MIDDLE:
            pending += body
        else:
            out.append(pending + body)
            pending, good = b"", pos
    return out, len(data) - good


# -- protobuf wire format ------------------------------------------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) of a protobuf message: ints, bytes (nested or text), doubles."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = struct.unpack_from("<d", buf, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = buf[pos : pos + length]
            pos += length
        elif wire == 5:
            value = struct.unpack_from("<f", buf, pos)[0]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, value


def _text(b: bytes) -> str:
    return b.decode("utf-8", "replace")


def _items(
    buf: bytes, item_field: int, known: dict[str, Any] | None = None
) -> list[tuple[str, Any]]:
    """Key/value items (History/Summary/Config/Stats items: key 1, nested_key 2,
    value_json 16; history also number 6, integer 5, text 7, boolean 4). Items whose key is
    in `known` are left out undecoded (the summary, read newest first)."""
    out = []
    for number, item in fields(buf):
        if number != item_field:
            continue
        key, nested, value = "", [], None
        for n, v in fields(item):
            if n == 1:
                key = _text(v)
            elif n == 2:
                nested.append(_text(v))
            elif n == 16:
                if known is not None and (".".join(nested) or key) in known:
                    break
                value = json.loads(_text(v))
            elif n == 6:
                value = v  # a double: decoded by fields()
            elif n == 5:
                value = (v >> 1) ^ -(v & 1)  # sint64
            elif n == 7:
                value = _text(v)
            elif n == 4:
                value = bool(v)
        else:
            out.append((".".join(nested) if nested else key, value))
    return out


def _timestamp(buf: bytes) -> float:
    seconds = nanos = 0
    for n, v in fields(buf):
        if n == 1:
            seconds = v
        elif n == 2:
            nanos = v
    return seconds + nanos / 1e9


@dataclass
class WandbRun:
    """What a .wandb file holds, as an import needs it."""

    run: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[tuple[int, float, dict[str, Any]]] = field(default_factory=list)
    stats: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    exit_code: int | None = None
    torn_bytes: int = 0


def read(path: Path) -> WandbRun:
    """Decode a .wandb file (a torn tail is left out and counted in `torn_bytes`)."""
    records, torn = frames(path.read_bytes())
    out = WandbRun(torn_bytes=torn)
    summaries: list[bytes] = []  # wandb rewrites the summary at every step: newest wins
    for rec in records:
        for number, body in fields(rec):
            if number == HISTORY:
                _history(body, out)
            elif number == CONFIG:
                _config(body, out.config)
            elif number == SUMMARY:
                out.summary.update({k: v for k, v in _items(body, 1) if not k.startswith("_wandb")})
            elif number == RUN:
                _run(body, out)
            elif number in (OUTPUT, OUTPUT_RAW):
                out.output.extend(_text(v) for n, v in fields(body) if n == 3)
            elif number == STATS:
                t = next((_timestamp(v) for n, v in fields(body) if n == 2), 0.0)
                out.stats.append((t, dict(_items(body, 3))))
            elif number == EXIT:
                out.exit_code = next((v for n, v in fields(body) if n == 1), 0)
    for body in reversed(summaries):
        for k, v in _items(body, 1, out.summary):
            out.summary[k] = v
    out.summary = {k: v for k, v in reversed(out.summary.items()) if not k.startswith("_wandb")}
    return out


def _history(body: bytes, out: WandbRun) -> None:
    row = dict(_items(body, 1))
    step = next((v for n, v in fields(body) if n == 2), None)
    num = next((v for n, v in fields(step) if n == 1), None) if step is not None else None
    if num is None:
        num = row.get("_step", len(out.history))
    t = float(row.get("_timestamp") or 0.0)
    clean = {k: v for k, v in row.items() if not k.startswith("_")}
    out.history.append((int(num), t, clean))


def _config(body: bytes, config: dict[str, Any]) -> None:
    for key, value in _items(body, 1):
        if key == "_wandb":
            continue
        config[key] = value.get("value", value) if isinstance(value, dict) else value


def _run(body: bytes, out: WandbRun) -> None:
    names = {1: "id", 2: "entity", 3: "project", 6: "group", 7: "job_type", 8: "name", 9: "notes"}
    tags = []
    for n, v in fields(body):
        if n in names:
            out.run[names[n]] = _text(v)
        elif n == 10:
            tags.append(_text(v))
        elif n == 4:
            _config(v, out.config)
        elif n == 17:
            out.run["start_time"] = _timestamp(v)
        elif n == 13:
            out.run["host"] = _text(v)
    out.run["tags"] = tags
