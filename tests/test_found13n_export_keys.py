"""Found following the README as a newcomer: `flightlog export RUN --keys K ...` with a key
the run never logged prints `flightlog: error: 'run b93c5eb8 has no metric nope'`: a
KeyError's repr (the quotes around the whole message), and no fix, where the standard is an
error naming the problem and the fix (the run's metrics, or `flightlog show RUN`)."""

from __future__ import annotations

from pathlib import Path

from .conftest import cli


def test_export_of_an_unknown_key_names_the_fix(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "curve.csv"
    r = cli(
        "export", "wild-sea-10", "--keys", "nope", "--format", "csv", "-o", str(out),
        "--root", str(samples),
    )  # fmt: skip
    assert r.returncode == 1
    (line,) = r.stderr.splitlines()
    assert "'run " not in line, line  # the message itself, not a repr of it
    assert "val/acc" in line or "flightlog show" in line, line
    assert not out.exists()
