"""`flightlog runs`, `show` and `compare`: looking at runs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._common import (
    console,
    fmt,
    fmt_duration,
    fmt_time,
    fmt_value,
    positive_int,
    print_table,
    safe,
)
from .reads import LocalReads, add_host, reads

STATE_ICON = {"running": "●", "finished": "✓", "failed": "✗", "crashed": "☠"}


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "runs",
        parents=[common],
        help="list runs (filter, sort, pick metric columns)",
        description="List runs. Example: flightlog runs --where 'summary.val/loss < 0.3 and "
        "config.lr >= 1e-3' --sort summary.val/loss --metric val/loss",
    )
    p.add_argument("--project")
    p.add_argument("--entity", help="runs of this user or team (a server root's level)")
    p.add_argument("--group")
    p.add_argument("--tag", action="append", default=[], help="repeatable: runs with every tag")
    p.add_argument("--state", choices=["running", "finished", "failed", "crashed"])
    p.add_argument(
        "--where",
        metavar="EXPR",
        help="filter: config.KEY / summary.KEY / run fields, and/or/not, "
        "< <= > >= = != ~ (see README)",
    )
    p.add_argument(
        "--sort",
        metavar="KEY",
        help="run field, summary.KEY or config.KEY (--sort=-KEY or --desc: descending)",
    )
    p.add_argument("--desc", action="store_true", help="sort descending")
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="KEY",
        help="summary columns to show (default: the 3 most common)",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="the first N runs: the N newest (with --sort: the first N in its order)",
    )
    p.add_argument("--json", action="store_true", help="a JSON array of run objects")
    add_host(p)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser(
        "show",
        parents=[common],
        help="one run: metadata, config, metrics",
        description="Example: flightlog show brisk-otter-3",
    )
    p.add_argument("run", help="id, name, project/id or entity/project/id")
    p.add_argument("--json", action="store_true")
    add_host(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "compare",
        parents=[common],
        help="config differences, summaries",
        description="Example: flightlog compare k3v9q2xa mnist/p0x81c2m",
    )
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--json", action="store_true")
    add_host(p)
    p.set_defaults(func=cmd_compare)


def _run_object(row: dict[str, Any], config: dict[str, Any], summary: dict[str, Any]) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "entity": row["entity"],
        "project": row["project"],
        "group": row["group"],
        "job_type": row["job_type"],
        "tags": row["tags"],
        "state": row["state"],
        "sync": row["sync"],
        "steps": row["steps"],
        "created_at": row["created_at"],
        "duration": row["duration"],
        "host": row["host"],
        "path": row["dir"],
        "config": config,
        "summary": summary,
    }


def _path(row: dict[str, Any]) -> str:
    """entity/project, or the project of a run without an entity."""
    return f"{row['entity']}/{row['project']}" if row.get("entity") else row["project"]


def cmd_runs(args: argparse.Namespace) -> int:
    sort = ("-" + args.sort.lstrip("-")) if args.sort and args.desc else args.sort
    with reads(args, listing=True) as src:
        rows = src.runs(
            project=args.project,
            entity=args.entity,
            group=args.group,
            tags=args.tag,
            state=args.state,
            where=args.where,
            # newest first unless asked, as the TUI's runs screen and wandb's runs table
            # list them (`--limit N` alone: the N newest)
            sort=sort or "-created_at",
            limit=args.limit,
        )
        keys = [r["run_key"] for r in rows]
        from flightlog.sync.lock import idle_agent_note

        pending = sum(r["sync"] == "pending" for r in rows)
        if isinstance(src, LocalReads) and (note := idle_agent_note(src.idx.root, pending)):
            print(f"flightlog: {note}", file=sys.stderr)
        if args.json:
            cfg, summ = src.values("config", keys), src.values("summary", keys)
            print(
                json.dumps(
                    [_run_object(r, cfg[r["run_key"]], summ[r["run_key"]]) for r in rows],
                    indent=1,
                    default=str,
                )
            )
            return 0
        metrics = args.metric or src.common_keys(keys)
        summ = src.values("summary", keys)
    if not rows:
        print(
            f"no runs match in {src.where}"
            if (args.where or args.project or args.entity or args.tag or args.state or args.group)
            else f"no runs in {src.where} yet — log one with:\n  import flightlog\n"
            "  run = flightlog.init(project='demo')\n  run.log({'loss': 0.1}); "
            "run.finish()"
        )
        return 0
    entities = any(r["entity"] for r in rows)  # a column only where some run has one
    headers = [
        "",
        "name",
        "id",
        *(["entity"] if entities else []),
        "project",
        "group",
        "tags",
        "steps",
        "started",
        "duration",
        "sync",
        *metrics,
    ]
    table = []
    for r in rows:
        s = summ[r["run_key"]]
        table.append(
            [
                STATE_ICON.get(r["state"], "?") + ("!" if r["warnings"] else ""),
                r["name"],
                r["id"],
                *([r["entity"] or ""] if entities else []),
                r["project"],
                r["group"] or "",
                ",".join(r["tags"] or []),
                str(r["steps"]),
                fmt_time(r["created_at"]),
                fmt_duration(r["duration"]),
                r["sync"] or "local",
                *[fmt(s.get(m)) for m in metrics],
            ]
        )
    shift = int(entities)
    print_table(
        headers, table, right={6 + shift, 8 + shift, *range(10 + shift, 10 + shift + len(metrics))}
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from flightlog.store.text import metric_cells

    with reads(args) as src:
        row = src.resolve(args.run)
        key = row["run_key"]
        stats = src.stats(key)  # one scan; from a server, its view serves the meta too
        meta = src.meta(key)
        config = src.values("config", [key])[key]
        summary = src.values("summary", [key])[key]
    if args.json:
        print(
            json.dumps(
                {
                    **_run_object(row, config, summary),
                    "git": meta.get("git"),
                    "command": meta.get("command"),
                    "error": row["error"],
                    "metrics": stats,
                },
                indent=1,
                default=str,
            )
        )
        return 0
    from rich.markup import escape

    c = console()
    c.print(
        f"[bold]{escape(safe(row['name']))}[/] ({escape(safe(row['id']))}) · "
        f"{escape(safe(_path(row)))} · {STATE_ICON.get(row['state'], '')} {row['state']}"
    )
    lines = [
        (
            "started",
            f"{fmt_time(row['created_at'])} on {row['host']} by {row['user']}, "
            f"ran {fmt_duration(row['duration'])}",
        ),
        ("group", row["group"]),
        ("job type", row["job_type"]),
        ("tags", ", ".join(row["tags"] or [])),
        ("notes", row["notes"]),
        ("command", " ".join(meta.get("command") or [])),
    ]
    git = meta.get("git") or {}
    if git:
        lines.append(
            (
                "git",
                f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''} "
                f"{git.get('branch') or ''} {git.get('remote') or ''}".strip(),
            )
        )
    lines.append(("dir", row["dir"]))
    if row["error"]:
        lines.append(("error", row["error"].strip().splitlines()[-1]))
    if row["warnings"]:
        lines.append(("warning", row["warnings"]))
    for label, value in lines:
        if value:
            c.print(f"  [dim]{label:9}[/] {escape(safe(value))}", markup=True)
    if config:
        c.print("\n[bold]config[/]")
        for k, v in config.items():
            c.print(f"  {safe(k)} = {fmt_value(v)}", markup=False)
    if stats:
        print()
        print_table(
            ["metric", "last", "min", "max", "n", ""],
            [metric_cells(st) for st in stats],
            right={1, 2, 3, 4},
            shrink=0,
        )
    extra = {
        k: v
        for k, v in summary.items()
        if not k.startswith("_") and k not in {s["key"] for s in stats}
    }
    if extra:
        c.print("\n[bold]summary[/]")
        for k, v in extra.items():
            c.print(f"  {safe(k)} = {fmt(v)}", markup=False)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from flightlog.store.goals import best_value, goal_of

    if len(args.runs) < 2:
        raise ValueError("compare needs at least two runs")
    with reads(args) as src:
        rows = [src.resolve(r) for r in args.runs]
        keys = [r["run_key"] for r in rows]
        cfg = src.values("config", keys)
        summ = src.values("summary", keys)
        definitions = [m for k in keys for m in src.meta(k).get("metrics") or []]
    cfg_keys = sorted({k for c in cfg.values() for k in c})
    differ = [
        k for k in cfg_keys if len({json.dumps(cfg[r].get(k), sort_keys=True) for r in keys}) > 1
    ]
    summ_keys = sorted({k for s in summ.values() for k in s if not k.startswith("_")})
    if args.json:
        print(
            json.dumps(
                {
                    "runs": [
                        {"id": r["id"], "name": r["name"], "project": r["project"]} for r in rows
                    ],
                    "config_differences": {k: [cfg[r].get(k) for r in keys] for k in differ},
                    "summary": {k: [summ[r].get(k) for r in keys] for k in summ_keys},
                },
                indent=1,
                default=str,
            )
        )
        return 0
    header = ["key", *[f"{r['name']} ({r['id']})" for r in rows]]
    right = set(range(1, len(header)))
    diff_rows = [[k, *[fmt_value(cfg[r].get(k)) for r in keys]] for k in differ]
    print_table(
        header,
        diff_rows or [["(identical configs)", *[""] * len(keys)]],
        right,
        title="config that differs",
    )
    print()
    summary_rows = []
    for k in summ_keys:
        values = [summ[r].get(k) for r in keys]
        goal = goal_of(k, definitions)
        best = best_value(values, goal)
        cells = [fmt(v) + (" *" if best is not None and v == best else "") for v in values]
        summary_rows.append([k, *cells, goal.label if goal else "-"])
    print_table(
        [*header, "better"],
        summary_rows,
        right,
        title="summary (* best; better: define_metric goal or summary, else the name)",
    )
    return 0
