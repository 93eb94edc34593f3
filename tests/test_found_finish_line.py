"""The line finish() prints (the last values of the first metrics) shows control characters
in metric keys and values escaped, like every other place that shows stored text.

Found by the breaker session: `run.log({"a\\x1b[31m": 1})` sent the escape sequence, and a
newline or NUL in a key, to the terminal raw when the run finished."""

from __future__ import annotations

import re

from .conftest import python_script

#: every control byte a terminal acts on (newline aside: lines end with one)
CONTROL_BYTES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def test_finish_line_escapes_control_characters_in_keys_and_values() -> None:
    res = python_script(
        """
        import flightlog
        run = flightlog.init(project="p", name="plain")
        run.log({"loss\\x1b[31m": 1.0, "a\\nb\\x00c": 2, "note": "v\\x1b]0;owned\\x07"})
        run.finish()
        """,
        env={"FLIGHTLOG_SILENT": ""},
    )
    assert res.returncode == 0, res.stderr
    assert not CONTROL_BYTES.search(res.stderr), repr(res.stderr)
    (line,) = [ln for ln in res.stderr.splitlines() if ln.startswith("flightlog: finished")]
    assert r"loss\x1b[31m 1" in line, line
    assert r"a\nb\x00c 2" in line, line
    assert r"note v\x1b]0;owned\x07" in line, line
