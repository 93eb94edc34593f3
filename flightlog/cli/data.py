"""`flightlog export` and `flightlog sql`: getting data out."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import fmt, open_index, print_table
from .reads import add_host


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "export",
        parents=[common],
        help="a run's history as csv/parquet/jsonl",
        description="Example: flightlog export brisk-otter-3 --keys loss acc "
        "--format csv -o loss.csv",
    )
    p.add_argument("run", help="id, name, or project/id")
    p.add_argument("--keys", nargs="+", metavar="KEY", help="only these metrics")
    p.add_argument("--format", choices=["csv", "parquet", "jsonl"], default="csv")
    p.add_argument("-o", "--output", metavar="FILE", help="default: standard output")
    add_host(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "sql",
        parents=[common],
        help="read-only DuckDB SQL over runs/history/config/summary",
        description="Views: runs (one row per run), history (run_key, writer, step, time, key, "
        "value, kind, text), config and summary (run_key, key, num, text, json). "
        'Example: flightlog sql "SELECT run_key, max(value) FROM history '
        "WHERE key = 'acc' GROUP BY ALL\"",
    )
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_sql)


def cmd_export(args: argparse.Namespace) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from .reads import reads

    with reads(args) as src:
        row = src.resolve(args.run)
        table = src.history(row, args.keys)
    if args.keys:
        missing = [k for k in args.keys if k not in table.column_names]
        if missing:
            raise ValueError(
                f"run {row['id']} has no metric {', '.join(missing)}: "
                f"`flightlog show {row['id']}` lists those it logged"
            )
    if args.format == "parquet":
        if not args.output:
            raise ValueError("parquet is binary: give a file with -o FILE")
        pq.write_table(table, args.output)
    elif args.format == "csv":
        sink = args.output or sys.stdout.buffer
        pacsv.write_csv(table, sink)
    else:
        out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
        try:
            for rec in table.to_pylist():
                out.write(json.dumps(rec, default=str) + "\n")
        finally:
            if args.output:
                out.close()
    if args.output:
        print(
            f"wrote {table.num_rows} rows x {table.num_columns} columns to {args.output}",
            file=sys.stderr,
        )
    return 0


READ_ONLY_TYPES = ("SELECT", "EXPLAIN")


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from flightlog.store.query import create_sql_views

    with open_index(args) as idx:
        statements = idx.con.extract_statements(args.query)
        for st in statements:
            kind = str(st.type).rsplit(".", 1)[-1]
            if kind not in READ_ONLY_TYPES:
                raise PermissionError(
                    f"flightlog sql is read-only: {kind} statements are refused. Query the "
                    "views runs, history, config and summary with SELECT"
                )
        create_sql_views(idx)
        try:
            cur = idx.con.execute(args.query)
        except duckdb.Error as e:
            raise ValueError(str(e).splitlines()[0]) from e
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    if args.format == "json":
        print(json.dumps([dict(zip(names, r, strict=True)) for r in rows], default=str, indent=1))
    elif args.format == "csv":
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(names)
        w.writerows(rows)
    else:
        print_table(names, [[fmt(v) for v in r] for r in rows])
    return 0
