"""Listing runs from the index: the filters and sort orders of `flightlog runs` and the UI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .filters import HISTORY_COLUMNS, RUN_FIELDS, FilterError, compile_filter, reads_history
from .index import Index
from .layout import ENTITY_MARK
from .summary_columns import NUMERIC_SQL, default_columns

LIST_COLUMNS = (
    'run_key, entity, project, id, name, "group", job_type, tags, state, steps, "values", '
    'created_at, ended_at, last_time, host, "user", notes, error, dir, warnings, sync, '
    "CASE WHEN partial AND ended_at IS NULL THEN NULL "  # not known yet: not guessed
    "ELSE coalesce(ended_at, last_time, epoch(now())) - created_at END AS duration"
)


def _order(sort: str | None, params: list[Any]) -> str:
    if not sort:
        return "ORDER BY runs.created_at, runs.run_key"
    desc = sort.startswith("-")
    key = sort.lstrip("-+")
    direction = "DESC" if desc else "ASC"
    if key.startswith(("summary.", "config.")):
        table, k = key.split(".", 1)
        params.append(k)
        # NaN (a diverged metric) with the runs that lack the key, last: DuckDB orders NaN
        # above every number, which made it the best run of a sort by accuracy
        return (
            f"ORDER BY (SELECT CASE WHEN isnan(x.num) THEN NULL ELSE x.num END FROM {table} x "
            f"WHERE x.run_key = runs.run_key AND x.key = ?) {direction} NULLS LAST, runs.run_key"
        )
    col = RUN_FIELDS.get(key)
    if col is None:
        raise FilterError(
            f"cannot sort by {key!r}: use a run field, summary.KEY or config.KEY", sort, 0
        )
    return f"ORDER BY {col} {direction} NULLS LAST, runs.run_key"


@dataclass(frozen=True)
class RunQuery:
    """Which runs: every given condition holds. `scopes` limits them to (entity, project)
    pairs (a server's readable projects); `where` is the filter language."""

    project: str | None = None
    entity: str | None = None
    group: str | None = None
    tags: Sequence[str] = ()
    state: str | None = None
    where: str | None = None
    run_keys: Sequence[str] | None = None
    scopes: Sequence[tuple[str, str]] | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """The WHERE clause (or '') and its parameters."""
        conds: list[str] = []
        params: list[Any] = []
        if self.run_keys is not None:
            conds.append("runs.run_key IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(self.run_keys))
        if self.scopes is not None:
            conds.append(
                "(runs.entity, runs.project) IN (SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]))"
            )
            params.extend([[e for e, _ in self.scopes], [p for _, p in self.scopes]])
        pairs = (
            ("entity", self.entity),
            ("project", self.project),
            ('"group"', self.group),
            ("state", self.state),
        )
        for col, value in pairs:
            if value is not None:
                conds.append(f"runs.{col} = ?")
                params.append(value)
        for t in self.tags:
            conds.append("list_contains(runs.tags, ?)")
            params.append(t)
        if self.where:
            compiled = compile_filter(self.where)
            conds.append(compiled.sql)
            params.extend(compiled.params)
        return (" WHERE " + " AND ".join(conds) if conds else ""), params


def select_runs(
    idx: Index,
    *,
    sort: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    describe: bool = True,
    **query: Any,
) -> list[dict[str, Any]]:
    """Runs matching every given condition (RunQuery's fields), as dicts of the index's run
    columns. Thread-safe: each call reads through its own cursor of the index, except on
    an index holding partial runs (a listing's: store/index_tables.py), which it describes
    first - all of them if the filter or sort reads what they lack, else those it lists.
    Stubs (known by key and start only) are described first where the query reads more
    of them (`stubs_in_doubt`), and always those it lists.
    `describe=False`: partial runs as they are (steps, values, duration not known: None),
    unless the filter or order reads them (then every run is described first, as always)."""
    clauses, params = _clauses(sort, query)
    sql = f"SELECT {LIST_COLUMNS} FROM runs{clauses}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if offset:
        sql += f" OFFSET {int(offset)}"
    if idx.stubs and (doubt := stubs_in_doubt(sort, **query)):
        idx.describe_stubs(where=doubt)  # else the filter or order would answer wrongly
    if idx.partial and reads_history(clauses):
        idx.complete()  # else the filter or order would answer wrongly
    rows = _fetch(idx, sql, params)
    # the stubs listed, read: a stub's ledger may be wrong of its start, or its run gone
    while idx.stubs and rows and idx.describe_stubs([r["run_key"] for r in rows], None, describe):
        rows = _fetch(idx, sql, params)
    if describe and idx.partial and rows and idx.complete([r["run_key"] for r in rows]):
        rows = _fetch(idx, sql, params)  # the same runs, in the same order: now described
    return rows


#: what a stub knows (store/index_tables.py): RunQuery's fields it can be filtered on
_STUB_KNOWS = ("run_keys", "project", "entity", "scopes")


def stubs_in_doubt(sort: str | None = None, **query: Any) -> str | None:
    """Which stubs a query reads more of than a stub holds (a condition on their rows),
    None if none: the default order (by start) knows them all, and so do filters on their
    key; a project, or an entity, is their directory's, except where run.json may name
    another: the entity of a run under runs/<project>/, and the project of a run under an
    earlier server root's runs/<entity>.<project>/ (store/describe.py)."""
    key = (sort or "created_at").lstrip("-+")
    if key not in ("created_at", "started") or any(
        v for k, v in query.items() if k not in _STUB_KNOWS and v
    ):
        return "TRUE"
    scoped = query.get("scopes") is not None
    doubt = []
    if scoped or query.get("entity") is not None:
        doubt.append("entity IS NULL")
    if scoped or query.get("project") is not None:
        doubt.append("(entity IS NULL AND contains(project, '.'))")
    return " OR ".join(doubt) or None


def needs_history(sort: str | None = None, **query: Any) -> bool:
    """Whether the query's filter or order reads what a partial run lacks (its steps, its
    last row's time): answering it needs every run described."""
    return reads_history(_clauses(sort, query)[0])


#: what a listing's SQL holds when it reads a column a training run changes
LIVE_READS = (*HISTORY_COLUMNS, "runs.ended_at", "FROM summary")


def reads_live(where: str | None, sort: str | None) -> bool:
    """Whether a listing's filter or order reads a column a training run changes (then the
    index must hold the runs' latest: nothing is held back, store/live_runs.py). A filter
    that does not compile counts as one (the listing itself reports it)."""
    try:
        sql = _clauses(sort, {"where": where})[0]
    except FilterError:
        return True
    return any(c in sql for c in LIVE_READS)


def _clauses(sort: str | None, query: dict[str, Any]) -> tuple[str, list[Any]]:
    """A listing's WHERE and ORDER BY (what `reads_history` looks at), and their parameters."""
    where, params = RunQuery(**query).sql()
    return f"{where} {_order(sort, params)}", params


def _fetch(idx: Index, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with idx.con.cursor() as cur:
        cur.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def count_runs(idx: Index, **query: Any) -> int:
    """How many runs select_runs would list without a limit."""
    where, params = RunQuery(**query).sql()
    if not where and idx.total is not None:
        return idx.total  # counted by the open's survey (a statement less a live refresh)
    if idx.stubs and (doubt := stubs_in_doubt(**query)):
        idx.describe_stubs(where=doubt)
    if idx.partial and reads_history(where):
        idx.complete()
    with idx.con.cursor() as cur:
        return int(cur.execute(f"SELECT count(*) FROM runs{where}", params).fetchone()[0])


def values_of(idx: Index, table: str, run_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """run_key -> {key: value as logged} from the `config` or `summary` table."""
    if table not in ("config", "summary"):
        raise ValueError(f"no such table {table!r}")
    out: dict[str, dict[str, Any]] = {k: {} for k in run_keys}
    with idx.con.cursor() as cur:
        rows = cur.execute(
            f"SELECT run_key, key, json FROM {table} "
            "WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
            [list(run_keys)],
        ).fetchall()
    for run_key, key, value in rows:
        out[run_key][key] = json.loads(value)
    return out


def common_summary_keys(idx: Index, run_keys: Sequence[str], limit: int = 3) -> list[str]:
    """The default metric columns of `run_keys`' numeric summary keys (not `_`-prefixed),
    ranked as store/summary_columns.py says: keys the scripts declared with define_metric
    (their summary is a min/max/mean the author chose), keys most runs share, a loss or an
    eval metric before bookkeeping."""
    wanted = list(run_keys)
    defined = idx.con.execute(
        "SELECT DISTINCT unnest(defined_metrics) FROM runs "
        "WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
        [wanted],
    ).fetchall()
    counted = idx.con.execute(
        "WITH s AS (SELECT run_key, key FROM summary WHERE run_key IN "
        f"(SELECT unnest(?::VARCHAR[])) AND {NUMERIC_SQL} AND NOT starts_with(key, '_')) "
        "SELECT key, count(DISTINCT run_key), (SELECT count(DISTINCT run_key) FROM s) "
        "FROM s GROUP BY key",
        [wanted],
    ).fetchall()
    counts = {str(k): int(n) for k, n, _ in counted}
    runs = int(counted[0][2]) if counted else 0
    return default_columns(counts, runs, {str(r[0]) for r in defined}, limit)


class RunLookupError(LookupError):
    """A RUN argument that matches no run, or several."""


def resolve_run(idx: Index, ref: str) -> dict[str, Any]:
    """A run by id, name, project/id, entity/project/id (or a name in place of the id);
    ambiguity lists the candidates."""
    by_id, by_name = run_ref_filters(ref)
    rows = select_runs(idx, where=by_id) or select_runs(idx, where=by_name)
    if not rows:
        raise RunLookupError(f"no run {ref!r} in {idx.root}: `flightlog runs` lists them")
    if len(rows) > 1:
        cands = ", ".join(f"{r['project']}/{r['id']} ({r['name']})" for r in rows)
        raise RunLookupError(f"{ref!r} matches {len(rows)} runs: {cands}; use project/id")
    return rows[0]


def run_ref_filters(ref: str) -> tuple[str, str]:
    """The filters that find a RUN argument - an id, a name, project/id, entity/project/id
    or @entity/project/id (a run's key), a name in place of the id - by id, then by name:
    one reading of the argument for a store and a server (sync/remote.py) alike."""
    scope, _, last = ref.rpartition("/")
    entity, _, project = scope.rpartition("/")
    terms = [f"entity = {quote(entity.removeprefix(ENTITY_MARK))}"] if entity else []
    terms += [f"project = {quote(project)}"] if project else []
    by_id, by_name = ([*terms, f"{field} = {quote(last)}"] for field in ("id", "name"))
    return " and ".join(by_id), " and ".join(by_name)


def quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
