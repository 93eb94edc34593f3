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
