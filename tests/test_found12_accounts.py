"""`flightlog server` administration for real (the CLI in a subprocess, on a server root)."""

from __future__ import annotations

from pathlib import Path

from .conftest import cli


def test_revoking_the_keys_of_a_user_who_does_not_exist_fails_naming_the_users(
    tmp_path: Path,
) -> None:
    """An admin revoking a leaked key in a hurry misspells the user: "revoked 0 key(s)"
    and exit 0 read as done, while the leaked key keeps working."""
    root = str(tmp_path / "srv")
    assert cli("server", "user", "add", "alice", "--root", root).returncode == 0
    assert cli("server", "key", "create", "alice", "--root", root).returncode == 0
    r = cli("server", "key", "revoke", "alcie", "--root", root)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no user 'alcie'" in r.stderr and "user list" in r.stderr, r.stderr
    r = cli("server", "key", "revoke", "alice", "--root", root)
    assert r.returncode == 0 and "revoked 1 key(s) of alice" in r.stdout, r.stdout + r.stderr
    r = cli("server", "key", "revoke", "alice", "--root", root)  # none left: still fine
    assert r.returncode == 0 and "revoked 0 key(s) of alice" in r.stdout, r.stdout + r.stderr
