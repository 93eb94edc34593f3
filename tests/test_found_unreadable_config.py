"""A training process whose user config directory it cannot read (a container run as
another user with HOME=/root, a home directory not mounted for this user on a compute
node) still trains and records: it is simply not signed in.

Found by the breaker session: init() raised PermissionError from the check whether
credentials.json exists (Path.exists() raises on EACCES), so training never started."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import flightlog

from .test_found_read_only_store import as_nobody, pytestmark  # noqa: F401 (root only)


@pytest.fixture
def places() -> Iterator[tuple[Path, Path]]:
    """A store anyone may write, and a home directory only root may enter."""
    top = Path(tempfile.mkdtemp(prefix="flightlog-home-"))
    try:
        top.chmod(0o755)
        (top / "store").mkdir(mode=0o777)
        (top / "store").chmod(0o777)
        home = top / "root-home"
        (home / ".config" / "flightlog").mkdir(parents=True)
        home.chmod(0o700)
        yield top / "store", home
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_init_trains_when_the_config_dir_cannot_be_read(places: tuple[Path, Path]) -> None:
    store, home = places
    res = as_nobody(
        """
        import flightlog
        run = flightlog.init(project="p", id="home0001")
        for i in range(10):
            run.log({"loss": 1.0 / (i + 1)})
        run.finish()
        print("TRAINED")
        """,
        store,
        env={"HOME": str(home), "FLIGHTLOG_CONFIG_DIR": "", "XDG_CONFIG_HOME": ""},
    )
    assert res.returncode == 0, res.stderr
    assert "TRAINED" in res.stdout
    rows = list(flightlog.Api(store).run("p/home0001").scan_history())
    assert [r["_step"] for r in rows] == list(range(10))
