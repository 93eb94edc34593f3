"""The `flightlog` command: a thin layer over the library (as sqlite-utils' CLI is).

Errors are one readable line on stderr and exit code 1; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flightlog.store import StoredRun

from ._api import Api
from ._errors import Error


def _root(args: argparse.Namespace) -> Path:
    if args.root:
        return Path(args.root)
    return Api().root


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _run_json(r: StoredRun) -> dict[str, Any]:
    m = r.meta
    return {
        "id": m.get("id"),
        "name": m.get("name"),
        "project": m.get("project"),
        "entity": m.get("entity"),
        "group": m.get("group"),
        "job_type": m.get("job_type"),
        "tags": r.tags,
        "state": r.state,
        "steps": r.last_step + 1,
        "created_at": m.get("created_at"),
        "config": r.config,
        "summary": r.summary,
        "path": str(r.dir),
    }


def cmd_runs(args: argparse.Namespace) -> int:
    runs = Api(_root(args)).runs(args.project)
    if args.json:
        print(json.dumps([_run_json(r) for r in runs], indent=1, default=str))
        return 0
    if not runs:
        print(
            f"no runs in {_root(args)} — log one with: import flightlog; "
            "run = flightlog.init(); run.log({'x': 1}); run.finish()"
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("name", "id", "project", "state", "group", "steps", "started"):
        table.add_column(col, no_wrap=True, min_width=len(col))
    for r in runs:
        table.add_row(
            r.meta.get("name", "?"),
            r.meta.get("id", "?"),
            r.meta.get("project", "?"),
            r.state,
            r.meta.get("group") or "",
            str(r.last_step + 1),
            _fmt_time(r.meta.get("created_at")),
        )
    # never truncate names or ids when piped (rich assumes 80 columns then)
    Console(width=None if sys.stdout.isatty() else 1000).print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    r = Api(_root(args)).run(args.run)
    if args.json:
        print(
            json.dumps(
                {**_run_json(r), "git": r.git, "command": r.meta.get("command"), "error": r.error},
                indent=1,
                default=str,
            )
        )
        return 0
    m = r.meta
    lines = [
        f"{m.get('name')} ({m.get('id')}) · {m.get('project')} · {r.state}",
        f"  started  {_fmt_time(m.get('created_at'))} on {m.get('host')} by {m.get('user')}",
        f"  command  {' '.join(m.get('command') or [])}",
    ]
    git = r.git
    if git:
        dirty = " (dirty)" if git.get("dirty") else ""
        lines.append(
            f"  git      {git.get('commit')}{dirty} {git.get('branch') or ''} "
            f"{git.get('remote') or ''}".rstrip()
        )
    if r.config:
        lines.append("  config   " + ", ".join(f"{k}={_fmt(v)}" for k, v in r.config.items()))
    summ = {k: v for k, v in r.summary.items() if not k.startswith("_")}
    if summ:
        lines.append("  summary  " + ", ".join(f"{k}={_fmt(v)}" for k, v in summ.items()))
    if r.error:
        lines.append("  error    " + r.error.strip().splitlines()[-1])
    lines.append(f"  dir      {r.dir}")
    print("\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="flightlog", description="Offline-first experiment tracker.")
    p.add_argument("--version", action="version", version="flightlog 0.1.0")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", help="the store (default: FLIGHTLOG_DIR, else ./flightlog)")
    common.add_argument("--json", action="store_true", help="print JSON")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    runs = sub.add_parser("runs", parents=[common], help="list runs")
    runs.add_argument("--project", help="only this project")
    runs.set_defaults(func=cmd_runs)
    show = sub.add_parser("show", parents=[common], help="one run's metadata and summary")
    show.add_argument("run", help="run id, or project/id")
    show.set_defaults(func=cmd_show)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (Error, OSError, ValueError) as e:
        if args.debug or os.environ.get("FLIGHTLOG_DEBUG"):
            raise
        print(f"flightlog: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
