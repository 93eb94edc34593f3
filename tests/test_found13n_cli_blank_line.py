"""Found following the README as a newcomer: `flightlog index` and `flightlog doctor` print
an empty line before anything else on stdout when it is no terminal (a job's log, a pipe):
`flightlog index --rebuild --root sample_runs` shows a blank line, then "12 runs, 12
(re)indexed, ...". The first line of a command's output is its first line of content, as
`runs` and `sql` have it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli


@pytest.mark.parametrize("command", [("index",), ("index", "--rebuild"), ("doctor",)])
def test_output_starts_with_its_content(samples: Path, command: tuple[str, ...]) -> None:
    r = cli(*command, "--root", str(samples))
    assert r.stdout.strip(), r.stdout + r.stderr
    assert not r.stdout.startswith("\n"), repr(r.stdout[:80])
