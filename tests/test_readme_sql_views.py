"""README's list of the `flightlog sql` views' columns names every column the views have
(the `runs` list lacked warnings, partial and stub, and gave git_* for four), checked
against the real views of a real store, through the command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import flightlog

from .conftest import cli, settled

README = Path(__file__).resolve().parents[1] / "README.md"


def _documented(view: str) -> set[str]:
    """The column names README's bullet on `view` gives (the words of its text)."""
    text = README.read_text(encoding="utf-8")
    bullet = re.search(
        rf"^- (`\w+` and )?`{view}`( and `\w+`)? (each )?ha(s|ve) (.*?)(?=^- |^\n)",
        text,
        re.M | re.S,
    )
    assert bullet, f"README has no bullet on the {view} view"
    return set(re.findall(r"[a-z_]+", bullet.group(5)))


@pytest.mark.parametrize("view", ["runs", "history", "config", "summary"])
def test_readme_names_every_column_of_the_sql_views(view: str, store: Path) -> None:
    run = flightlog.init(project="p", config={"lr": 0.1})
    run.log({"a": 1})
    run.finish()
    settled()
    done = cli("sql", f"SELECT column_name FROM (DESCRIBE {view})", "--format", "csv")
    assert done.returncode == 0, done.stderr
    columns = done.stdout.split()[1:]
    documented = _documented(view)
    assert columns and [c for c in columns if c not in documented] == []
