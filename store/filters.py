"""The run filter language, compiled to SQL over the index: one grammar for the CLI's
`--where`, `Api().runs(filters=...)` and the terminal UI's filter bar.

    EXPR  := EXPR or EXPR | EXPR and EXPR | EXPR EXPR (and) | not EXPR | -TERM | ( EXPR ) | TERM
    TERM  := FIELD OP VALUE | FIELD:VALUE | TEXT
    FIELD := config.KEY | summary.KEY | name | id | project | group | state | job_type
             | tag | tags | host | user | notes | steps | created_at | duration
    OP    := < <= > >= = == != ~          (~ is a regular-expression match)
    VALUE := 0.3 | 1e-3 | 'quoted text' | "quoted" | bareword | true | false | null
    TEXT  := bareword | 'quoted text'    (case-insensitive substring of name, id, group or a tag)

Examples: `summary.val/loss < 0.3 and config.lr >= 1e-3`, `state:crashed or tag:baseline`,
`digits -tag:unstable (state:finished or state:running)`. Terms side by side are joined by
`and`, as in a search box; `FIELD:VALUE` means `FIELD = VALUE`; a leading `-` negates a term.
Keys may contain `/`, `.` and `-`. A value compares numerically when it is a number, as text
otherwise; `= null` tests absence. A bad expression raises FilterError, whose message points
at the offending token; a word one letter away from and/or/not (`andd`) is such an error, not
free text (quote it to search for it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RUN_FIELDS = {
    "name": "runs.name",
    "id": "runs.id",
    "project": "runs.project",
    "group": 'runs."group"',
    "state": "runs.state",
    "job_type": "runs.job_type",
    "host": "runs.host",
    "user": 'runs."user"',
    "notes": "runs.notes",
    "entity": "runs.entity",
    "steps": "runs.steps",
    "created_at": "runs.created_at",
    "started": "runs.created_at",
    "duration": "(coalesce(runs.ended_at, runs.last_time, epoch(now())) - runs.created_at)",
}
NUMERIC_FIELDS = {"steps", "created_at", "started", "duration"}
#: the run columns a run's segments give (store/describe_segments.py): unknown (NULL) in a
#: partial run, so a filter or sort reading them needs every run described first
HISTORY_COLUMNS = ("runs.steps", 'runs."values"', "runs.last_time")
#: levels of '(', 'not' and '-(' a filter may nest: each is a recursion of the parser (and of
#: DuckDB's); a filter of a query parameter's 8,192 characters could nest thousands
MAX_DEPTH = 64


def reads_history(sql: str) -> bool:
    """Whether compiled SQL (a WHERE and ORDER BY over `runs`) reads a HISTORY_COLUMNS
    column. Values are parameters, never in the text, so a match is a column."""
    return any(c in sql for c in HISTORY_COLUMNS)


OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "==": "=", "!=": "<>", "~": "~"}

_TOKEN = re.compile(
    r"""\s*(?:(?P<paren>[()])|(?P<op><=|>=|==|!=|=|<|>|~)|(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    r"""|(?P<word>[^\s()<>=!~'";]+)|(?P<bad>\S))"""
)


class FilterError(ValueError):
    """A filter expression that does not parse; the message shows where."""

    def __init__(self, message: str, text: str, pos: int) -> None:
        self.pos = pos
        super().__init__(f"{message}\n  {text}\n  {' ' * pos}^")


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        kind = m.lastgroup or "bad"
        start = m.start(kind)
        if kind == "bad":
            raise FilterError(f"unexpected character {m[kind]!r}", text, start)
        out.append(_Tok(kind, m[kind], start))
        pos = m.end()
    return out


@dataclass
class Compiled:
    sql: str
    params: list[Any]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.params: list[Any] = []
        self.depth = 0

    def fail(self, message: str, tok: _Tok | None = None) -> FilterError:
        pos = tok.pos if tok else len(self.text)
        return FilterError(message, self.text, pos)

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok | None:
        t = self.peek()
        self.i += 1
        return t

    def deeper(self, parse: Callable[[], str]) -> str:
        """`parse()` one nesting level down, at most MAX_DEPTH levels."""
        if self.depth >= MAX_DEPTH:
            raise self.fail(
                f"the filter nests '(', 'not' or '-(' more than {MAX_DEPTH} levels deep: "
                "write it with fewer levels",
                self.peek(),
            )
        self.depth += 1
        try:
            return parse()
        finally:
            self.depth -= 1

    def keyword(self, word: str) -> bool:
        t = self.peek()
        if t is not None and t.kind == "word" and t.text.lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> str:
        if not self.toks:
            raise self.fail("empty filter: write e.g. summary.loss < 0.3")
        sql = self.expr()
        t = self.peek()
        if t is not None:
            raise self.fail(f"expected 'and', 'or' or the end, got {t.text!r}", t)
        return sql

    def expr(self) -> str:
        parts = [self.conj()]
        while self.keyword("or"):
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conj(self) -> str:
        """Terms joined by `and`, written or implied (`digits state:finished`)."""
        parts = [self.neg()]
        while True:
            if not self.keyword("and"):
                t = self.peek()
                if t is None or t.text == ")" or (t.kind == "word" and t.text.lower() == "or"):
                    break
            parts.append(self.neg())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def neg(self) -> str:
        if self.keyword("not"):
            return _not(self.deeper(self.neg))
        t = self.peek()
        if t is None or t.kind == "op" or t.text == ")":
            got = f", got {t.text!r}" if t is not None else ""
            raise self.fail(f"expected a field such as summary.loss, key:value or text{got}", t)
        nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
        if t.text == "-" and nxt is not None and nxt.text == "(":  # -( ... ) negates a group
            self.take()
            return _not(self.deeper(self.neg))
        if t.text == "(":
            self.take()
            inner = self.deeper(self.expr)
            close = self.take()
            if close is None or close.text != ")":
                raise self.fail("missing ')'", close)
            return inner
        return self.term()

    def term(self) -> str:
        """FIELD OP VALUE, FIELD:VALUE or free text, each negated by a leading `-`."""
        t = self.take()
        assert t is not None
        if t.kind == "str":
            return self.text_match(_literal(t))
        negate = t.text.startswith("-") and len(t.text) > 1 and not t.text[1].isdigit()
        word = _Tok("word", t.text[1:], t.pos + 1) if negate else t
        sql = self.word_term(word)
        return _not(sql) if negate else sql

    def word_term(self, word: _Tok) -> str:
        op = self.peek()
        if op is not None and op.kind == "op":
            return self.comparison(word)
        field, colon, value = word.text.partition(":")
        if colon and field:
            field_tok = _Tok("word", field, word.pos)
            if not _known(field):
                raise self.fail(
                    f"unknown field {field!r} in {word.text!r}; fields: {KNOWN} "
                    "(quote text that holds ':')",
                    field_tok,
                )
            value_tok = _Tok("word", value, word.pos + len(field) + 1)
            nxt = self.peek()
            if (
                not value
                and nxt is not None
                and nxt.kind == "str"
                and nxt.pos == word.pos + len(word.text)
            ):
                value_tok = self.take()  # tag:"two words"
            elif not value:
                raise self.fail(f"{field}: needs a value, e.g. {field}:VALUE", word)
            return self.compile(field_tok, "=", _literal(value_tok), value_tok)
        if word.text.lower().startswith(("config.", "summary.")):
            raise self.fail(f"expected an operator (< <= > >= = != ~) after {word.text!r}", op)
        keyword = _misspelt_keyword(word.text)
        if keyword:
            raise self.fail(
                f"{word.text!r} is not a keyword: did you mean {keyword!r}? "
                "(quote it to search for the text)",
                word,
            )
        return self.text_match(word.text)

    def text_match(self, needle: str) -> str:
        """Free text: a case-insensitive substring of the name, id, group or a tag."""
        self.params.extend([needle.lower()] * 4)
        cols = ("runs.name", "runs.id", 'runs."group"')
        found = " OR ".join(f"strpos(lower(coalesce({c}, '')), ?) > 0" for c in cols)
        tags = "EXISTS (SELECT 1 FROM unnest(runs.tags) AS u(t) WHERE strpos(lower(t), ?) > 0)"
        return f"({found} OR {tags})"

    def comparison(self, field: _Tok) -> str:
        op = self.take()
        assert op is not None
        value_tok = self.take()
        if value_tok is None or value_tok.kind not in ("word", "str"):
            raise self.fail(f"expected a value after {op.text!r}", value_tok)
        value = _literal(value_tok)
        return self.compile(field, OPS[op.text], value, value_tok)

    def compile(self, field: _Tok, op: str, value: Any, value_tok: _Tok) -> str:
        name = field.text
        if op == "~" and not isinstance(value, str):
            raise self.fail("~ matches text: quote the pattern", value_tok)
        if name.startswith(("config.", "summary.")):
            table, key = name.split(".", 1)
            if not key:
                raise self.fail(f"{table}. needs a key, e.g. {table}.lr", field)
            sub = f"FROM {table} x WHERE x.run_key = runs.run_key AND x.key = ?"
            if value is None:
                self.params.append(key)
                return f"({'NOT ' if op == '=' else ''}EXISTS (SELECT 1 {sub}))"
            if isinstance(value, bool):
                col = "x.text"
                value = "true" if value else "false"
            else:
                col = "x.num" if isinstance(value, int | float) else "coalesce(x.text, x.json)"
            self.params.extend([key, value])
            cmp = f"regexp_matches({col}, ?)" if op == "~" else f"{col} {op} ?"
            if col == "x.num" and op != "<>" and not _is_nan(value):
                # DuckDB holds NaN equal to itself and above every number: a diverged
                # metric matched `summary.acc > 0.5`. It is found with `= nan` only
                cmp += " AND NOT isnan(x.num)"
            return f"EXISTS (SELECT 1 {sub} AND {cmp})"
        if name in ("tag", "tags"):
            if op not in ("=", "<>", "~") or not isinstance(value, str):
                raise self.fail("tags compare with = != or ~ against text", field)
            self.params.append(value)
            if op == "~":
                return "EXISTS (SELECT 1 FROM unnest(runs.tags) AS u(t) WHERE regexp_matches(t, ?))"
            return f"({'NOT ' if op == '<>' else ''}list_contains(runs.tags, ?))"
        col = RUN_FIELDS.get(name)
        if col is None:
            raise self.fail(f"unknown field {name!r}; fields: {KNOWN}", field)
        if value is None:
            return f"({col} IS {'NOT ' if op == '<>' else ''}NULL)"
        if name in NUMERIC_FIELDS and not isinstance(value, int | float):
            raise self.fail(f"{name} is a number; got {value_tok.text!r}", value_tok)
        self.params.append(value if name in NUMERIC_FIELDS else str(value))
        if op == "~":
            return f"regexp_matches({col}, ?)"
        return f"{col} {op} ?"


KNOWN = ", ".join([*RUN_FIELDS, "tag", "config.KEY", "summary.KEY"])
KEYWORDS = ("and", "or", "not")


def _not(sql: str) -> str:
    return f"(NOT coalesce({sql}, false))"


def _known(field: str) -> bool:
    return (
        field in RUN_FIELDS or field in ("tag", "tags") or field.startswith(("config.", "summary."))
    )


def _misspelt_keyword(word: str) -> str | None:
    """The keyword `word` is a slip of (`andd`, `adn`, `orr`, `nto`), else None."""
    low = word.lower()
    collapsed = re.sub(r"(.)\1+", r"\1", low)
    for kw in KEYWORDS:
        swaps = {kw[:i] + kw[i + 1] + kw[i] + kw[i + 2 :] for i in range(len(kw) - 1)}
        if low != kw and (collapsed == kw or low in swaps):
            return kw
    return None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _literal(tok: _Tok) -> Any:
    if tok.kind == "str":
        return re.sub(r"\\(.)", r"\1", tok.text[1:-1])
    low = tok.text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none"):
        return None
    try:
        return int(tok.text)
    except ValueError:
        pass
    try:
        return float(tok.text)
    except ValueError:
        return tok.text


def compile_filter(text: str) -> Compiled:
    """SQL (over `runs` and the config/summary tables) and its parameters, or FilterError."""
    p = _Parser(text)
    sql = p.parse()
    return Compiled(sql, p.params)
