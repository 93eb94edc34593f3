"""The runs screen's filter bar: free text, `key:value` terms and `--where` comparisons.

    mnist project:vision tag:baseline -tag:debug state:crashed config.lr>=1e-3

is translated into the CLI's filter language (flightlog.store.filters), so both accept the
same comparisons and report errors the same way:
  - a bare word matches the run's name, id, group or tags (case-insensitive substring);
  - `key:value` (project, tag, group, state, job_type, host, user, name, id) is an equality,
    and a leading `-` negates a term;
  - anything with a comparison operator (`summary.loss<0.3`, `config.lr >= 1e-3`), and the
    words and/or/not with parentheses, pass through unchanged.
"""

from __future__ import annotations

import re

from flightlog.store.filters import FilterError, compile_filter

TERM_FIELDS = {
    "project",
    "tag",
    "tags",
    "group",
    "state",
    "job_type",
    "host",
    "user",
    "name",
    "id",
    "notes",
}
_OPERATOR = re.compile(r"<=|>=|==|!=|=|<|>|~")
_WORD = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s"']+)""")


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _split(text: str) -> list[str]:
    """Whitespace-separated words, keeping quoted strings and `a < b` comparisons whole."""
    words = [m.group(1) for m in _WORD.finditer(text)]
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        # "summary.loss < 0.3" typed with spaces: glue field, operator and value
        if i + 1 < len(words) and _OPERATOR.fullmatch(words[i + 1]):
            out.append(" ".join(words[i : i + 3]))  # the value may still be being typed
            i += 3
            continue
        out.append(w)
        i += 1
    return out


def to_where(text: str) -> str | None:
    """The filter-language expression for what was typed in the bar (None: no filter)."""
    parts: list[str] = []
    for word in _split(text.strip()):
        low = word.lower()
        if low in ("and", "or", "not", "(", ")") or word.startswith(("(", ")")):
            parts.append(word)
            continue
        negate = word.startswith("-") and len(word) > 1 and not word[1].isdigit()
        body = word[1:] if negate else word
        field, colon, value = body.partition(":")
        if colon and field.lower() in TERM_FIELDS and value and not _OPERATOR.search(field):
            name = "tag" if field.lower() in ("tag", "tags") else field.lower()
            term = f"{name} = {_quote(value.strip(chr(34) + chr(39)))}"
        elif _OPERATOR.search(body) and not body.startswith(("'", '"')):
            term = body
        else:
            needle = body.strip("\"'")
            pat = _quote("(?i)" + re.escape(needle))
            term = f"(name ~ {pat} or id ~ {pat} or group ~ {pat} or tag ~ {pat})"
        parts.append(f"not {term}" if negate else term)
    if not parts:
        return None
    out: list[str] = []
    for p in parts:  # implicit "and" between terms, as in a search box
        if (
            out
            and out[-1].lower() not in ("and", "or", "not", "(")
            and p.lower() not in ("and", "or", ")")
        ):
            out.append("and")
        out.append(p)
    return " ".join(out)


def check(text: str) -> str | None:
    """None when the bar's text is a valid filter, else the error message to show."""
    try:
        where = to_where(text)
        if where:
            compile_filter(where)
    except FilterError as e:
        return str(e).splitlines()[0]
    return None
