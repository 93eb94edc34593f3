"""A process killed with kill -9 in the middle of taking an artifact version number (session
17's fault hunt): logging the same content again finds that version, and no number is lost
or doubled. Real child interpreters, killed at the exact point by a wrapper around the call
that takes the number (or writes the digest file) in the child itself."""

from __future__ import annotations

from pathlib import Path

from flightlog.artifacts.registry import Registry
from flightlog.store.blobs import sha256_file

from .conftest import python_script, spawn

#: the child logs `content` as artifact "net" of project p and prints the version it got;
#: KILL_AT (code) replaces the call it names with one that makes it, then kill -9s the child
LOG = """
import os, signal
import flightlog
import flightlog.artifacts.registry as registry
KILL_AT
open("ck.bin", "wb").write(CONTENT)
run = flightlog.init(project="p", reinit="create_new")
print(run.log_model("ck.bin", name="net").version, flush=True)
run.finish()
"""

#: kill -9 once a version number is taken (its manifest linked to versions/v<N>.json)
AFTER_LINK = """
real_link = os.link
def link(src, dst, *a, **k):
    real_link(src, dst, *a, **k)
    if "/versions/v" in str(dst):
        os.kill(os.getpid(), signal.SIGKILL)
os.link = link
"""

#: kill -9 once the digest file of the version is written
AFTER_DIGEST = """
real_write = registry.atomic_write_bytes
def write(path, data, *a, **k):
    real_write(path, data, *a, **k)
    if path.parent.name == "digests":
        os.kill(os.getpid(), signal.SIGKILL)
registry.atomic_write_bytes = write
"""


def _log(tmp_path: Path, content: bytes, kill_at: str = "") -> str:
    """Log `content` as net in a child; its version, or "killed"."""
    code = LOG.replace("KILL_AT", kill_at).replace("CONTENT", repr(content))
    r = python_script(code, cwd=tmp_path)
    if kill_at:
        assert r.returncode == -9, r.stderr
        return "killed"
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_the_same_content_after_a_kill_once_its_number_was_taken_is_that_version(
    store: Path, tmp_path: Path
) -> None:
    """Killed right after `v0.json` was linked, before anything else: the same checkpoint
    logged again is v0 (it made a v1 with the same files), the next content v1."""
    _log(tmp_path, b"epoch 1", AFTER_LINK)
    assert _log(tmp_path, b"epoch 1") == "v0"
    assert _log(tmp_path, b"epoch 2") == "v1"
    versions = Registry(store).versions("p", "net")
    assert [v.version for v in versions] == [0, 1]
    assert len({v.digest for v in versions}) == 2


def test_a_kill_after_the_digest_file_loses_no_number_and_misleads_no_later_log(
    store: Path, tmp_path: Path
) -> None:
    """Killed once the digest file of its content was written: other content logged next
    gets the next free number, and the first content again is a version holding that
    content (never one holding another's, never a duplicate)."""
    _log(tmp_path, b"epoch 1", AFTER_DIGEST)
    other = _log(tmp_path, b"epoch 2")
    again = _log(tmp_path, b"epoch 1")
    registry = Registry(store)
    versions = registry.versions("p", "net")
    assert [v.version for v in versions] == [0, 1]
    assert len({v.digest for v in versions}) == 2
    (tmp_path / "ck.bin").write_bytes(b"epoch 1")
    sha, _ = sha256_file(tmp_path / "ck.bin")
    assert registry.resolve("p", "net", again).entries["ck.bin"]["sha256"] == sha
    assert other != again


def test_a_name_locked_by_a_stuck_process_is_logged_after_a_bounded_wait(
    store: Path, tmp_path: Path
) -> None:
    """Another process holds the name's lock and does not let go (stopped in a debugger, a
    hung NFS write): log_artifact waits a few seconds, says why, and logs (it waited
    forever, and the training with it)."""
    lock = store / "artifacts" / "p" / "net" / ".lock"
    lock.parent.mkdir(parents=True)
    holder = spawn(
        f"""
        import fcntl, os, time
        fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep(600)
        """
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = python_script(
            """
            import warnings
            import flightlog
            open("ck.bin", "wb").write(b"epoch 1")
            run = flightlog.init(project="p")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                print(run.log_model("ck.bin", name="net").version)
            run.finish()
            print(caught[0].message)
            """,
            cwd=tmp_path,
            timeout=120,
        )
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 0, r.stderr
    version, message = r.stdout.splitlines()
    assert version == "v0"
    assert message.startswith("flightlog: artifact p/net: another process held its lock")
