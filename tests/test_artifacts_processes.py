"""Artifacts logged by several processes at once, and killed mid-log: real interpreters."""

from __future__ import annotations

import time
from pathlib import Path

from flightlog.artifacts.registry import Registry

from .conftest import python_script, spawn

#: each process waits for the start file, then logs `content` as artifact "net"
LOGGER = """
import os, sys, time
from pathlib import Path
import flightlog
start, content = Path(sys.argv[1]), sys.argv[2]
run = flightlog.init(project="p", reinit="create_new")
ck = Path(f"d-{os.getpid()}") / "ck.bin"  # one entry name in every process
ck.parent.mkdir()
ck.write_bytes(content.encode() * 50_000)
while not start.exists():
    time.sleep(0.001)
print(run.log_model(ck, name="net").version)
run.finish()
"""


def _log_at_once(tmp_path: Path, contents: list[str]) -> list[str]:
    start = tmp_path / "go"
    script = LOGGER.replace("sys.argv[1]", repr(str(start)))
    procs = [spawn(script.replace("sys.argv[2]", repr(c))) for c in contents]
    time.sleep(1.0)  # let them all reach the wait (a head start, not a correctness condition)
    start.touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out.append(stdout.strip())
    return out


def test_processes_logging_one_name_at_once_get_distinct_versions(
    store: Path, tmp_path: Path
) -> None:
    contents = ["a", "b", "c", "d"]
    versions = _log_at_once(tmp_path, contents)
    assert sorted(versions) == ["v0", "v1", "v2", "v3"]
    stored = Registry(store).versions("p", "net")
    assert [v.version for v in stored] == [0, 1, 2, 3]
    assert len({v.digest for v in stored}) == 4
    assert sorted(v.manifest["size"] for v in stored) == [50_000] * 4


def test_processes_logging_the_same_content_at_once_make_one_version(
    store: Path, tmp_path: Path
) -> None:
    assert _log_at_once(tmp_path, ["same"] * 4) == ["v0"] * 4
    assert [v.version for v in Registry(store).versions("p", "net")] == [0]
    assert len([p for p in (store / "blobs").rglob("*") if p.is_file()]) == 1


def test_a_process_killed_while_logging_leaves_no_version_naming_a_missing_blob(
    store: Path, tmp_path: Path
) -> None:
    """kill -9 while a big checkpoint streams into the store: no version, or a whole one."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: costs no disk to write, all of it to copy
    proc = spawn(
        f"""
        import flightlog
        run = flightlog.init(project="p")
        print("logging", flush=True)
        run.log_model({str(big)!r}, name="big")
        """
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "logging"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((store / "blobs").glob(".tmp-*")):
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    registry = Registry(store)
    for v in registry.versions("p", "big"):
        for e in v.entries.values():
            assert registry.blobs.has(e["sha256"])
    # the rest of the store is usable: another process logs the name at once
    (tmp_path / "small.bin").write_bytes(b"s")
    r = python_script(
        f"""
        import flightlog
        run = flightlog.init(project="p", reinit="create_new")
        print(run.log_model({str(tmp_path / "small.bin")!r}, name="big").version)
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"v{len(registry.versions('p', 'big')) - 1}"


def test_a_disk_that_refuses_the_checkpoint_warns_once_and_training_goes_on(
    tmp_path: Path,
) -> None:
    """Files may not grow past 1 MB in the child (RLIMIT_FSIZE: the kernel refuses, as a
    full disk would): log_artifact of a 4 MB checkpoint warns, and logging carries on."""
    r = python_script(
        f"""
        import resource, signal, warnings
        import flightlog
        ck = {str(tmp_path / "big.ckpt")!r}
        with open(ck, "wb") as f:
            f.write(b"x" * (4 << 20))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))
        run = flightlog.init(project="p")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                run.log_model(ck, name="big")
        run.log({{"loss": 1.0}})
        run.finish()
        print(len(caught), caught[0].message)
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("1 flightlog: log_artifact('big') could not store the artifact")
    assert "it was not logged" in r.stdout
