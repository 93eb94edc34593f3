"""`flightlog import wandb PATH...`: existing wandb runs (`wandb/offline-run-*` and `run-*`
directories, or their `.wandb` files) into the store.

Each run keeps its id, name, project, group, tags, notes, config, summary, every history row
with its step and original timestamp, its system metrics (under `system/`), its console output
and its files, and then syncs like
any other run. Importing is idempotent: a run whose id is already in the project is skipped.
A torn log (a run killed mid-write) imports every record before the tear and the run is
marked failed, saying so. wandb's media values (images, tables) are left out, counted.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flightlog.store import RunPaths, check_name, check_run_id

from ._errors import UsageError
from ._histogram import Histogram
from ._wandb_records import WandbRun, read

#: values wandb logs as {"_type": ...} that flightlog stores: histograms; others are media
HISTOGRAM = "histogram"


@dataclass
class Imported:
    source: Path
    path: str  # project/run_id
    status: str  # "imported", "skipped" or "failed: why"
    rows: int = 0
    left_out: int = 0  # media values not stored
    samples: int = 0  # system-metric samples


def find(paths: Iterable[str | Path]) -> list[Path]:
    """The .wandb files under each PATH: a file itself, a run directory, or a `wandb/`
    directory (or its parent) holding `offline-run-*` / `run-*` directories."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
            continue
        if not p.is_dir():
            raise UsageError(f"{p} does not exist: give a wandb run directory or a wandb/ folder")
        for pattern in ("run-*.wandb", "*run-*/run-*.wandb", "wandb/*run-*/run-*.wandb"):
            found.extend(sorted(p.glob(pattern)))
    unique = list(dict.fromkeys(f.resolve() for f in found))
    if not unique:
        raise UsageError(
            f"no wandb runs (run-*.wandb) under {', '.join(map(str, paths))}: give the run "
            "directories or the wandb/ folder next to your script"
        )
    return unique


def import_all(
    files: list[Path], root: Path, progress: Callable[[int, int], None] | None = None
) -> list[Imported]:
    out = []
    for i, f in enumerate(files):
        out.append(import_one(f, root))
        if progress is not None:
            progress(i + 1, len(files))
    return out


def import_one(wandb_file: Path, root: Path) -> Imported:
    try:
        data = read(wandb_file)
    except (OSError, ValueError) as e:
        return Imported(wandb_file, "?", f"failed: {e}")
    run_id = data.run.get("id") or wandb_file.stem.removeprefix("run-")
    project = data.run.get("project") or "uncategorized"
    try:
        check_name(project, "project")
        check_run_id(run_id)
    except Exception as e:
        return Imported(wandb_file, f"{project}/{run_id}", f"failed: {e}")
    if RunPaths.of(root, project, run_id).meta.exists():
        return Imported(wandb_file, f"{project}/{run_id}", "skipped")
    return _write(wandb_file, data, root, project, run_id)


def _write(wandb_file: Path, data: WandbRun, root: Path, project: str, run_id: str) -> Imported:
    import flightlog

    from ._config_file import own_config
    from ._wandb_settings import Settings

    r = data.run
    settings = Settings(
        mode="offline", console="off", stats_interval=0, disable_git=True, silent=True
    )
    with own_config():  # wandb's, not the config-defaults.yaml of this directory
        run = flightlog.init(
            dir=root,
            project=project,
            id=run_id,
            name=r.get("name") or None,
            group=r.get("group") or None,
            job_type=r.get("job_type") or None,
            notes=r.get("notes") or None,
            tags=r.get("tags") or None,
            entity=r.get("entity") or None,
            config=data.config,
            settings=settings,
            reinit="create_new",
        )
    result = Imported(wandb_file, run.path, "imported")
    if r.get("start_time"):
        run._set_meta("created_at", r["start_time"])
    run._set_meta("imported_from", {"wandb": str(wandb_file), "host": r.get("host")})
    for step, t, row in data.history:
        kept = {}
        for k, v in row.items():
            value = _value(v)
            if value is _MEDIA:
                result.left_out += 1
            else:
                kept[k] = value
        if kept:
            run._import_row(step, t, kept)
            result.rows += 1
    result.samples = run._import_samples(data.stats)
    run.summary.update(
        {
            k: _value(v)
            for k, v in data.summary.items()
            if not k.startswith("_") and _value(v) is not _MEDIA
        }
    )
    run._wait_context(10.0)  # its requirements.txt first, then the wandb run's over it
    _copy_files(wandb_file.parent, Path(run.dir) / "files", data.output)
    if data.torn_bytes or data.exit_code is None:
        run._fail(
            f"imported from a wandb log that ends before the run did ({data.torn_bytes} bytes "
            "torn off): every whole record before that point is here"
        )
    else:
        run.finish(exit_code=data.exit_code, quiet=True)
    return result


_MEDIA = object()


def _value(v: Any) -> Any:
    if isinstance(v, dict) and "_type" in v:
        if v["_type"] == HISTOGRAM and "bins" in v and "values" in v:
            return Histogram(np_histogram=(v["values"], v["bins"]))
        return _MEDIA
    return v


def _copy_files(run_dir: Path, files: Path, output: list[str]) -> None:
    """The wandb run's files/ (output.log, requirements.txt, saved files) with the run;
    the console output from the log when wandb wrote no output.log."""
    src = run_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, files, dirs_exist_ok=True)
    if output and not (files / "output.log").exists():
        (files / "output.log").write_text("".join(output))
