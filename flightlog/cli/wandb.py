"""`flightlog wandb enable|disable|status`: `import wandb` as flightlog, on request."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "wandb",
        help="make `import wandb` give flightlog (enable, disable, status)",
        description="Frameworks (HF Trainer report_to='wandb', Lightning's WandbLogger, "
        "Accelerate log_with='wandb') import wandb themselves; `enable` makes that import give "
        "flightlog in this environment. Example: flightlog wandb enable",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, helptext in (
        ("enable", "write the `wandb` alias into site-packages"),
        ("disable", "remove the alias (and put back a wandb that --force moved aside)"),
        ("status", "say which `wandb` this environment imports"),
    ):
        a = actions.add_parser(name, help=helptext, description=helptext)
        if name != "status":
            a.add_argument(
                "--target",
                metavar="DIR",
                help="this directory instead of site-packages (e.g. one put on PYTHONPATH)",
            )
        if name == "enable":
            a.add_argument(
                "--force", action="store_true", help="move an installed wandb aside first"
            )
        a.set_defaults(func=cmd_wandb)

    p = sub.add_parser(
        "import",
        parents=[common],
        help="import existing wandb runs into the store",
        description="Converts wandb runs (offline-run-* / run-* directories, their .wandb "
        "logs, or the wandb/ folder holding them) into the store: config, summary, every "
        "history row with its step and time, console output and files. Runs already "
        "imported are skipped. Example: flightlog import wandb ./wandb",
    )
    p.add_argument("source", choices=["wandb"], help="where the runs come from")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "alerts",
        parents=[common],
        help="list the alerts runs raised (run.alert / wandb.alert)",
        description="Every alert kept with the runs of the store, oldest first. "
        "Example: flightlog alerts --project demo --level ERROR",
    )
    p.add_argument("--project", help="only this project's runs")
    p.add_argument("--level", choices=["INFO", "WARN", "ERROR"], help="only this level")
    p.set_defaults(func=cmd_alerts)


def cmd_import(args: argparse.Namespace) -> int:
    from flightlog import _wandb_import as w
    from flightlog.store.text import safe

    from ._common import root
    from .maintain import _progress

    files = w.find(args.paths)
    with _progress("importing wandb runs") as update:
        results = w.import_all(files, root(args), update)
    for r in results:
        extra = f", {r.left_out} media values left out" if r.left_out else ""
        counts = f"{r.rows} rows, {r.samples} system samples{extra}"
        print(safe(f"{r.status:9} {r.path} ({counts}) from {r.source}"))
    return 1 if any(r.status.startswith("failed") for r in results) else 0


def cmd_alerts(args: argparse.Namespace) -> int:
    import flightlog
    from flightlog.store.text import fmt_time

    from ._common import print_table, store_root

    rows = []
    for run in flightlog.Api(store_root(args)).runs(args.project):
        alerts = run.meta.get("alerts")
        for a in alerts if isinstance(alerts, list) else []:
            if isinstance(a, dict) and (args.level is None or a.get("level") == args.level):
                t = a.get("time")
                when = fmt_time(t if isinstance(t, int | float) else None)
                rows.append(
                    [
                        when,
                        str(a.get("level")),
                        run.shown_path,
                        str(a.get("title")),
                        str(a.get("text")),
                    ]
                )
    rows.sort(key=lambda r: r[0])
    if not rows:
        print("no alerts")
        return 0
    print_table(["time", "level", "run", "title", "text"], rows)
    return 0


def cmd_wandb(args: argparse.Namespace) -> int:
    from flightlog import _wandb_install as w

    target = Path(args.target) if getattr(args, "target", None) else None
    if args.action == "enable":
        print(w.enable(target, force=args.force))
    elif args.action == "disable":
        print(w.disable(target))
    else:
        print(w.status().describe())
    return 0
