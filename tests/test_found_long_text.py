"""A long text value (a generated sample an LLM run logs every eval, a prompt) is shown as
a short cell by `flightlog show`, `flightlog runs` and finish()'s line, not in full on every
line of the table.

Found by the breaker session: `show` padded the metric table's "last" column to the widest
value, so one 10 MB string logged once made every metric's line 10 MB wide (101 MB of
output for 10 metrics), and finish() printed the whole text on its one line."""

from __future__ import annotations

from pathlib import Path

from .conftest import cli, python_script

WIDE = 400  # a generous line for a table of short cells


def test_a_long_text_value_is_a_short_cell(store: Path) -> None:
    res = python_script(
        """
        import flightlog
        run = flightlog.init(project="p", name="llm", config={"prompt": "p" * 5000})
        for i in range(3):
            run.log({"sample": "token " * 2000, "loss": 1.0 / (i + 1), "acc": 0.5})
        run.finish()
        """,
        env={"FLIGHTLOG_SILENT": ""},
    )
    assert res.returncode == 0, res.stderr
    (line,) = [ln for ln in res.stderr.splitlines() if ln.startswith("flightlog: finished")]
    assert len(line) < WIDE, len(line)
    for command in (["show", "llm"], ["runs", "--metric", "sample"]):
        shown = cli(*command, "--root", str(store))
        assert shown.returncode == 0, shown.stderr
        assert "token token" in shown.stdout  # the start of the text is shown
        widths = sorted(len(ln) for ln in shown.stdout.splitlines())
        assert widths[-1] < WIDE, (command, widths[-3:])
