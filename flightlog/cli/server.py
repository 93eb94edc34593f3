"""`flightlog server`: run the server, and administer its accounts (users, teams, keys,
projects) straight in its root directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flightlog.sync.accounts import Accounts
    from flightlog.sync.limits import ServerLimits


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--root", metavar="DIR", default=argparse.SUPPRESS, help="the server's store")
    p = sub.add_parser(
        "server",
        help="run the self-hosted server, or manage its users, teams, keys and projects",
        description="Examples: flightlog server --root /srv/flightlog --host 0.0.0.0 · "
        "flightlog server user add alice --root /srv/flightlog · "
        "flightlog server key create alice --root /srv/flightlog",
    )
    p.add_argument("--root", metavar="DIR", help="the server's store (required)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    for flag, default, help_ in LIMIT_FLAGS:
        p.add_argument(flag, type=type(default), default=default, metavar="N", help=help_)
    p.set_defaults(func=cmd_serve)
    admin = p.add_subparsers(dest="admin", metavar="WHAT")
    groups = {
        name: admin.add_parser(name, help=help_).add_subparsers(dest="action", required=True)
        for name, help_ in (
            ("user", "users"),
            ("team", "teams"),
            ("key", "API keys"),
            ("project", "projects"),
        )
    }
    # (group, action, help, arguments after the command in the example, handler, positional)
    for group, action, help_, example, func, positional in (
        ("user", "add", "add a user", "alice", cmd_user_add, "name"),
        (
            "team",
            "add",
            "add a team, or members to it",
            "vision --member alice --member bob",
            cmd_team_add,
            "name",
        ),
        ("key", "create", "create a key (printed once)", "alice", cmd_key_create, "user"),
        ("key", "revoke", "revoke every key of a user", "alice", cmd_key_revoke, "user"),
        (
            "project",
            "set",
            "set a project's visibility",
            "vision/resnet --visibility open",
            cmd_project_set,
            "project",
        ),
        ("project", "list", "entities and their projects", "", cmd_project_list, None),
    ):
        a = groups[group].add_parser(
            action,
            parents=[root],
            help=help_,
            description=f"Example: flightlog server {group} {action} {example} --root DIR",
        )
        if positional == "project":
            a.add_argument("project", metavar="ENTITY/PROJECT")
            a.add_argument("--visibility", choices=["private", "open"], required=True)
        elif positional:
            a.add_argument(positional)
        if group == "team":
            a.add_argument("--member", action="append", default=[], metavar="USER")
        a.set_defaults(func=func)


#: (flag, default, help) of every bound `flightlog server` holds requests to (sync/limits.py)
LIMIT_FLAGS = (
    ("--max-upload-mb", 256.0, "refuse segment uploads larger than this (MB, default 256)"),
    (
        "--max-segment-rows",
        4_000_000,
        "refuse segments declaring more rows (default 4,000,000; writers seal at 500,000)",
    ),
    (
        "--max-segment-mb",
        512.0,
        "refuse segments that declare, or decode to, more MB than this (default 512)",
    ),
    ("--max-row-groups", 256, "refuse segments with more row groups (default 256)"),
    (
        "--max-row-group-mb",
        128.0,
        "refuse segments with a row group declaring more MB than this (default 128)",
    ),
    ("--max-meta-mb", 4.0, "refuse run metadata bodies larger than this (MB, default 4)"),
    ("--body-timeout", 300.0, "seconds a request body may take to arrive (default 300)"),
    ("--idle-timeout", 30.0, "seconds without a byte before a request is dropped (default 30)"),
    ("--read-memory-mb", 256.0, "memory for one history or chart read (MB, default 256)"),
)


def _limits(args: argparse.Namespace) -> ServerLimits:
    from flightlog.sync.limits import MB, SegmentLimits, ServerLimits

    for flag, _, _ in LIMIT_FLAGS:
        if getattr(args, flag[2:].replace("-", "_")) <= 0:
            raise ValueError(f"{flag} must be positive")
    return ServerLimits(
        max_upload=int(args.max_upload_mb * MB),
        max_meta=int(args.max_meta_mb * MB),
        body_timeout=args.body_timeout,
        idle_timeout=args.idle_timeout,
        header_timeout=args.idle_timeout,
        read_memory=int(args.read_memory_mb * MB),
        segment=SegmentLimits(
            rows=args.max_segment_rows,
            row_groups=args.max_row_groups,
            uncompressed=int(args.max_segment_mb * MB),
            text=int(args.max_segment_mb * MB),
            row_group=int(args.max_row_group_mb * MB),
        ),
    )


def _accounts(args: argparse.Namespace) -> Accounts:
    from flightlog.sync.accounts import Accounts

    if not args.root:
        raise ValueError("pass --root DIR: the server's directory")
    return Accounts(Path(args.root))


def cmd_serve(args: argparse.Namespace) -> int:
    if not args.root:
        raise ValueError("the server needs --root DIR: the directory it stores runs in")
    from flightlog.sync.serve import serve

    limits = _limits(args)
    print(
        f"flightlog server on http://{args.host}:{args.port} storing into {args.root} "
        f"(API at /api/v1, docs at /docs)",
        flush=True,
    )
    serve(Path(args.root), args.host, args.port, limits)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    _accounts(args).add_user(args.name)
    print(f"user {args.name} added; give them a key: flightlog server key create {args.name}")
    return 0


def cmd_team_add(args: argparse.Namespace) -> int:
    acc = _accounts(args)
    if acc.kind(args.name) == "team":
        acc.add_members(args.name, args.member)
        print(f"team {args.name}: added {', '.join(args.member) or 'nobody'}")
    else:
        acc.add_team(args.name, args.member)
        print(f"team {args.name} added with {', '.join(args.member) or 'no members'}")
    return 0


def cmd_key_create(args: argparse.Namespace) -> int:
    key = _accounts(args).create_key(args.user)
    # the one place a key is ever shown: to the admin who creates it, on stdout only
    print(key)
    print(
        f"(the key of {args.user}: shown once, only its hash is stored; "
        "use it with `flightlog login`)",
        file=sys.stderr,
    )
    return 0


def cmd_key_revoke(args: argparse.Namespace) -> int:
    n = _accounts(args).revoke_keys(args.user)
    print(f"revoked {n} key(s) of {args.user}")
    return 0


def cmd_project_set(args: argparse.Namespace) -> int:
    entity, _, project = args.project.partition("/")
    if not project:
        raise ValueError(f"expected ENTITY/PROJECT, got {args.project!r}")
    from flightlog.sync.receive import check_names

    check_names(entity, project)
    _accounts(args).set_visibility(entity, project, args.visibility)
    print(f"{entity}/{project} is {args.visibility}")
    return 0


def cmd_project_list(args: argparse.Namespace) -> int:
    acc = _accounts(args)
    for name, kind in acc.entities():
        projects = ", ".join(f"{p} ({v})" for p, v in acc.projects(name)) or "no projects"
        print(f"{kind} {name}: {projects}")
    return 0
