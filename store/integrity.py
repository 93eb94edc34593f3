"""Detecting damaged segments cheaply, so a reader skips them instead of returning wrong values.

Two checks, one per kind of segment:

- A sealed Parquet file is named by its sha256. Readers that read the whole file (history,
  `Api`) hash the bytes they already hold (~1.4 GB/s, a few percent of decoding them); the
  index hashes each sealed file once, when it first describes it, and remembers the verdict,
  so DuckDB's scans (which ignore Parquet page checksums) only ever see verified files. This
  covers every sealed file ever written, the committed samples included; Parquet page
  checksums would only cover files written from now on and DuckDB does not check them.
- An open IPC stream grows, so it has no whole-file hash: each record batch carries the
  crc32 of its uncompressed IPC message in the batch's custom metadata (~0.06 ms per
  10,000 rows, paid by the writer thread, never by `log()`). A batch failing it is skipped
  with a warning; batches written before the check existed carry none and are trusted.
"""

from __future__ import annotations

import hashlib
import zlib

import pyarrow as pa

#: custom metadata key of an IPC record batch: crc32 (decimal) of its uncompressed message
BATCH_CRC_KEY = b"flightlog.crc32"


class SegmentDamaged(ValueError):
    """A segment whose bytes fail their checksum, or cannot be decoded."""


def batch_checksum(batch: pa.RecordBatch) -> bytes:
    """The checksum stored with a batch: stable across an IPC round trip (compression, and
    slicing, do not change the uncompressed message of the same rows)."""
    return str(zlib.crc32(batch.serialize())).encode()


def batch_intact(batch: pa.RecordBatch, custom_metadata: pa.KeyValueMetadata | None) -> bool:
    """Whether a batch read back matches the checksum written with it (none: trusted)."""
    if not custom_metadata or BATCH_CRC_KEY not in custom_metadata:
        return True
    return custom_metadata[BATCH_CRC_KEY] == batch_checksum(batch)


def check_sha256(data: bytes | memoryview, expected: str, name: str) -> None:
    """Raise SegmentDamaged unless `data` hashes to `expected` (the sha256 in a sealed name)."""
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise SegmentDamaged(
            f"{name} is damaged: its content does not match the sha256 in its name "
            f"(got {got[:12]}...); it is skipped (`flightlog doctor` lists damaged files)"
        )
