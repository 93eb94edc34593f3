"""Where things live in a store, and which names are allowed.

    <root>/runs/<project>/<run_id>/run.json          run metadata (atomic rewrite)
    <root>/runs/@<entity>/<project>/<run_id>/         a run of an entity (a server root)
    <root>/runs/<project>/<run_id>/writers/<wid>.json one state file per writer process
    <root>/runs/<project>/<run_id>/history/           append-only segments
    <root>/runs/<project>/<run_id>/files/             saved files, git diff, console output
    <root>/runs/<project>/.numbers/                   run numbers claimed (store/numbering.py),
                                                      the ledger of run starts (run_ledger.py)
    <root>/index.duckdb                               derived, rebuildable

Entities are a level of their own: `@alice/online-demo/<id>` names the entity and the
project separately, and '@' cannot start a project name, so a listing tells the two kinds of
top-level directory apart by their first character. A run's key everywhere (the index, the
TUI) is its path under runs/: `project/id` or `@entity/project/id` (`split_run_key`).

Segment names carry their writer and sequence number, and sealed ones their sha256:
    <wid>-<seq>.arrows                 open: an Arrow IPC stream, one record batch per flush
    <wid>-<seq>-<sha256>.parquet       sealed: immutable, content-addressed
    <wid>-<seq>.claimed.arrows         open, taken by a sealer other than its writer (see
                                       store/takeover.py); read like any open segment
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

OPEN_SUFFIX = ".arrows"
CLAIMED_SUFFIX = ".claimed" + OPEN_SUFFIX
SEALED_SUFFIX = ".parquet"

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_SEGMENT_RE = re.compile(
    r"^(?P<writer>[a-z0-9]+)-(?P<seq>\d{6})(?:-(?P<sha>[0-9a-f]{64}))?"
    r"(?P<claimed>\.claimed)?(?P<ext>\.arrows|\.parquet)$"
)


def check_name(value: str, what: str = "project") -> str:
    """Validate a project/entity/group-like name used in paths; return it unchanged."""
    if not isinstance(value, str) or not _NAME_RE.match(value) or ".." in value:
        raise ValueError(
            f"invalid {what} name {value!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "not starting with '.' or '-'"
        )
    return value


def check_run_id(value: str) -> str:
    """Validate a run id (user-chosen ids may be longer than the generated 8 characters)."""
    if not isinstance(value, str) or not _RUN_ID_RE.match(value):
        raise ValueError(
            f"invalid run id {value!r}: use 1-64 letters, digits, '_' or '-' "
            "(generated ids are 8 characters of [a-z0-9])"
        )
    return value


@dataclass(frozen=True)
class SegmentName:
    """A parsed segment file name."""

    writer: str
    seq: int
    sha256: str | None
    sealed: bool
    #: an open segment renamed by a foreign sealer that is sealing it (store/takeover.py)
    claimed: bool = False

    @property
    def stem(self) -> str:
        """`<wid>-<seq>`: the same for a segment before and after sealing."""
        return f"{self.writer}-{self.seq:06d}"


def parse_segment_name(name: str) -> SegmentName | None:
    """Parse a segment file name, or None for files that are not segments (temp files...)."""
    m = _SEGMENT_RE.match(name)
    if m is None:
        return None
    sealed = m["ext"] == SEALED_SUFFIX
    if sealed != (m["sha"] is not None) or (sealed and m["claimed"]):
        return None
    return SegmentName(m["writer"], int(m["seq"]), m["sha"], sealed, m["claimed"] is not None)


def open_segment_name(writer: str, seq: int) -> str:
    return f"{writer}-{seq:06d}{OPEN_SUFFIX}"


def claimed_segment_name(writer: str, seq: int) -> str:
    return f"{writer}-{seq:06d}{CLAIMED_SUFFIX}"


def sealed_segment_name(writer: str, seq: int, sha256: str) -> str:
    return f"{writer}-{seq:06d}-{sha256}{SEALED_SUFFIX}"


@dataclass(frozen=True)
class RunPaths:
    """The paths of one run directory."""

    dir: Path

    @classmethod
    def of(cls, root: Path | str, project: str, run_id: str, entity: str | None = None) -> RunPaths:
        return cls(project_dir(root, project, entity) / run_id)

    @classmethod
    def of_key(cls, root: Path | str, run_key: str) -> RunPaths:
        """The run named by an index key (`project/id` or `@entity/project/id`)."""
        entity, project, run_id = split_run_key(run_key)
        return cls.of(root, project, run_id, entity)

    @property
    def meta(self) -> Path:
        return self.dir / "run.json"

    @property
    def writers(self) -> Path:
        return self.dir / "writers"

    @property
    def history(self) -> Path:
        return self.dir / "history"

    @property
    def system(self) -> Path:
        """System-metrics segments: a stream of their own that never touches `_step`."""
        return self.dir / "system"

    def stream(self, name: str) -> Path:
        if name not in ("history", "system"):
            raise ValueError(f"unknown stream {name!r}: use 'history' or 'system'")
        return self.history if name == "history" else self.system

    @property
    def files(self) -> Path:
        return self.dir / "files"

    def writer_state(self, writer_id: str) -> Path:
        return self.writers / f"{writer_id}.json"

    @property
    def address(self) -> tuple[str | None, str, str]:
        """(entity or None, project, run id), read back from where the directory is."""
        top = self.dir.parent.parent.name
        entity = top[len(ENTITY_MARK) :] if top.startswith(ENTITY_MARK) else None
        return entity, self.dir.parent.name, self.dir.name

    @property
    def root(self) -> Path:
        """The store the run is in: runs/P/ID, or runs/@E/P/ID, is below it."""
        return self.dir.parents[3 if self.address[0] else 2]


def runs_dir(root: Path | str) -> Path:
    return Path(root) / "runs"


ENTITY_MARK = "@"
#: how long a run directory may lack its run.json while the process creating it writes it
#: (torchrun starts every rank at once; on a slow shared filesystem creating a run can take
#: seconds): init() waits this long for another process's run.json, and listings take such
#: a directory for a run being created, not yet a run, until its files are this old
CREATE_WAIT = 60.0


def project_dir(root: Path | str, project: str, entity: str | None = None) -> Path:
    """`runs/<project>`, or `runs/@<entity>/<project>` for a project of an entity."""
    base = runs_dir(root)
    return (base / f"{ENTITY_MARK}{entity}" if entity else base) / project


def run_key(project: str, run_id: str, entity: str | None = None) -> str:
    return f"{ENTITY_MARK}{entity}/{project}/{run_id}" if entity else f"{project}/{run_id}"


def split_run_path(parts: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A path below runs/ as (the run's key parts, the parts inside the run): `@E/P/ID/...`
    or `P/ID/...`. The one place that tells the two layouts apart by their first part."""
    n = 3 if parts and parts[0].startswith(ENTITY_MARK) else 2
    return parts[:n], parts[n:]


def split_run_key(key: str) -> tuple[str | None, str, str]:
    """(entity or None, project, run id) of `project/id` or `@entity/project/id`."""
    parts, inside = split_run_path(tuple(key.split("/")))
    if inside or len(parts) < 2 or parts[-2].startswith(ENTITY_MARK):
        raise ValueError(f"not a run key: {key!r} (use `project/id` or `@entity/project/id`)")
    entity = parts[0][len(ENTITY_MARK) :] if len(parts) == 3 else None
    return entity, parts[-2], parts[-1]


def project_dirs(root: Path | str) -> list[tuple[str, Path]]:
    """(key prefix, directory) of every project of the store: `project` for runs/<project>,
    `@entity/project` for runs/@<entity>/<project>."""
    out: list[tuple[str, Path]] = []
    for top in sorted(_subdirs(runs_dir(root))):
        if top.name.startswith(ENTITY_MARK):
            out.extend((f"{top.name}/{p.name}", p) for p in sorted(_subdirs(top)))
        else:
            out.append((top.name, top))
    return out


def iter_run_dirs(
    root: Path | str, project: str | None = None, entity: str | None = None
) -> list[RunPaths]:
    """Every run directory of the store (or of one project), in no particular order.
    A project named without its entity is every project of that name: runs/<project> (runs
    without an entity, and every run of earlier versions) and runs/@<entity>/<project>."""
    if project and (entity or project.startswith(ENTITY_MARK)):
        projects = [project_dir(root, project, entity)]
    elif project:
        projects = [d for key, d in project_dirs(root) if key.split("/")[-1] == project]
    else:
        projects = [d for _, d in project_dirs(root)]
    out: list[RunPaths] = []
    for pdir in projects:
        out.extend(RunPaths(d) for d in _subdirs(pdir) if (d / "run.json").exists())
    return out


def find_run(root: Path | str, project: str, run_id: str, entity: str | None = None) -> RunPaths:
    """Where run `run_id` of `project` is: under its entity (runs/@E/P/ID) when it has one,
    else where runs without an entity, and every run of earlier versions, live (runs/P/ID);
    without the entity named, under the one entity that has it. The entity's place when no
    run is found (a new run goes there). What init's resume and `Api().run` both look up."""
    own = RunPaths.of(root, project, run_id, entity)
    if own.meta.exists():
        return own
    found = [
        p
        for p in iter_run_dirs(root, project)
        if p.dir.name == run_id and (entity is None or p.address[0] in (None, entity))
    ]
    return found[0] if len(found) == 1 else own


def _subdirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except NotADirectoryError:
        return []
    except FileNotFoundError:
        return []
