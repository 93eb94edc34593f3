"""What `init()` does on its path: nothing that grows with the store, no process started, no
fsync, no wait for a thread it starts, no import beyond the write path (issue 16: init() at
most 10 ms, at 100,000 runs as at 0)."""

from __future__ import annotations

from pathlib import Path

from .conftest import python_script

#: audit events init() must not raise: starting a process, listing a directory
WATCHED = ("subprocess.Popen", "os.scandir", "os.listdir")


def _init_in_child(store: Path) -> list[str]:
    """The child's init() (the defaults: git, console capture, system sampler) in a project
    of 300 runs: the processes it started and store directories it listed, the modules it
    imported that it must not, and the fsyncs and waits for another thread it made (on
    init's own thread)."""
    res = python_script(
        f"""
        import os, sys, threading
        seen = []
        def mine():  # init's own thread: the writer thread it starts works on its own time
            return threading.current_thread() is threading.main_thread()
        def hook(event, args):
            what = str(args[0]) if args else ""
            in_store = what.startswith({str(store)!r}) or event == "subprocess.Popen"
            if event in {WATCHED!r} and mine() and in_store:
                seen.append(f"{{event}} {{what}}")
        real_fsync = os.fsync
        def fsync(fd):
            if mine():
                seen.append("fsync")
            return real_fsync(fd)
        real_wait = threading.Event.wait
        def wait(self, timeout=None):  # Thread.start() waits until the thread has run
            if mine():
                seen.append("waited for another thread")
            return real_wait(self, timeout)
        import flightlog
        os.fsync = fsync
        threading.Event.wait = wait
        sys.addaudithook(hook)
        run = flightlog.init(project="p", dir={str(store)!r})
        found = list(seen)
        threading.Event.wait = real_wait
        unwanted = ("platformdirs", "duckdb", "pyarrow.compute", "flightlog.sync")
        found += [m for m in unwanted if m in sys.modules]
        print(found)
        run.finish(quiet=True)
        """,
        env={
            "FLIGHTLOG_CONFIG_DIR": "",  # where `flightlog login` keeps keys, by default
            "XDG_CONFIG_HOME": str(store / "config"),
        },
    )
    assert res.returncode == 0, res.stderr
    return eval(res.stdout.strip().splitlines()[-1])


def test_init_lists_nothing_starts_no_process_and_waits_for_no_disk_or_thread(
    store: Path,
) -> None:
    project = store / "runs" / "p"
    for i in range(300):
        (project / f"r{i:04d}").mkdir(parents=True)
        (project / f"r{i:04d}" / "run.json").write_text("{}")
    first = f"import flightlog; flightlog.init(project='p', dir={str(store)!r}).finish(quiet=True)"
    python_script(first)  # the project's first run claims the numbering markers
    found = _init_in_child(store)
    assert found == [], f"init() did {found}"
