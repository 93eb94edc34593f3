"""Chart pyramids: per sealed segment, min/max/last/count of every metric per step bucket, at
several bucket widths, so a chart of a long run reads kilobytes instead of every row.

    <root>/.pyramids/<sha[:2]>/<segment sha256>      one sidecar per sealed segment

A sidecar is a Parquet file with one row group per level (bucket width LEVELS[i] steps,
buckets aligned to multiples of the width, so buckets of different segments merge), plus one
row group (level TEXT_LEVEL) summarising each key's non-numeric rows: first and last step,
count, last text. Min and max skip NaN, as the raw query does; a bucket's `vlast` is the value
at its highest step.

Why a sidecar addressed by the segment's sha256 and not a column of the index: a sealed
segment never changes, so its pyramid is valid wherever the segment is (the index, a copy of
the store, the team server reading its own root); deleting it (or all of `.pyramids/`) only
costs a rebuild. Why not BlobStore's own digest as the name: the reader knows the segment's
digest, not the sidecar's. Integrity: pages carry CRCs (checked on read), the footer names the
segment it summarises; a sidecar that fails either is treated as missing and rebuilt from the
segment, so a damaged sidecar never yields a wrong value.

Built when the index first describes a large sealed segment (store/describe.py, which holds
its bytes already; a team server's index too), else lazily the first time a chart needs it
(never by a team server's read request, which has a memory bound); never on the write path.
Sidecars of deleted runs or segments are found by store/pyramid_sweep.py (what `flightlog
doctor` reports and `--repair` removes).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .atomic import atomic_write_bytes
from .blobs import BlobStore
from .layout import parse_segment_name

VERSION = 1
#: bucket widths in steps, finest first: each level has a quarter of the previous's rows
LEVELS = (16, 64, 256, 1024, 4096, 16384, 65536)
TEXT_LEVEL = -1
#: a segment with at least this many rows gets its pyramid when the index describes it;
#: smaller ones only when a chart wide enough to use it asks (most never do)
EAGER_ROWS = 200_000
DIR_NAME = ".pyramids"
_META_KEY = b"flightlog.pyramid"

SCHEMA = pa.schema(
    [
        pa.field("level", pa.int32(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("step_min", pa.int64(), nullable=False),
        pa.field("step_max", pa.int64(), nullable=False),
        pa.field("vmin", pa.float64()),
        pa.field("vmax", pa.float64()),
        pa.field("vlast", pa.float64()),
        pa.field("n", pa.int64(), nullable=False),
        pa.field("last_text", pa.string()),
    ]
)
_INPUT_COLUMNS = ["step", "key", "value", "kind", "text"]


def level_for(bucket_width: float) -> int | None:
    """The coarsest level whose buckets are at most 1/8 of a chart bucket (so a pyramid
    bucket moves a chart bucket's edge by under an eighth of its width), or None: too
    narrow, read the raw rows."""
    fine = [p for p in LEVELS if p * 8 <= bucket_width]
    return fine[-1] if fine else None


# -- building ------------------------------------------------------------------------------
def _groups(code: np.ndarray, bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) index of each run of equal (code, bucket) in rows sorted by both."""
    if len(code) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero((code[1:] != code[:-1]) | (bucket[1:] != bucket[:-1])) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(code)])) - 1
    return starts, ends


def _level(units: dict[str, np.ndarray], width: int) -> dict[str, np.ndarray]:
    """Merge `units` (sorted by key code, then last step; stable, so ties keep file order)
    into buckets of `width` steps: min and max skip NaN, `vlast` is the value at the highest
    step (the later one on a tie)."""
    starts, ends = _groups(units["code"], units["step_max"] // width)
    if len(starts) == 0:
        return units
    return {
        "code": units["code"][starts],
        "step_min": np.minimum.reduceat(units["step_min"], starts),
        "step_max": units["step_max"][ends],
        "vmin": np.fmin.reduceat(units["vmin"], starts),  # NaN only if all were NaN
        "vmax": np.fmax.reduceat(units["vmax"], starts),
        "vlast": units["vlast"][ends],
        "n": np.add.reduceat(units["n"], starts),
    }


def _arrow_level(level: int, keys: list[str], u: dict[str, np.ndarray]) -> pa.Table:
    nan_min, nan_max = np.isnan(u["vmin"]), np.isnan(u["vmax"])
    return pa.table(
        {
            "level": pa.array(np.full(len(u["code"]), level, np.int32)),
            "key": pa.array(np.asarray(keys, dtype=object)[u["code"]] if keys else [], pa.string()),
            "step_min": pa.array(u["step_min"], pa.int64()),
            "step_max": pa.array(u["step_max"], pa.int64()),
            "vmin": pa.array(u["vmin"], pa.float64(), mask=nan_min),
            "vmax": pa.array(u["vmax"], pa.float64(), mask=nan_max),
            "vlast": pa.array(u["vlast"], pa.float64()),
            "n": pa.array(u["n"], pa.int64()),
            "last_text": pa.nulls(len(u["code"]), pa.string()),
        },
        schema=SCHEMA,
    )


_UNIT_TYPES = {
    "code": np.int64,
    "step_min": np.int64,
    "step_max": np.int64,
    "vmin": np.float64,
    "vmax": np.float64,
    "vlast": np.float64,
    "n": np.int64,
}


def build(tables: Iterable[pa.Table]) -> list[pa.Table]:
    """A segment's pyramid from its rows, given a row group at a time (memory holds one row
    group and the finest level, a server's bound), one table per level (LEVELS order, then
    TEXT_LEVEL)."""
    codes: dict[str, int] = {}
    parts, texts = [], []
    for table in tables:
        units, text = _finest(table, codes)
        parts.append(units)
        texts.append(text)
    units = {
        k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, t)
        for k, t in _UNIT_TYPES.items()
    }
    order = np.lexsort((units["step_max"], units["code"]))  # buckets cut by row groups meet
    units = {k: v[order] for k, v in units.items()}
    levels = []
    for width in LEVELS:
        units = _level(units, width)
        levels.append(_arrow_level(width, list(codes), units))
    levels.append(_text_level(pa.concat_tables(texts) if texts else None))
    return levels


def _finest(table: pa.Table, codes: dict[str, int]) -> tuple[dict[str, np.ndarray], pa.Table]:
    """(the finest level of some rows, with key codes from `codes`; their non-numeric rows)."""
    table = table.select(_INPUT_COLUMNS).combine_chunks()
    encoded = pc.dictionary_encode(table.column("key").cast(pa.string())).combine_chunks()
    local = [codes.setdefault(k, len(codes)) for k in encoded.dictionary.to_pylist()]
    code = np.asarray(local, np.int64)[encoded.indices.to_numpy(zero_copy_only=False)]
    value_col = table.column("value")
    numeric = pc.and_(
        pc.is_in(table.column("kind"), pa.array([0, 1, 2], pa.int8())), pc.is_valid(value_col)
    )
    mask = numeric.to_numpy(zero_copy_only=False)
    values = value_col.fill_null(np.nan).to_numpy()[mask]
    code, step = code[mask], table.column("step").to_numpy()[mask]
    if len(step) < 2 or bool((step[1:] >= step[:-1]).all()):  # as logged: sort keys only
        small = code.astype(np.uint16 if len(codes) < 1 << 16 else np.int64)  # a radix sort
        order = np.argsort(small, kind="stable")
    else:
        order = np.lexsort((step, code))  # stable: equal steps keep file order
    step, values = step[order], values[order]
    raw = {"code": code[order], "step_min": step, "step_max": step}
    raw |= {"vmin": values, "vmax": values, "vlast": values, "n": np.ones(len(step), np.int64)}
    return _level(raw, LEVELS[0]), table.filter(pc.invert(numeric)).select(["step", "key", "text"])


def _text_level(rows: pa.Table | None) -> pa.Table:
    """Per key, the non-numeric rows: first and last step, count, last non-null text."""
    if rows is None or rows.num_rows == 0:
        return SCHEMA.empty_table()
    lasts = (
        rows.filter(pc.is_valid(rows.column("text")))
        .sort_by([("key", "ascending"), ("step", "ascending")])
        .group_by("key", use_threads=False)
        .aggregate([("text", "last")])
    )
    last = dict(
        zip(lasts.column("key").to_pylist(), lasts.column("text_last").to_pylist(), strict=True)
    )
    agg = rows.group_by("key").aggregate([("step", "min"), ("step", "max"), ("step", "count")])
    keys = agg.column("key").to_pylist()
    return pa.table(
        {
            "level": pa.array([TEXT_LEVEL] * len(keys), pa.int32()),
            "key": pa.array(keys, pa.string()),
            "step_min": agg.column("step_min"),
            "step_max": agg.column("step_max"),
            "vmin": pa.nulls(len(keys), pa.float64()),
            "vmax": pa.nulls(len(keys), pa.float64()),
            "vlast": pa.nulls(len(keys), pa.float64()),
            "n": agg.column("step_count"),
            "last_text": pa.array([last.get(k) for k in keys], pa.string()),
        },
        schema=SCHEMA,
    )


def encode(levels: list[pa.Table], segment_sha256: str) -> bytes:
    """The sidecar's bytes: one row group per level, page CRCs, the segment's digest."""
    meta = {_META_KEY: json.dumps({"version": VERSION, "segment": segment_sha256}).encode()}
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(
        sink, SCHEMA.with_metadata(meta), write_page_checksum=True, compression="zstd"
    ) as w:
        for t in levels:
            if t.num_rows:
                w.write_table(t, row_group_size=max(t.num_rows, 1))
    return sink.getvalue().to_pybytes()


# -- the sidecar directory -----------------------------------------------------------------
class Pyramids:
    """One store's sidecars. `read` answers one level of one segment, building (and storing,
    where the directory is writable) a missing or damaged sidecar from the segment itself;
    levels read are kept in a small per-process cache (sealed segments never change)."""

    def __init__(self, directory: Path, *, build: bool = True) -> None:
        """`build=False`: a missing or damaged sidecar is not built (a team server's read
        requests have a memory bound; its index builds them as a local one does)."""
        self.blobs = BlobStore(directory)
        self.build = build

    def path(self, segment_sha256: str) -> Path:
        return self.blobs.path(segment_sha256)

    def store(self, segment_sha256: str, levels: list[pa.Table]) -> None:
        """Write a sidecar (atomically; a cache, so not fsynced: a torn one is rebuilt)."""
        path = self.path(segment_sha256)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, encode(levels, segment_sha256), durable=False)
        except OSError:
            pass  # a read-only store: the levels just built serve this process, unkept

    def read(self, segment: Path, level: int) -> pa.Table | None:
        """Level `level` (and the TEXT_LEVEL rows) of a sealed segment, or None if neither
        the sidecar nor the segment can be read (the caller reads raw rows, or skips)."""
        name = parse_segment_name(segment.name)
        if name is None or not name.sealed or name.sha256 is None:
            return None
        key = (name.sha256, level)
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        found = _read_sidecar(self.path(name.sha256), name.sha256, level)
        if found is None and self.build:
            found = self._rebuild(segment, name.sha256, level)
        if found is not None:
            _remember(key, found)
        return found

    def _rebuild(self, segment: Path, sha256: str, level: int) -> pa.Table | None:
        try:
            digest = hashlib.sha256()
            with open(segment, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != sha256:
                return None  # damaged: the raw path skips it with its warning
            levels = build(_row_groups(pq.ParquetFile(segment, pre_buffer=False)))
        except (OSError, ValueError, pa.ArrowException):
            return None  # gone or unreadable: the raw path skips it with its warning
        finally:
            pa.default_memory_pool().release_unused()  # a server's reads have a bound
        self.store(sha256, levels)
        wanted = [t for t in levels if t.num_rows and t["level"][0].as_py() in (level, TEXT_LEVEL)]
        return pa.concat_tables(wanted) if wanted else SCHEMA.empty_table()


def _row_groups(pf: pq.ParquetFile) -> Iterator[pa.Table]:
    for g in range(pf.metadata.num_row_groups):
        yield pf.read_row_group(g, columns=_INPUT_COLUMNS, use_threads=False)


def build_when_described(root: Path, sha256: str, pf: pq.ParquetFile) -> None:
    """The index describing a sealed segment it just verified: a large one gets its
    sidecar now, from the bytes in hand (a small one waits for a chart that needs it)."""
    if pf.metadata.num_rows < EAGER_ROWS:
        return
    store = Pyramids(pyramid_dir(root))
    try:
        if not store.path(sha256).exists():
            store.store(sha256, build(_row_groups(pf)))
    except (OSError, ValueError, pa.ArrowException):
        pass  # never a reason to call the segment damaged: charts read its rows instead


def _read_sidecar(path: Path, sha256: str, level: int) -> pa.Table | None:
    """The rows of `level` and TEXT_LEVEL from a sidecar, None if missing or damaged."""
    try:
        pf = pq.ParquetFile(path, page_checksum_verification=True)
        meta = json.loads((pf.schema_arrow.metadata or {}).get(_META_KEY, b"{}"))
        if meta != {"version": VERSION, "segment": sha256} or not pf.schema_arrow.equals(
            SCHEMA, check_metadata=False
        ):
            return None
        md = pf.metadata
        groups = []
        for g in range(md.num_row_groups):
            stats = md.row_group(g).column(0).statistics
            if stats is None or not stats.has_min_max:
                return None
            if stats.min in (level, TEXT_LEVEL) and stats.min == stats.max:
                groups.append(g)
        table = pf.read_row_groups(groups, use_threads=False) if groups else SCHEMA.empty_table()
        table = table.replace_schema_metadata(None)
    except (OSError, ValueError, pa.ArrowException):
        return None
    for col in ("level", "key", "step_min", "step_max", "n"):
        if table.column(col).null_count:
            return None
    return table


_cache: OrderedDict[tuple[str, int], pa.Table] = OrderedDict()
_cache_lock = threading.Lock()
_cache_bytes = 0
_CACHE_LIMIT = 64 << 20


def _remember(key: tuple[str, int], table: pa.Table) -> None:
    global _cache_bytes
    with _cache_lock:
        if key not in _cache:
            _cache[key] = table
            _cache_bytes += table.nbytes
        while len(_cache) > 1 and _cache_bytes > _CACHE_LIMIT:
            _cache_bytes -= _cache.popitem(last=False)[1].nbytes


def forget_all() -> None:
    """Empty the per-process cache of levels read (what a new process starts with)."""
    global _cache_bytes
    with _cache_lock:
        _cache.clear()
        _cache_bytes = 0


def pyramid_dir(root: Path) -> Path:
    """Where a store's sidecars live."""
    return Path(root) / DIR_NAME
