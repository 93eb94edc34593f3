"""`flightlog server`: run the server, and administer its accounts (users, teams, keys,
projects) straight in its root directory."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from flightlog.store.text import safe

DB_HELP = (
    "the accounts and run catalog: postgresql://USER@HOST/NAME (several replicas), "
    "default the SQLite file in --root"
)

if TYPE_CHECKING:
    from flightlog.sync.accounts import Accounts
    from flightlog.sync.limits import ServerLimits


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--root", metavar="DIR", default=argparse.SUPPRESS, help="the server's store")
    root.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=DB_HELP)
    p = sub.add_parser(
        "server",
        help="run the self-hosted server, or manage its users, teams, keys and projects",
        description="Examples: flightlog server --root /srv/flightlog --host 0.0.0.0 · "
        "flightlog server user add alice --root /srv/flightlog · "
        "flightlog server key create alice --root /srv/flightlog",
    )
    p.add_argument("--root", metavar="DIR", help="the server's store (required)")
    p.add_argument("--db", metavar="URL", help=DB_HELP)
    p.add_argument(
        "--db-pool",
        type=int,
        default=8,
        metavar="N",
        help="PostgreSQL connections this process may hold (default 8)",
    )
    p.add_argument(
        "--store",
        metavar="URI",
        help="keep segments in object storage: s3://BUCKET/PREFIX (endpoint, region and "
        "credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY or ~/.aws) or file:///DIR; --root is then this process's "
        "scratch and read cache",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument(
        "--no-access-log",
        action="store_true",
        help="do not log a line per request (method, path, status, user, duration)",
    )
    from flightlog.sync.limits import FLAGS, flag_default

    for flag, fields, unit, help_ in FLAGS:
        default = flag_default(fields, unit)
        shown = f"{default:,}" if isinstance(default, int) else f"{default:g}"
        p.add_argument(
            flag,
            type=type(default),
            default=default,
            metavar="N",
            help=f"{help_} (default {shown})",
        )
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
    m = admin.add_parser(
        "migrate",
        parents=[root],
        help="copy this server's accounts, runs and segments to PostgreSQL and a bucket",
        description="Resumable: run it again after an interruption; what is there is "
        "skipped. Example: flightlog server migrate --root /srv/flightlog "
        "--db postgresql://flightlog@db/flightlog --store s3://team-runs/flightlog",
    )
    m.add_argument(
        "--store", metavar="URI", required=True, help="s3://BUCKET/PREFIX or file:///DIR"
    )
    m.set_defaults(func=cmd_migrate)
    # (group, action, help, arguments after the command in the example, handler, positional)
    for group, action, help_, example, func, positional in (
        ("user", "add", "add a user", "alice", cmd_user_add, "name"),
        ("user", "list", "list users, their teams and how many keys", "", cmd_user_list, None),
        (
            "user",
            "remove",
            "remove a user with their keys and memberships",
            "alice",
            cmd_user_remove,
            "name",
        ),
        (
            "team",
            "add",
            "add a team, or members to it",
            "vision --member alice --member bob",
            cmd_team_add,
            "name",
        ),
        ("team", "list", "list teams and their members", "", cmd_team_list, None),
        ("team", "remove", "remove a team and its memberships", "vision", cmd_team_remove, "name"),
        (
            "team",
            "remove-member",
            "remove members from a team",
            "vision --member bob",
            cmd_team_remove_member,
            "name",
        ),
        ("key", "create", "create a key (printed once)", "alice", cmd_key_create, "user"),
        ("key", "list", "list keys by prefix (never a key)", "[USER]", cmd_key_list, "user?"),
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
            description=f"Example: flightlog server {group} {action} {example} --root DIR "
            "(or --db postgresql://...)",
        )
        if positional == "project":
            a.add_argument("project", metavar="ENTITY/PROJECT")
            a.add_argument("--visibility", choices=["private", "open"], required=True)
        elif positional == "user?":
            a.add_argument("user", nargs="?")
        elif positional:
            a.add_argument(positional)
        if group == "team" and action != "remove":
            a.add_argument("--member", action="append", default=[], metavar="USER")
        if action == "add":
            a.add_argument(
                "--reclaim",
                action="store_true",
                help="take the projects a removed user or team left under this name "
                "(the same person or team again)",
            )
        a.set_defaults(func=func)


def _limits(args: argparse.Namespace) -> ServerLimits:
    from flightlog.sync.limits import FLAGS, from_flags

    return from_flags({flag: getattr(args, flag[2:].replace("-", "_")) for flag, *_ in FLAGS})


def _accounts(args: argparse.Namespace) -> Accounts:
    from flightlog.sync.accounts import Accounts

    root, db = getattr(args, "root", None), getattr(args, "db", None)
    if not root and not db:
        raise ValueError("pass --root DIR (the server's directory) or --db postgresql://...")
    return Accounts(Path(root) if root else None, db)


def cmd_serve(args: argparse.Namespace) -> int:
    if not args.root:
        raise ValueError("the server needs --root DIR: the directory it stores runs in")
    from flightlog.sync.serve import serve

    limits = _limits(args)
    print(
        f"flightlog server on http://{args.host}:{args.port} storing into "
        f"{args.store or args.root} "
        f"(browser view at /, API at /api/v1, docs at /docs)",
        flush=True,
    )
    serve(
        Path(args.root),
        args.host,
        args.port,
        limits,
        access_log=not args.no_access_log,
        db=args.db,
        store=args.store,
        pool=args.db_pool,
    )
    return 0


def _reclaimed(acc: Accounts, args: argparse.Namespace) -> str:
    """What `--reclaim` gave the new entity, for its line of output."""
    left = acc.left_behind(args.name) if args.reclaim else []
    return f", with the {len(left)} project(s) left under the name" if left else ""


def cmd_user_add(args: argparse.Namespace) -> int:
    acc = _accounts(args)
    acc.add_user(args.name, reclaim=args.reclaim)
    print(
        f"user {args.name} added{_reclaimed(acc, args)}; give them a key: "
        f"flightlog server key create {args.name} --root {shlex.quote(str(args.root))}"
    )
    return 0


def cmd_team_add(args: argparse.Namespace) -> int:
    acc = _accounts(args)
    if acc.kind(args.name) == "team":
        acc.add_members(args.name, args.member)
        print(f"team {args.name}: added {', '.join(args.member) or 'nobody'}")
    else:
        acc.add_team(args.name, args.member, reclaim=args.reclaim)
        print(
            f"team {args.name} added with {', '.join(args.member) or 'no members'}"
            f"{_reclaimed(acc, args)}"
        )
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


def cmd_user_list(args: argparse.Namespace) -> int:
    for name, teams, keys in _accounts(args).users():
        print(f"{safe(name)}  teams: {safe(', '.join(teams)) or '-'}  keys: {keys}")
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    n = _accounts(args).remove_user(args.name)
    print(
        f"user {args.name} removed, with {n} key(s) and their team memberships; "
        f"their runs stay in the store (a user or team added as {args.name} later gets "
        "them only with --reclaim)"
    )
    return 0


def cmd_team_list(args: argparse.Namespace) -> int:
    for name, members in _accounts(args).teams():
        print(f"{safe(name)}  members: {safe(', '.join(members)) or '-'}")
    return 0


def cmd_team_remove(args: argparse.Namespace) -> int:
    n = _accounts(args).remove_team(args.name)
    print(
        f"team {args.name} removed, with its {n} membership(s); its runs stay in the store "
        f"(a team or user added as {args.name} later gets them only with --reclaim)"
    )
    return 0


def cmd_team_remove_member(args: argparse.Namespace) -> int:
    if not args.member:
        raise ValueError("name the members to remove: --member USER")
    acc = _accounts(args)
    for user in args.member:
        acc.remove_member(args.name, user)
    print(f"team {args.name}: removed {', '.join(args.member)}")
    return 0


def cmd_key_list(args: argparse.Namespace) -> int:
    """Key prefixes only: the server never stored more of a key than its hash and these."""
    import time

    for user, prefix, created in _accounts(args).keys(args.user):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else "-"
        print(f"{safe(user)}  {safe(prefix)}...  created {when}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """SQLite + --root into --db + --store, with a progress bar; resumable."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from flightlog.sync.accounts import Accounts
    from flightlog.sync.migrate_store import migrate
    from flightlog.sync.objstore import ObjectStore

    root = getattr(args, "root", None)
    if not root or not (Path(root) / "runs").is_dir():
        raise ValueError("pass --root DIR: the server directory to migrate from (it has runs/)")
    target = Accounts(Path(root), getattr(args, "db", None))
    objects = ObjectStore.from_uri(args.store)
    objects.check()
    with Progress(
        TextColumn("segments {task.fields[done]:,}/{task.fields[of]:,}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("migrate", total=None, done=0, of=0)

        def plan(n: int, size: int) -> None:
            bar.update(task, total=size, of=n)

        def done(size: int) -> None:
            bar.update(task, advance=size, done=bar.tasks[0].fields["done"] + 1)

        r = migrate(Path(root), target, objects, plan, done)
    print(
        f"migrated {r.runs} run(s) to {target.driver.where} and {args.store}: "
        f"{r.segments} segment(s) copied ({r.bytes / 1e6:.1f} MB), {r.skipped} already there"
    )
    if r.damaged:
        print(
            f"{len(r.damaged)} damaged segment(s) left behind (flightlog doctor --root "
            f"{shlex.quote(str(root))} lists them): {', '.join(r.damaged[:5])}",
            file=sys.stderr,
        )
        return 1
    return 0
