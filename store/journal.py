"""The write-ahead journal: where `log()` puts each committed row, so a kill -9 loses none.

One writer appends rows to memory-mapped journal files `<wid>-<jseq>.journal` in its run's
history directory; the page cache keeps what a process wrote to a shared mapping when the
process is killed, so a row is safe from a kill -9 the moment `log()` returns (from a power
loss once the writer thread's next msync, every `fsync_interval`, has run). The writer
thread turns journal rows into Arrow IPC batches (store/writer.py); each batch carries the
*mark* `<jseq>:<rows>` of the journal rows it holds up to, and a sealed segment keeps the
mark of its last batch. A journal is removed once written segments hold all its rows: the
page cache keeps them from a kill -9 from then on, and segments are fsynced as often as
journals are msynced. A writer that finishes with a large backlog (a loop that outran its
thread) leaves those rows in its journals, msynced; readers read them there, and a resume,
`flightlog sync`, the agent or `doctor --repair` seal them (store/takeover.py).

Journal numbers (`jseq`) only grow and are never tried twice: a creation cut short by a
KeyboardInterrupt in `log()` leaves a file holding no row, which the writer's close removes.

Layout (little-endian): a 4 KiB header, then `rows_cap` row records of 32 bytes
(step i64, time f64, sid i64, end i64: where the row's data ends in the data region, in
8-byte words), then `words_cap` words of data. A row's data starts where the previous row's
ends: float64 values for a row of a known signature (sid >= 0), or JSON for the others
(sid GENERIC: a row's tidy values; sid PACKED: the same with histograms' numbers as words,
store/packed_rows.py; sid DEFINE: a signature's keys and kinds, written once per journal
before its first row, and NEEDS_PACKED before its first PACKED row, which older versions
refuse). The header's committed row count is stored last, in one
8-byte store: the commit point. A KeyboardInterrupt inside `log()` therefore leaves a row
whole or not at all (see `append_fast`). Readers do not stop at the commit point when the
records go on past it: they read on while each record proves whole
(store/journal_past_commit.py says why).

Power loss: pages reach the disk in any order, so after a reboot only the rows counted in
the header's `synced` field (set after an msync) are trusted; the header records the boot
it was written in. Readers (`JournalSnapshot`) never write; a journal of a writer proven
dead is turned into a segment by store/takeover.py (`recover_journals`); journals are never
claimed or renamed: their recovery is idempotent (store/takeover.py says why).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .prefault import PAGE, mapping_address, msync, populate

HEADER = 4096
MAGIC = b"FLJRNL1\0"
_HEAD = struct.Struct("<8sQQQQ16sI")  # magic, committed, synced, rows_cap, words_cap, boot, meta
_COMMIT = struct.Struct("<Q")
_COMMIT_AT, _SYNCED_AT = 8, 16
_REC = struct.Struct("<qdqq")
REC_DTYPE = [("step", "<i8"), ("time", "<f8"), ("sid", "<i8"), ("end", "<i8")]
#: sid of a row stored as JSON tidy values, of a signature definition, and of a row of JSON
#: tidy values whose histograms are packed as words (store/packed_rows.py)
GENERIC, DEFINE, PACKED = -1, -2, -3
#: journal capacity: rotation every ~50k rows of 10 values (6 MiB of disk, reserved). Small
#: enough that removing the last one at finish() is cheap (dropping its dirty pages costs
#: ~1.5 ms per MiB), large enough that a spare is always ready before log() needs it
ROWS_CAP = 1 << 16
WORDS_CAP = 1 << 19

SUFFIX = ".journal"
#: batch / sealed-file metadata key: the journal position a segment's rows reach
MARK_KEY = b"flightlog.journal"

Mark = tuple[int, int]  # (jseq, rows of that journal covered)


def journal_name(writer: str, jseq: int) -> str:
    return f"{writer}-j{jseq:06d}{SUFFIX}"


@dataclass(frozen=True)
class JournalName:
    writer: str
    jseq: int


def parse_journal_name(name: str) -> JournalName | None:
    if not name.endswith(SUFFIX):
        return None
    writer, sep, seq = name[: -len(SUFFIX)].rpartition("-j")
    if sep and writer.isalnum() and writer.islower() and seq.isdigit() and len(seq) == 6:
        return JournalName(writer, int(seq))
    return None


def list_journals(history_dir: Path) -> list[tuple[JournalName, Path]]:
    """The journals of a history directory, by writer and number."""
    try:
        entries = os.listdir(history_dir)
    except FileNotFoundError:
        return []
    found = [(n, history_dir / e) for e in entries if (n := parse_journal_name(e)) is not None]
    return sorted(found, key=lambda x: (x[0].writer, x[0].jseq))


def encode_mark(mark: Mark) -> bytes:
    return f"{mark[0]}:{mark[1]}".encode()


def decode_mark(raw: bytes | None) -> Mark | None:
    if not raw:
        return None
    try:
        a, b = raw.split(b":")
        return int(a), int(b)
    except ValueError:
        return None


_boot: bytes | None = None
#: a boot id that says nothing: this system has none, or reading it failed
UNKNOWN_BOOT = bytes(16)


def boot_id() -> bytes:
    """This boot's id (Linux), or UNKNOWN_BOOT. Only a successful read is kept: a read that
    failed once (too many open files) must not make every later journal look written
    before a reboot, which hides its rows not yet msynced."""
    global _boot
    if _boot is None:
        try:
            with open("/proc/sys/kernel/random/boot_id", "rb") as f:
                _boot = bytes.fromhex(f.read().strip().decode().replace("-", ""))[:16]
        except (OSError, ValueError):
            return UNKNOWN_BOOT
    return _boot


def rebooted_since(boot: bytes) -> bool:
    """Was a journal whose header says `boot` written before the last reboot? Only when both
    ids are known: an unknown one cannot tell, and then every committed row is shown."""
    now = boot_id()
    return boot != UNKNOWN_BOOT and now != UNKNOWN_BOOT and boot != now


class JournalFile:
    """One journal being written by this process (the training thread appends, under the
    run's lock; the writer thread reads `pos` and the mapping)."""

    def __init__(
        self,
        path: Path | None,
        jseq: int,
        meta: dict[str, Any],
        rows_cap: int = ROWS_CAP,
        words_cap: int = WORDS_CAP,
    ) -> None:
        """Create `path` (never reused) with its space reserved, so that a full disk shows
        here, not as a SIGBUS in `log()`; `path=None` keeps the journal in memory only."""
        self.path = path
        self.jseq = jseq
        self.rows_cap, self.words_cap = rows_cap, words_cap
        self.roff = HEADER
        self.voff = HEADER + 32 * rows_cap
        size = self.voff + 8 * words_cap
        if path is None:
            self.mm = mmap.mmap(-1, size)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.posix_fallocate(fd, 0, size)
                self.mm = mmap.mmap(fd, size)
                # no read-around: the first store below faulted in the whole file (2 ms with
                # the GIL held, on Linux 6.18 ext4); the writer thread faults in log()'s pages
                if hasattr(mmap, "MADV_RANDOM"):
                    self.mm.madvise(mmap.MADV_RANDOM)
            except BaseException:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise
            os.close(fd)
        raw = json.dumps(meta).encode()
        self.mm[64 : 64 + len(raw)] = raw
        _HEAD.pack_into(self.mm, 0, MAGIC, 0, 0, rows_cap, words_cap, boot_id(), len(raw))
        #: (committed rows, data words used): one attribute store per row
        self.pos = (0, 0)
        #: signature ids defined in this journal
        self.defined: set[int] = set()
        #: (rows, words) whose pages the writer thread has faulted in (store/prefault.py)
        self.populated = (0, 0)
        self._addr: int | None = None

    def fits(self, words: int, rows: int = 1) -> bool:
        n, end = self.pos
        return n + rows + 1 <= self.rows_cap and end + words <= self.words_cap

    def append_blob(self, step: int, t: float, sid: int, data: bytes) -> None:
        """Append a JSON row (GENERIC or DEFINE); padded with spaces to whole words."""
        n, start = self.pos
        data += b" " * (-len(data) % 8)
        end = start + len(data) // 8
        off = self.voff + 8 * start
        self.mm[off : off + len(data)] = data
        _REC.pack_into(self.mm, self.roff + 32 * n, step, t, sid, end)
        self.pos = (n + 1, end)
        _COMMIT.pack_into(self.mm, _COMMIT_AT, n + 1)  # the commit point

    def _address(self) -> int | None:
        """The mapping's address, looked up once (None where populating is not available:
        store/prefault.py)."""
        if self._addr is None:
            self._addr = mapping_address(self.mm)
        return self._addr

    def populate_ahead(self, rows: int, words: int) -> None:
        """Fault in the pages of the next `rows` records and `words` data words past what
        `log()` has written (writer thread; store/prefault.py says why). Not once closed (a
        flush() after finish()): the address may be another mapping's by then."""
        if self.path is None or self.mm.closed:
            return
        addr = self._address()
        if addr is None:
            return  # not on this system
        n, end = self.pos
        done_rows, done_words = self.populated
        to_rows = min(self.rows_cap, max(done_rows, n + rows))
        to_words = min(self.words_cap, max(done_words, end + words))
        populate(addr, self.roff + 32 * max(done_rows, n), self.roff + 32 * to_rows)
        populate(addr, self.voff + 8 * max(done_words, end), self.voff + 8 * to_words)
        self.populated = (to_rows, to_words)

    def sync(self) -> None:
        """msync what is committed, then record it as safe from a power loss. Only the
        records and data written so far: msync write-protects the pages it writes back, so
        the next store into each faults again, and the record pages faulted in ahead of
        `log()` took that fault in `log()` (one every 128 rows)."""
        n, end = self.pos
        if self.path is not None:
            addr = self._address()
            data = self.voff - self.voff % PAGE  # (msync takes a page-aligned address)
            if (
                addr is None
                or not msync(addr, self.roff + 32 * n)  # the header and the records
                or not msync(addr + data, self.voff + 8 * end - data)
            ):
                self.mm.flush()
            _COMMIT.pack_into(self.mm, _SYNCED_AT, n)

    def close(self) -> None:
        try:
            self.mm.close()
        except BufferError:
            pass  # a view is still held by a batch being converted: freed with it


def append_fast(
    j: JournalFile, step: int, t: float, sid: int, pack: Any, values: Any, words: int
) -> None:
    """Append one row of float64-able values (the hot path of `log()`). Data first, then
    the record, then `pos`, then the commit store: an interruption anywhere leaves either
    no row or, if only the commit store was missed, a whole row that the next commit (or
    `commit_pending`) makes visible."""
    n, start = j.pos
    pack(j.mm, j.voff + 8 * start, *values)
    _REC.pack_into(j.mm, j.roff + 32 * n, step, t, sid, start + words)
    j.pos = (n + 1, start + words)
    _COMMIT.pack_into(j.mm, _COMMIT_AT, n + 1)


def append_split(
    j: JournalFile, step: int, t: float, sid: int, pack: Any, values: Any, words: int, data: bytes
) -> None:
    """Append a row split in two (store/packed_rows.py `split_histograms`): its numbers as
    `append_fast` does, then its PACKED `data` (whole words), both made visible by one
    commit store, so that an interruption leaves the row whole or not at all."""
    n, start = j.pos
    pack(j.mm, j.voff + 8 * start, *values)
    off = j.voff + 8 * (start + words)
    j.mm[off : off + len(data)] = data
    end = start + words + len(data) // 8
    # the second record first: a first record that is written has its histograms behind
    # it (readers look past the commit word, store/journal_past_commit.py)
    _REC.pack_into(j.mm, j.roff + 32 * (n + 1), step, t, PACKED, end)
    _REC.pack_into(j.mm, j.roff + 32 * n, step, t, sid, start + words)
    j.pos = (n + 2, end)
    _COMMIT.pack_into(j.mm, _COMMIT_AT, n + 2)


def commit_pending(j: JournalFile) -> None:
    """Make a row whose commit store was interrupted visible (at close and rotation), and
    clear the record slot after the last row: a row whose record was written but whose
    `log()` was cut short before counting it must not be read past the commit word."""
    n = j.pos[0]
    if n < j.rows_cap:
        _REC.pack_into(j.mm, j.roff + 32 * n, 0, 0.0, 0, 0)
    if n + 1 < j.rows_cap:  # (a split row writes its second record first)
        _REC.pack_into(j.mm, j.roff + 32 * (n + 1), 0, 0.0, 0, 0)
    _COMMIT.pack_into(j.mm, _COMMIT_AT, n)


def define_json(sid: int, keys: list[str], kinds: list[int]) -> bytes:
    return json.dumps({"sid": sid, "keys": keys, "kinds": kinds}).encode()


class JournalDamaged(ValueError):
    """A journal whose header or records do not hold together."""


@dataclass
class JournalSnapshot:
    """The committed rows of a journal as read from its file (any process, never writes)."""

    path: Path
    meta: dict[str, Any]
    records: bytes | memoryview
    data: bytes | bytearray
    #: why rows past `len(records) // 32` were left out (power loss, damage), or None
    note: str | None = None

    @property
    def rows(self) -> int:
        return len(self.records) // 32

    @classmethod
    def read(cls, path: Path, wanted: Wanted | None = None) -> JournalSnapshot:
        """Read a journal's committed rows (raises FileNotFoundError if it is gone).
        `wanted(records)`: the (start, end) word ranges of the data the caller will read,
        or None for all of it (a reader that needs a few rows' data of a journal whose
        records say which: store/journal_facts.py); the rest of `data` is zeros."""
        with open(path, "rb") as f:
            head = f.read(HEADER)
            if len(head) < _HEAD.size or head[:8] != MAGIC:
                return cls(path, {}, b"", b"")  # created, header not written yet
            _, n, synced, rows_cap, words_cap, boot, meta_len = _HEAD.unpack_from(head)
            try:
                meta = json.loads(head[64 : 64 + meta_len])
            except ValueError as e:
                raise JournalDamaged(f"journal {path} has a damaged header: {e}") from e
            note = None
            if n > synced and rebooted_since(boot):
                note = (
                    f"journal {path}: {n - synced} rows written before a reboot were never "
                    "synced to disk and are left out"
                )
                n = synced
            n = min(n, rows_cap)
            f.seek(HEADER)
            records = f.read(32 * (n + 1))  # and the slot after: written past the commit?
            n = min(n, len(records) // 32)
            end = _REC.unpack_from(records, 32 * (n - 1))[3] if n else 0
            if not 0 <= end <= words_cap:
                raise JournalDamaged(f"journal {path} has a damaged row record")
            ranges = None
            if note is None and len(records) > 32 * n and _REC.unpack_from(records, 32 * n)[3]:
                from .journal_past_commit import read_past  # (readers only, and rarely)

                records, data = read_past(f, records, n, rows_cap, words_cap)
            else:
                records = memoryview(records)[: 32 * n]  # (not a copy of 2 MiB)
                ranges = wanted(records) if wanted is not None else None
                if ranges is not None:
                    data = _read_ranges(f, HEADER + 32 * rows_cap, end, ranges)
                else:
                    f.seek(HEADER + 32 * rows_cap)
                    data = f.read(8 * end)
        meta = meta if isinstance(meta, dict) else {}
        return cls(path, meta, records, data, note)


#: a reader's choice of the data words it needs of a journal, given its records
Wanted = Callable[[bytes], "list[tuple[int, int]] | None"]


def _read_ranges(f: IO[bytes], at: int, end: int, ranges: list[tuple[int, int]]) -> bytearray:
    """`end` data words of the journal open as `f` (its data region at byte `at`), only
    those of `ranges` read, the others zeros."""
    data = bytearray(8 * end)
    view = memoryview(data)
    for a, b in ranges:
        a, b = max(a, 0), min(b, end)
        f.seek(at + 8 * a)
        if a < b and f.readinto(view[8 * a : 8 * b]) != 8 * (b - a):  # type: ignore[attr-defined]
            raise JournalDamaged(f"journal {f.name} is shorter than its row records say")
    return data
