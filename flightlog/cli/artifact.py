"""`flightlog artifact ls/show/get`: the artifact versions of a store, or of a server."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flightlog._errors import ArtifactNotFoundError
from flightlog.store.artifact_read import size_text

from ._common import fmt_time, print_table, root, safe

if TYPE_CHECKING:
    from flightlog.artifacts.names import ArtifactRef
    from flightlog.artifacts.registry import Registry, Version


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "artifact",
        help="list, inspect and download artifact versions (checkpoints, datasets)",
        description="Examples: flightlog artifact ls · flightlog artifact show demo/model · "
        "flightlog artifact get demo/model:best -o ./ckpt · "
        "flightlog artifact get team/demo/model:v3 --host http://gpu-login:8080",
    )
    cmds = p.add_subparsers(dest="artifact_command", metavar="COMMAND", required=True)
    ls = cmds.add_parser("ls", parents=[common], help="every artifact of the store")
    ls.add_argument("--project", metavar="P", help="only project P")
    ls.add_argument("--json", action="store_true", help="a JSON array")
    ls.set_defaults(func=cmd_ls)
    show = cmds.add_parser(
        "show",
        parents=[common],
        help="an artifact's versions, or one version's files and lineage",
        description="ARTIFACT is [project/]name (every version) or [project/]name:alias|vN",
    )
    show.add_argument("artifact", metavar="ARTIFACT")
    show.add_argument("--json", action="store_true", help="JSON")
    show.set_defaults(func=cmd_show)
    get = cmds.add_parser(
        "get",
        parents=[common],
        help="download a version's files (from the store, or a server with --host)",
        description="ARTIFACT is [project/]name[:alias|vN] in the store, or "
        "entity/project/name[:alias|vN] on the server (--host URL, else the one logged in to): "
        "only the files the local store lacks are fetched.",
    )
    get.add_argument("artifact", metavar="ARTIFACT")
    get.add_argument("-o", "--output", metavar="DIR", help="default: ./artifacts/NAME:vN")
    get.add_argument("--host", metavar="URL", help="fetch from this server")
    get.set_defaults(func=cmd_get)


def _registry(args: argparse.Namespace) -> Registry:
    from flightlog.artifacts.registry import Registry

    r = root(args)
    if not r.is_dir():
        raise FileNotFoundError(f"no flightlog store at {r}: pass --root DIR or set FLIGHTLOG_DIR")
    return Registry(r)


def _run_of(logged_by: Any) -> str:
    if not isinstance(logged_by, dict):
        return "-"
    return "/".join(str(logged_by[k]) for k in ("entity", "project", "id") if logged_by.get(k))


def _print_rows(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    headers: list[str],
    cells: Callable[[dict[str, Any]], list[str]],
    **table: Any,
) -> int:
    """`rows` as a JSON array with --json, else as a table (`cells` gives a row's cells)."""
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print_table(headers, [cells(r) for r in rows], **table)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    registry = _registry(args)
    rows = []
    for project, name in registry.names(args.project):
        numbers = registry.numbers(project, name)  # the newest manifest is the one read
        if numbers:
            latest = registry.describe(registry.get(project, name, numbers[-1]))
            rows.append({**latest, "versions": len(numbers)})
    return _print_rows(
        args,
        rows,
        ["PROJECT", "NAME", "TYPE", "VERSIONS", "NEWEST", "ALIASES", "SIZE", "CREATED"],
        lambda r: [
            r["project"],
            r["name"],
            str(r["type"]),
            str(r["versions"]),
            r["version"],
            ", ".join(r["aliases"]),
            size_text(r["size"]),
            fmt_time(r["created_at"]),
        ],
        right={3, 6},
    )


def cmd_show(args: argparse.Namespace) -> int:
    from flightlog.artifacts.names import parse_ref

    registry = _registry(args)
    ref = parse_ref(args.artifact)
    project = registry.project_of(ref.name, ref.project)
    if ":" not in args.artifact:
        if not registry.numbers(project, ref.name):
            raise ArtifactNotFoundError(
                f"no artifact {project}/{ref.name} in {registry.root}: "
                "`flightlog artifact ls` lists the artifacts there are"
            )
        aliases = registry.aliases(project, ref.name)
        return _print_rows(
            args,
            [registry.describe(v, aliases) for v in registry.versions(project, ref.name)],
            ["VERSION", "ALIASES", "TYPE", "FILES", "SIZE", "DIGEST", "LOGGED BY", "CREATED"],
            lambda r: [
                r["version"],
                ", ".join(r["aliases"]),
                str(r["type"]),
                str(r["files"]),
                size_text(r["size"]),
                r["digest"][:12],
                _run_of(r["logged_by"]),
                fmt_time(r["created_at"]),
            ],
            right={3, 4},
            title=f"{project}/{ref.name}",
        )
    v = registry.resolve(project, ref.name, ref.alias)
    doc = {
        **registry.describe(v),
        "description": v.manifest.get("description"),
        "metadata": v.manifest.get("metadata") or {},
        "entries": v.entries,
        "used_by": registry.used_by(v),
    }
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    used = ", ".join(f"{u.get('project')}/{u.get('id')}" for u in doc["used_by"]) or "-"
    for label, value in (
        ("artifact", f"{project}/{v.label} ({doc['type']})"),
        ("aliases", ", ".join(doc["aliases"]) or "-"),
        ("digest", v.digest),
        ("size", f"{size_text(doc['size'])} in {doc['files']} entries"),
        ("created", fmt_time(doc["created_at"])),
        ("logged by", _run_of(doc["logged_by"])),
        ("used by", used),
        ("description", doc["description"] or "-"),
        ("metadata", json.dumps(doc["metadata"]) if doc["metadata"] else "-"),
    ):
        print(f"{label:12} {safe(value)}")
    print_table(
        ["ENTRY", "SIZE", "SHA256 / REFERENCE"],
        [
            [
                p,
                size_text(int(e.get("size") or 0)) if "sha256" in e else "-",
                e.get("sha256") or str(e.get("ref")),
            ]
            for p, e in sorted(v.entries.items())
        ],
        right={1},
    )
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    from flightlog.artifacts import Artifact
    from flightlog.artifacts.names import parse_ref
    from flightlog.artifacts.registry import Registry

    ref = parse_ref(args.artifact)
    remote = bool(args.host or ref.entity)
    registry = Registry(root(args)) if remote else _registry(args)
    start = time.monotonic()
    note = ""
    if remote:
        version, fetched, size, host = _fetch(args, ref, registry)
        note = f" ({fetched} file(s), {size_text(size)} fetched from {host})"
    else:
        version = registry.resolve(registry.project_of(ref.name, ref.project), ref.name, ref.alias)
    path = Artifact._from_version(registry, version).download(args.output)
    secs = time.monotonic() - start
    print(safe(f"{version.project}/{version.label} -> {path}{note} in {secs:.1f} s"))
    return 0


def _fetch(
    args: argparse.Namespace, ref: ArtifactRef, registry: Registry
) -> tuple[Version, int, int, str]:
    from dataclasses import replace

    from flightlog.artifacts.remote import fetch
    from flightlog.sync import credentials
    from flightlog.sync.client import ServerClient

    creds = credentials.load(base_url=args.host)
    with ServerClient(creds) as client:
        if not ref.project:
            raise ValueError(
                f"artifact {args.artifact!r}: name the project on the server, as "
                "entity/project/name:alias"
            )
        if not ref.entity:
            ref = replace(ref, entity=str(client.whoami()["user"]))
        version, fetched, size = fetch(client, ref, registry)
    return version, fetched, size, creds.shown
