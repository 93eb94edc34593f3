"""One filter language for `flightlog runs --where` and the terminal UI's filter bar: the same
expressions give the same runs in both, and the same errors, pointing at the same token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flightlog.cli import main
from flightlog.store.filters import FilterError, compile_filter
from flightlog.tui import FlightlogApp

from .test_tui import SIZE, names, rows, settle, type_text

#: expression -> the sample runs it selects (by name number: icy-dune-1 is 1)
CASES = {
    "state:crashed": {10},
    "-tag:sgd": {7, 8, 9, 10, 11, 12},
    "project:digits-mlp tag:baseline": {1, 7},
    "summary.val/acc>=0.98": {2, 3, 4, 11, 12},
    "adam config.lr < 0.001": {7, 8},  # free text and a comparison, joined by and
    "moss": {7},
    "MOSS": {7},  # free text ignores case
    "(tag:baseline or state:failed) -project:other": {1, 6, 7},  # key:value in parentheses
    "tag:unstable and not state:failed": {12},
    "'sgd-lr' state:finished config.lr>=0.3": {4, 5},  # quoted free text
    "-(adam or state:finished)": {6},
    "config.optimizer:adam config.hidden:32": {7, 8},
    "config.momentum = 0.9 -state:failed": {1, 2, 3, 4, 5},
}


def number(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def cli_names(samples: Path, where: str, capsys: pytest.CaptureFixture[str]) -> set[int]:
    assert main(["runs", "--root", str(samples), f"--where={where}", "--json"]) == 0
    return {number(r["name"]) for r in json.loads(capsys.readouterr().out)}


@pytest.mark.parametrize("where", CASES)
def test_the_cli_takes_the_filter_bars_language(
    samples: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_names(samples, where, capsys) == CASES[where]


async def test_the_cli_and_the_tui_select_the_same_runs(
    samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from_cli = {where: cli_names(samples, where, capsys) for where in CASES}
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        for where, expected in from_cli.items():
            await pilot.press("slash", "ctrl+u")
            await type_text(pilot, where)
            await pilot.press("enter")
            await settle(pilot, lambda e=expected: {number(n) for n in names(app)} == e)
    assert from_cli == CASES


@pytest.mark.parametrize(
    ("where", "message", "at"),
    [
        ("summary.loss < 0.3 andd config.lr", "'andd' is not a keyword: did you mean 'and'?", 19),
        ("tag:a orr tag:b", "'orr' is not a keyword: did you mean 'or'?", 6),
        ("nto state:failed", "'nto' is not a keyword: did you mean 'not'?", 0),
        ("digits colour:red", "unknown field 'colour' in 'colour:red'", 7),
        ("tag:", "tag: needs a value", 0),
        ("(tag:a", "missing ')'", 6),
        ("-tag:a and", "expected a field such as summary.loss, key:value or text", 10),
        ("config.lr", "expected an operator", 9),
    ],
)
def test_errors_point_at_the_token_in_the_cli(
    samples: Path, where: str, message: str, at: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--root", str(samples), f"--where={where}"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"flightlog: error: {compile_error(where)}"
    assert message in err[0]
    assert err[1:] == [f"  {where}", "  " + " " * at + "^"]


def compile_error(where: str) -> str:
    with pytest.raises(FilterError) as e:
        compile_filter(where)
    return str(e.value).splitlines()[0]


def test_a_misspelt_keyword_can_still_be_searched_for_quoted() -> None:
    assert compile_filter("'andd'").params == ["andd"] * 4


def test_key_value_with_a_quoted_value_and_free_text_are_parameters() -> None:
    c = compile_filter('tag:"two words" "x\'); DROP"')
    assert "DROP" not in c.sql and "two words" in c.params
