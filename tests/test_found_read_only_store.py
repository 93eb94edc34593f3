"""A store the training user cannot write (another user's store, a read-only mount): init()
fails with flightlog's own error naming the store and the fix, and a run that could write
nothing says so honestly when it finishes.

Found by the breaker session. The processes run as user nobody (setpriv), which needs root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import python_script

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="running as another user needs root and setpriv(1)",
)

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def shared_store() -> Iterator[Path]:
    """A store with one finished run (p/ro000001), written by root, readable by all and
    writable only by root: the training user (nobody) can read it, not write it."""
    top = Path(tempfile.mkdtemp(prefix="flightlog-ro-"))
    try:
        top.chmod(0o755)
        store = top / "store"
        res = python_script(
            """
            import flightlog
            run = flightlog.init(project="p", id="ro000001")
            run.log({"loss": 1.0})
            run.finish()
            """,
            env={"FLIGHTLOG_DIR": str(store)},
        )
        assert res.returncode == 0, res.stderr
        yield store
    finally:
        shutil.rmtree(top, ignore_errors=True)


def as_nobody(
    code: str, store: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`code` in a real interpreter running as user nobody, on `store` (+ `env`; by default
    a config directory with no login in it)."""
    base = {
        **os.environ,
        "FLIGHTLOG_DIR": str(store),
        "FLIGHTLOG_SILENT": "",
        "FLIGHTLOG_CONFIG_DIR": str(store.parent / "config"),
        "HOME": "/",
    }
    res = subprocess.run(
        [*NOBODY, sys.executable, "-c", textwrap.dedent(code)],
        env={**base, **(env or {})},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "No module named" in res.stderr or "Permission denied: '/root" in res.stderr:
        pytest.skip(f"user nobody cannot run this interpreter: {res.stderr[-200:]}")
    return res


INIT = """
    import flightlog
    try:
        flightlog.init(project={project!r})
    except Exception as e:
        print("RAISED", type(e).__module__, type(e).__name__, "|", e)
"""


def test_init_in_a_new_project_of_a_read_only_store_names_the_fix(shared_store: Path) -> None:
    res = as_nobody(INIT.format(project="q"), shared_store)
    assert "RAISED flightlog._errors UsageError |" in res.stdout, res.stdout + res.stderr
    assert "writable directory" in res.stdout


def test_init_in_an_existing_project_of_a_read_only_store_names_the_fix(
    shared_store: Path,
) -> None:
    res = as_nobody(INIT.format(project="p"), shared_store)
    assert "RAISED flightlog._errors UsageError |" in res.stdout, res.stdout + res.stderr
    assert "writable directory" in res.stdout


def test_a_resume_that_can_write_nothing_does_not_say_its_rows_are_kept(
    shared_store: Path,
) -> None:
    """No journal could be created: the rows lived in memory only and are gone with the
    process, so finish() must not point at a journal and `doctor --repair` to get them."""
    res = as_nobody(
        """
        import flightlog
        run = flightlog.init(project="p", id="ro000001", resume="allow")
        run.log({"loss": 0.5})
        run.finish()
        print("TRAINING WENT ON")
        """,
        shared_store,
    )
    assert res.returncode == 0, res.stderr
    assert "TRAINING WENT ON" in res.stdout
    history = shared_store / "runs" / "p" / "ro000001" / "history"
    assert not [p for p in history.iterdir() if "journal" in p.name or p.suffix == ".rows"]
    lines = [ln for ln in res.stderr.splitlines() if "could not be written" in ln]
    (said,) = [ln for ln in lines if "console copy" not in ln]  # (that one is said too)
    assert "are lost" in said, said
    assert "doctor --repair" not in said, said
