"""Long history -> wide: the table behind `history()` and the row dicts behind `scan_history()`.

Both are a few numpy passes over the long (tidy) rows, whatever the number of keys: keys and
writers become integer codes (read as Parquet dictionaries where the files allow it), each
tidy row's logical row (step, writer) is its rank among the (step, writer) pairs (a dense
bitmap when steps are dense, a sort otherwise: store/long_codes.py), and every value is
scattered at once into one (keys x rows) grid. Long reads split these passes between two
threads (store/two_threads.py). The grid is the size of the wide table itself. Only values
that are not plain numbers (strings, lists, histograms, media, ints past 2**53, keys mixing
kinds) are decoded one by one in Python.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import chain, islice, repeat
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import step_pieces, two_threads
from .logged_union import logged_union
from .long_codes import Coder, codes, row_index
from .media_ref import MediaRoot, bound_at
from .row_dicts import DISPLAY_KEYS, key_sets, make_dicts, python_values
from .schema import BOOL, FLOAT, INT, MEDIA, NONE, decode_value
from .two_threads import both, halves

#: wide-history schema metadata: the JSON list of columns holding media references
MEDIA_COLUMNS = b"flightlog.media_columns"
#: number of value kinds (schema.py's FLOAT..MEDIA)
_KINDS = MEDIA + 1
#: cells of row dicts built per block in `row_blocks`: bounds its memory, and a block's new
#: Python objects stay in the CPU's caches (10-15% less CPU than blocks of 1 << 20)
_BLOCK_CELLS = 1 << 16
_META = ("_step", "_timestamp", "_runtime", "_writer")


class Grid:
    """A tidy table laid out as rows (step, writer) x keys."""

    def _by_start(self, wcode: np.ndarray, time_us: np.ndarray) -> np.ndarray:
        """Writers in the order they started logging (their first row's time), not by
        label: rows of one step from several writers come in that order (labels are
        "host:pid", and "vm:10351" sorts before "vm:9876")."""
        first = np.full(len(self.writers), np.iinfo(np.int64).max)
        np.minimum.at(first, wcode, time_us)
        order = np.argsort(first, kind="stable")
        self.writers = [self.writers[i] for i in order]
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return rank[wcode]

    def __init__(self, tidy: pa.Table, keys: Collection[str] | None = None) -> None:
        """`keys`: the rows are those of these keys only (a read with `keys=`)."""
        m = tidy.num_rows
        self._key: np.ndarray | None = None
        if m < two_threads.MIN_ROWS:  # one copy of each column, by Arrow
            step, self.kind = tidy.column("step").to_numpy(), tidy.column("kind").to_numpy()
        else:
            step, self.kind = np.empty(m, np.int64), np.empty(m, np.int8)

            def load(a: int, b: int) -> None:
                _copy(step[a:b], tidy, "step", a, b)
                _copy(self.kind[a:b], tidy, "kind", a, b)

            halves(load, m)
        wcode, self.writers = codes(tidy.column("writer"))
        nw = len(self.writers)
        if nw > 1:
            wcode = self._by_start(wcode, tidy.column("time").to_numpy().view(np.int64))
        self.row, row_key = row_index(step if nw == 1 else step * nw + wcode)
        self.n = n = len(row_key)
        self.step, self.wcode = (row_key, np.zeros(n, np.int64)) if nw == 1 else divmod(row_key, nw)
        coder = Coder(tidy.column("key"), keys)
        self.names: list[str] = coder.names.to_pylist()
        k = len(self.names)
        #: each long row's cell in the (keys x rows) grid: key * n + row
        self.flat = flat = self.row if k == 1 else np.empty(m, np.int64)
        if k > 1:
            halves(lambda a, b: coder.fill(flat, a, b, n, self.row), m)
        self.values = np.zeros(k * n, np.float64)
        us = np.empty(n, np.int64)
        #: a cell was logged (with any value, None included) / holds a value (uint8
        #: scatters, viewed as bool: numpy's bool scatter is many times slower)
        logged = np.zeros(k * n, np.uint8)

        def rows_and_cells() -> None:  # each scatter in tidy order: the last value wins
            _scatter(us, self.row, tidy.column("time"))  # datetime64[us] as int64
            logged[flat] = 1

        both(lambda: _scatter(self.values, flat, tidy.column("value")), rows_and_cells, m)
        self.time = us / 1e6
        self.values = self.values.reshape(k, n)
        self.logged = logged.view(bool).reshape(k, n)
        all_kinds = _kind_counts(self.kind)
        if all_kinds[NONE]:
            valid = np.zeros(k * n, np.uint8)
            # last wins, as for the values: a cell logged a number, then None, holds None
            valid[flat] = self.kind != NONE
            self.valid = valid.view(bool).reshape(k, n)
        else:
            self.valid = self.logged
        #: per key, how many cells hold a value
        self.filled = np.count_nonzero(self.valid, axis=1)
        if np.count_nonzero(all_kinds) == 1:  # one kind for every key (all floats, usually)
            self.kinds = np.zeros((k, _KINDS), np.int64)
            logged_per_key = self.filled if self.valid is self.logged else None
            if logged_per_key is None:
                logged_per_key = np.count_nonzero(self.logged, axis=1)
            self.kinds[:, int(np.argmax(all_kinds))] = logged_per_key
        else:
            self.kinds = np.bincount(self.key * _KINDS + self.kind, minlength=k * _KINDS).reshape(
                k, _KINDS
            )
        text = tidy.column("text")
        if text.null_count == len(text):
            self.texts = np.zeros(k, np.int64)
        else:
            has_text = pc.is_valid(text).to_numpy(zero_copy_only=False)
            self.texts = np.bincount(self.key[has_text], minlength=k)
        self._types = _types(self.kinds, self.texts)
        self._tidy = tidy
        self._by_key: tuple[np.ndarray, np.ndarray] | None = None
        self._float_arrays: tuple[pa.Array, pa.Array] | None = None

    @property
    def key(self) -> np.ndarray:
        """Each long row's key code (only reads of values other than plain numbers ask)."""
        if self._key is None:
            self._key = self.flat // self.n
        return self._key

    def _floats(self, with_nulls: bool) -> pa.Array:
        """The whole grid as one float64 array, with the validity bitmap of the cells
        holding a value or (columns without a null) without one."""
        if self._float_arrays is None:
            full = bool((self.filled == self.n).all())
            bits = None if full else pa.py_buffer(np.packbits(self.valid, bitorder="little"))
            data = pa.py_buffer(self.values)
            f64, size = pa.float64(), self.values.size
            plain = pa.Array.from_buffers(f64, size, [None, data], null_count=0)
            some = plain if bits is None else pa.Array.from_buffers(f64, size, [bits, data])
            self._float_arrays = (plain, some)
        return self._float_arrays[with_nulls]

    def numeric(self, j: int) -> type | None:
        """float, int or bool when key `j` holds only that kind of plain number (None cells
        allowed); None when its cells need decoding one by one."""
        return _NUMERIC[int(self._types[j])]

    def one_kind(self, j: int) -> bool:
        """Key `j` holds one kind of value only (Nones aside): an int key that once got a
        float is a float column in `history()`, but its ints stay ints in `scan_history()`."""
        counts = self.kinds[j].copy()
        counts[NONE] = 0
        return np.count_nonzero(counts) == 1

    def tidy_rows(self, j: int) -> np.ndarray:
        """The positions in the tidy table of key `j`'s values, in tidy order."""
        if self._by_key is None:
            order = np.argsort(self.key, kind="stable")
            bounds = np.searchsorted(self.key[order], np.arange(len(self.names) + 1))
            self._by_key = order, bounds
        order, bounds = self._by_key
        return order[bounds[j] : bounds[j + 1]]

    def decoded(self, j: int, run_dir: MediaRoot | None, as_text: bool) -> list[Any]:
        """Key `j`'s cells as logged (None where nothing was logged), or as the text a wide
        string column shows (`as_text`: None also for logged Nones)."""
        idx = self.tidy_rows(j)
        run_dir = bound_at(run_dir, self.names[j])
        cells: list[Any] = [None] * self.n
        take = pa.array(idx)
        texts = self._tidy.column("text").take(take).to_pylist()
        values = self._tidy.column("value").take(take).to_pylist()
        for r, v, k, t in zip(
            self.row[idx].tolist(), values, self.kind[idx].tolist(), texts, strict=True
        ):
            if as_text:
                cells[r] = None if k == NONE else str(decode_value(v, k, t))
            else:
                cells[r] = decode_value(v, k, t, run_dir)
        return cells

    def column(self, j: int, mixed: bool = False) -> pa.Array:
        """Key `j`'s wide column, typed by the kinds logged under it; `mixed`: a key of
        several kinds (not only numbers) holds its values as logged (store/logged_union.py),
        not their text."""
        kind = self.numeric(j)
        if kind is None:
            if not self.kinds[j].any() or self.kinds[j][NONE] == self.kinds[j].sum():
                return pa.nulls(self.n, pa.string())
            if mixed and not self.one_kind(j):
                return logged_union(self.decoded(j, None, as_text=False))
            return pa.array(self.decoded(j, None, as_text=True), pa.string())
        if kind is float:  # a view of the grid, no copy: a slice of it as one array
            nulls = self.n - int(self.filled[j])
            return self._floats(with_nulls=nulls > 0).slice(j * self.n, self.n)
        valid = self.valid[j]
        mask = None if self.filled[j] == self.n else ~valid
        plain = np.where(valid, self.values[j], 0)  # a logged None is NaN here
        return pa.array(plain.astype(np.int64) if kind is int else plain != 0, mask=mask)


def _copy(out: np.ndarray, tidy: pa.Table, name: str, a: int, b: int) -> None:
    """`out[:] = tidy[name][a:b]`, a chunk at a time: no concatenated copy of the column."""
    pos = 0
    for c in tidy.column(name).slice(a, b - a).chunks:
        out[pos : pos + len(c)] = c.to_numpy(zero_copy_only=False)
        pos += len(c)


def _scatter(out: np.ndarray, at: np.ndarray, col: pa.ChunkedArray) -> None:
    """`out[at] = col`, a chunk at a time: no concatenated copy of the column."""
    pos = 0
    for c in col.chunks:
        out[at[pos : pos + len(c)]] = c.to_numpy(zero_copy_only=False).view(out.dtype)
        pos += len(c)


def _kind_counts(kind: np.ndarray) -> np.ndarray:
    """How many values of each kind (one kind only, the usual run: without counting)."""
    if len(kind) and kind.min() == kind.max():
        counts = np.zeros(_KINDS, np.int64)
        counts[int(kind[0])] = len(kind)
        return counts
    return np.bincount(kind, minlength=_KINDS)


#: `_types` codes -> the Python type of a plain-number key (None: decoded cell by cell)
_NUMERIC: tuple[type | None, ...] = (None, float, int, bool)


def _types(kinds: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """Per key: 1 float, 2 int, 3 bool (only that kind of plain number, Nones allowed; an
    int past 2**53 has a text), 0 when the cells must be decoded one by one."""
    counts = kinds.copy()
    counts[:, NONE] = 0
    number = counts[:, [FLOAT, INT, BOOL]].sum(axis=1)
    plain = (number > 0) & (number == counts.sum(axis=1)) & (texts == 0)
    out = np.where(plain, 1, 0)
    out[plain & (counts[:, INT] == number)] = 2
    out[plain & (counts[:, BOOL] == number)] = 3
    return out


def _empty() -> pa.Table:
    return pa.table(
        {
            "_step": pa.array([], pa.int64()),
            "_timestamp": pa.array([], pa.float64()),
            "_runtime": pa.array([], pa.float64()),
            "_writer": pa.array([], pa.string()),
        }
    )


def pivot(
    tidy: pa.Table, created_at: float, keys: Collection[str] | None = None, mixed: bool = False
) -> pa.Table:
    """Long history -> wide table (one column per key, typed by what was logged); `key`
    and `writer` may be plain strings or dictionaries; `keys`: the rows are those of these
    keys only (their files' dictionaries may name others: they get no column); `mixed`: see
    `Grid.column`."""
    if tidy.num_rows == 0:
        return _empty()
    g = Grid(tidy, keys)
    out: dict[str, pa.Array] = {
        "_step": pa.array(g.step),
        "_timestamp": pa.array(g.time),
        "_runtime": pa.array(g.time - created_at),
        "_writer": pa.repeat(g.writers[0], g.n)
        if len(g.writers) == 1
        else pa.array(g.writers, pa.string()).take(pa.array(g.wcode)),
    }
    media = []
    for j, name in enumerate(g.names):
        out[name] = g.column(j, mixed)
        if g.kinds[j][MEDIA]:
            media.append(name)
    # media columns hold each reference's JSON; named here so readers can rebuild MediaRefs
    return pa.table(out).replace_schema_metadata({MEDIA_COLUMNS: json.dumps(media).encode()})


def row_blocks(
    tidy: pa.Table,
    created_at: float,
    run_dir: MediaRoot | None,
    *,
    min_step: int | None = None,
    max_step: int | None = None,
    every_key: Sequence[str] = (),
    keys: Collection[str] | None = None,
) -> Iterator[Iterable[dict[str, Any]]]:
    """One dict per logged row, in (step, writer) order, values exactly as they were logged
    (the keys logged in that row only, None included when None was logged), a block of
    rows at a time: `itertools.chain.from_iterable` of it hands them out without a Python
    frame per row. Only rows with `min_step <= _step < max_step` holding every key of
    `every_key` are given.

    Rows logging the same keys are made together, one dict per row (store/row_dicts.py),
    each value made as its row is built (wide rows of floats: a block at a time); a block of
    rows of several key sets takes each stretch of rows from its key set's dicts."""
    if tidy.num_rows == 0:
        return
    pieces = step_pieces.sparse(tidy)
    if pieces is not None:
        for piece in pieces:
            yield from row_blocks(
                piece,
                created_at,
                run_dir,
                min_step=min_step,
                max_step=max_step,
                every_key=every_key,
                keys=keys,
            )
        return
    g = Grid(tidy, keys)
    if any(key not in g.names for key in every_key):
        return
    keep = np.ones(g.n, bool)
    if min_step is not None:
        keep &= g.step >= min_step
    if max_step is not None:
        keep &= g.step < max_step
    for key in every_key:
        keep &= g.logged[g.names.index(key)]
    kept = np.flatnonzero(keep)
    floats = _only_floats(g)
    if floats:  # each key's cells are the grid's row as it is: no per-key checks
        cols: Sequence[np.ndarray] = g.values
    else:
        cols = [_python_column(g, j, run_dir) for j in range(len(g.names))]
    runtime = g.time - created_at
    by_row = np.array(g.writers, dtype=object)[g.wcode] if len(g.writers) > 1 else None

    def meta(rows: Any) -> list[Iterable[Any]]:
        """The `_` columns of `rows` (one writer: its label, without an object array)."""
        n = len(range(*rows.indices(g.n))) if isinstance(rows, slice) else len(rows)
        writer = repeat(g.writers[0], n) if by_row is None else by_row[rows].tolist()
        return [
            python_values(g.step[rows]),
            python_values(g.time[rows]),
            python_values(runtime[rows]),
            writer,
        ]

    block = max(1, _BLOCK_CELLS // max(len(g.names), 1))
    every = len(kept) == g.n  # no row filtered out: blocks are slices, not copies
    for a in range(0, len(kept), block):
        rows: Any = slice(a, a + block) if every else kept[a : a + block]
        logged = g.logged[:, rows]
        if logged.all() and floats and len(g.names) > DISPLAY_KEYS:  # wide rows of floats
            # each row's values by one tolist of the block, not a list per key: 2x faster
            heads = map(list, zip(*meta(rows), strict=True))
            values = map(list.__add__, heads, g.values[:, rows].T.tolist())
            yield map(dict, map(zip, repeat(list(_META) + g.names), values))
            continue
        if logged.all():  # every key in every row: the usual dense run
            yield make_dicts(
                list(_META) + g.names, meta(rows) + [python_values(c[rows]) for c in cols]
            )
            continue
        if every:
            rows = np.arange(a, min(a + block, g.n))
        # the keys this block logs, not all the run's: a run that logs a new key every few
        # rows has as many keys as rows, and key sets over all of them made reading quadratic
        seen = np.flatnonzero(logged.any(axis=1))
        which, patterns = key_sets(logged[seen])
        patterns = [seen[p].tolist() for p in patterns]
        if len(patterns) == 1:  # every row of the block logs the same keys
            present = patterns[0]
            columns = meta(rows) + [python_values(cols[j][rows]) for j in present]
            yield make_dicts(list(_META) + [g.names[j] for j in present], columns)
            continue
        # the dicts of each key set made lazily, in row order; each stretch of rows of one key
        # set takes that many from its set's (in C: no Python frame per row, and each dict
        # made when it is asked for)
        small = which.astype(np.uint16) if len(patterns) <= 1 << 16 else which
        order = np.argsort(small, kind="stable")  # a radix sort for 16-bit numbers
        ends = np.cumsum(np.bincount(which, minlength=len(patterns))).tolist()
        made = np.empty(len(patterns), object)
        for p, (present, start, end) in enumerate(zip(patterns, [0, *ends], ends, strict=False)):
            at = rows[order[start:end]]
            columns = meta(at) + [python_values(cols[j][at]) for j in present]
            made[p] = make_dicts(list(_META) + [g.names[j] for j in present], columns)
        starts = np.flatnonzero(np.diff(which, prepend=-1))
        lengths = np.diff(starts, append=len(which)).tolist()
        yield chain.from_iterable(map(islice, made[which[starts]].tolist(), lengths))


def _only_floats(g: Grid) -> bool:
    """Every logged cell holds a float (no None, no other kind): the grid's values are the
    logged ones."""
    return bool(g.kinds[:, FLOAT].sum() == g.kinds.sum() and not g.texts.any())


def _python_column(g: Grid, j: int, run_dir: MediaRoot | None) -> np.ndarray:
    """Key `j`'s cells, as numbers numpy converts to the logged Python type, or (keys that
    hold other kinds, or Nones) as the decoded Python values."""
    kind = g.numeric(j)
    if kind is None or not g.one_kind(j) or g.valid[j].sum() != g.logged[j].sum():
        return np.array(g.decoded(j, run_dir, as_text=False), dtype=object)
    if kind is int:
        return g.values[j].astype(np.int64)
    return g.values[j] != 0 if kind is bool else g.values[j]
