"""`flightlog runs --limit 50` at scale (bench_listing.py's listing part): cold from a cold
disk and with the store's files cached, then warm, as whole commands of this checkout's or
another's interpreter (`--baseline`), wall and CPU; and in-process work. Cold from disk:
`evict` drops the kernel's caches (as root), else evicts the store's pages, as on NFS, where
each read is a round trip: with no index (the projects' ledgers there, as init() writes
them, and hidden, as in a store written by older code), and with the index the listing
before left. A command is the console script next to the interpreter (`command`), as a
user runs it, with its bytecode written (`command_env`).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_index import timed

ENV = {"FLIGHTLOG_STATS_INTERVAL": "0", "FLIGHTLOG_CONSOLE": "off", "FLIGHTLOG_SILENT": "1"}


def run_cli(store: Path, *argv: str, python: str = sys.executable) -> float:
    """Seconds of a whole `flightlog` command in a fresh process (of `python`: another
    checkout's interpreter for a baseline)."""
    return run_cli_cpu(store, *argv, python=python)[0]


def command(python: str) -> list[str]:
    """The `flightlog` command as a user runs it: the console script installed next to
    `python`, else `python -m flightlog.cli`."""
    script = Path(python).with_name("flightlog")
    return [str(script)] if script.is_file() else [python, "-m", "flightlog.cli"]


def command_env() -> dict[str, str]:
    """The children's environment: quiet, and with bytecode written as an installed
    package has it (PYTHONDONTWRITEBYTECODE makes every command compile flightlog's
    modules again: ~40 ms of CPU)."""
    env = {**os.environ, **ENV}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_cli_cpu(store: Path, *argv: str, python: str = sys.executable) -> tuple[float, float]:
    """(wall, CPU) seconds of a whole `flightlog` command in a fresh process: on a busy
    machine the CPU is the steadier figure, the wall time what a user waits."""
    before = os.times()
    t = time.perf_counter()
    subprocess.run(
        [*command(python), *argv, "--root", str(store)],
        capture_output=True,
        check=True,
        env=command_env(),
    )
    wall, after = time.perf_counter() - t, os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def warm_pairs(store: Path, pythons: dict[str, str], n: int = 9) -> dict[str, float]:
    """The warm `runs --limit 50` of each interpreter, alternating, `n` times each (after
    one listing each): median wall and CPU ms, `{label}_warm_cmd_ms`/`_warm_cpu_ms`."""
    args = ("runs", "--limit", "50")
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in pythons}
    for python in pythons.values():
        run_cli(store, *args, python=python)
    for i in range(n):
        for label in pythons if i % 2 else reversed(pythons):
            got[label].append(run_cli_cpu(store, *args, python=pythons[label]))
    out = {}
    for label, times in got.items():
        out[f"{label}_warm_cmd_ms"] = statistics.median(w for w, _ in times) * 1000
        out[f"{label}_warm_cpu_ms"] = statistics.median(c for _, c in times) * 1000
    return out


def evict(store: Path) -> str:
    """Make the store cold, as after a reboot or on another NFS client: the kernel's page,
    inode and directory caches dropped (`/proc/sys/vm/drop_caches`, as root), else every
    file's and directory's pages evicted (posix_fadvise DONTNEED: their data only, the
    inodes and directory entries stay cached). Returns which was done."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
        return "drop_caches"
    except OSError:
        pass
    for d, dirs, files in os.walk(store):
        for name in [*files, *dirs, "."]:
            try:
                fd = os.open(os.path.join(d, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return "fadvise"


def read_every_run_json(store: Path) -> None:
    """The floor an index must beat: open and parse every run.json of the store."""
    for project in (store / "runs").iterdir():
        for run in project.iterdir():
            if run.name.startswith("."):
                continue
            with open(run / "run.json", "rb") as f:
                json.load(f)


@contextmanager
def ledgers_hidden(store: Path) -> Iterator[None]:
    """The store as older code wrote it: no project ledger (store/run_ledger.py)."""
    from flightlog.store.run_ledger import ledger_path

    paths = [ledger_path(p) for p in (store / "runs").iterdir() if p.is_dir()]
    moved = [p for p in paths if os.path.exists(p)]
    for p in moved:
        os.rename(p, p + ".hidden")
    try:
        yield
    finally:
        for p in moved:
            os.rename(p + ".hidden", p)


def drop_index(store: Path) -> None:
    for name in ("index.duckdb", "index.duckdb.wal"):
        (store / name).unlink(missing_ok=True)


#: what `flightlog runs` imports, read back from disk before a cold-disk listing
WARM_IMPORTS = "import duckdb, pyarrow.parquet, flightlog.cli, flightlog.store.catalog"


def cold_disk(store: Path, python: str, index: bool = False) -> tuple[float, float]:
    """(wall, CPU) of `runs --limit 50` from a cold disk: with no index, or (`index`) with
    the one the listing before left."""
    if not index:
        drop_index(store)
    evict(store)
    # the interpreter's and libraries' files read back first: the store's reads are measured
    subprocess.run([python, "-c", WARM_IMPORTS], check=True, env=command_env())
    return run_cli_cpu(store, "runs", "--limit", "50", python=python)


def cold_and_warm(store: Path, python: str = sys.executable) -> dict[str, float]:
    """`flightlog runs --limit 50` with no index, from a cold disk (`evict`; with the
    projects' ledgers, without, then with the index the first left, and with every run
    described in it) and with the files cached, then warm: whole commands of `python`,
    wall and CPU (ms)."""
    out: dict[str, float] = {}
    args = ("runs", "--limit", "50")
    drop_index(store)
    out["evicted_by"] = evict(store)  # type: ignore[assignment]
    out["cold_disk_cmd_ms"], out["cold_disk_cpu_ms"] = cold_disk(store, python)
    out["indexed_disk_cmd_ms"], out["indexed_disk_cpu_ms"] = cold_disk(store, python, index=True)
    describe_all = f"from flightlog.store.index import Index; Index({str(store)!r}).close()"
    subprocess.run([python, "-c", describe_all], check=True, env=command_env())
    out["described_disk_cmd_ms"], out["described_disk_cpu_ms"] = cold_disk(store, python, True)
    with ledgers_hidden(store):
        out["old_store_disk_cmd_ms"], out["old_store_disk_cpu_ms"] = cold_disk(store, python)
    drop_index(store)
    read_every_run_json(store)  # (the files cached, as after the first run)
    out["cold_cmd_ms"], out["cold_cpu_ms"] = run_cli_cpu(store, *args, python=python)
    run_cli(store, *args, python=python)  # (what the cold listing left, described)
    warm = [run_cli_cpu(store, *args, python=python) for _ in range(3)]
    out["warm_cmd_ms"], out["warm_cpu_ms"] = sorted(warm)[1]
    return {k: v * 1000 if k.endswith("_ms") else v for k, v in out.items()}


def listing(store: Path, n: int, baseline: str | None = None) -> dict[str, float]:
    """`flightlog runs --limit 50`, cold and warm, in-process work and whole command;
    `baseline`: the cold and warm commands of another interpreter too, just before this
    checkout's, in the same run, and the warm ones again alternating with this
    checkout's (`warm_pairs`)."""
    from flightlog.cli import main as cli
    from flightlog.store.index import Index

    def work() -> None:
        with open(os.devnull, "w") as null:
            old, sys.stdout = sys.stdout, null
            try:
                cli(["runs", "--limit", "50", "--root", str(store)])
            finally:
                sys.stdout = old

    out: dict[str, float] = {}
    out["floor_ms"] = timed(lambda: read_every_run_json(store), 3) * 1000
    if baseline:
        base = cold_and_warm(store, baseline)
        out.update({f"base_{k}": v for k, v in base.items()})
    out.update(cold_and_warm(store))
    out.update(
        warm_pairs(store, {"now": sys.executable, **({"base": baseline} if baseline else {})})
    )
    # what the cold listing left for later (store/catch_up.py): any other reader's first open
    # (or the runs screen, in the background) describes the rest of the runs' segments
    drop_index(store)
    run_cli(store, "runs", "--limit", "50")
    t = time.perf_counter()
    Index(store).close()
    out["rest_ms"] = (time.perf_counter() - t) * 1000
    run_cli(store, "runs", "--limit", "50")
    out["warm_work_ms"] = timed(work, 5) * 1000
    out["bare_cmd_ms"] = timed(lambda: run_cli(store, "--version"), 3) * 1000
    # catch-up after one new run: clone the first run under a new id
    src = next((store / "runs" / "proj-0").iterdir())
    new = store / "runs" / "proj-0" / f"new{time.time_ns()}"
    shutil.copytree(src, new)
    meta = json.loads((new / "run.json").read_text())
    (new / "run.json").write_text(json.dumps({**meta, "id": new.name}))
    t = time.perf_counter()
    work()
    out["catch_up_one_ms"] = (time.perf_counter() - t) * 1000
    shutil.rmtree(new)
    work()
    return out


def cold_line(r: dict[str, float]) -> str:
    """`runs --limit 50` cold from disk (no index; no ledger either; the index the first
    left), cold cached and warm, wall (CPU) ms."""
    return (
        f"`runs --limit 50` cold from disk ({r['evicted_by']}) {r['cold_disk_cmd_ms']:,.0f} ms "
        f"(CPU {r['cold_disk_cpu_ms']:,.0f}), without ledgers {r['old_store_disk_cmd_ms']:,.0f} "
        f"({r['old_store_disk_cpu_ms']:,.0f}), indexed {r['indexed_disk_cmd_ms']:,.0f} "
        f"({r['indexed_disk_cpu_ms']:,.0f}), every run described {r['described_disk_cmd_ms']:,.0f} "
        f"({r['described_disk_cpu_ms']:,.0f}); cold cached {r['cold_cmd_ms']:,.0f} "
        f"({r['cold_cpu_ms']:,.0f}) (target 3,000 at 10k), warm {r['warm_cmd_ms']:,.0f} "
        f"({r['warm_cpu_ms']:,.0f})"
    )


def warm_line(r: dict[str, float]) -> str:
    """The warm `runs --limit 50` of this checkout and the baseline's, alternating."""
    line = f"warm `runs --limit 50`, alternating: {r['now_warm_cmd_ms']:,.0f} ms (CPU "
    line += f"{r['now_warm_cpu_ms']:,.0f})"
    if "base_warm_cmd_ms" in r:
        line += (
            f", the baseline's {r['base_warm_cmd_ms']:,.0f} ms (CPU {r['base_warm_cpu_ms']:,.0f})"
        )
    return line
