"""The `flightlog` command: a thin layer over the library (as sqlite-utils' CLI is).

One module per group of commands; each registers its subcommands. Errors are one readable line
on stderr with exit code 1; `--debug` (or FLIGHTLOG_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from flightlog import __version__
from flightlog.store.text import safe

#: the modules of commands, each with the commands it registers, in the order help lists
#: them: `flightlog CMD` builds CMD's module's parsers only (all of them cost ~10 ms of a
#: ~200 ms `flightlog runs`); help, no command or one not named here builds them all
COMMANDS = {
    "browse": ("runs", "show", "compare"),
    "data": ("export", "sql"),
    "maintain": ("tui", "index", "doctor"),
    "sync": ("login", "logout", "sync"),
    "server": ("server",),
    "wandb": ("wandb", "import", "alerts"),
    "artifact": ("artifact",),
}


def global_options_placed(argv: Sequence[str]) -> list[str]:
    """`argv` with the global options where the parsers take them, wherever they were
    typed (users type both `flightlog --root DIR runs` and `flightlog runs --root DIR`):
    `--debug` before the command, `--root DIR` after the command's words (before a `--`),
    where its last subcommand reads it (`artifact ls`; each that reads a store takes it, one
    that does not refuses it as if it had been typed there). Before `--`, a `--debug` is
    the option, not an argument."""
    rest, placed, debug = list(argv), [], False
    while rest and (rest[0] in ("--debug", "--root") or rest[0].startswith("--root=")):
        word = rest.pop(0)
        if word == "--debug":
            debug = True
        elif word == "--root":
            placed += [word, *rest[:1]]
            del rest[:1]
        else:
            placed.append(word)
    end = rest.index("--") if "--" in rest else len(rest)
    debug = debug or "--debug" in rest[:end]
    words = [a for a in rest[:end] if a != "--debug"]
    head = ["--debug"] if debug else []
    if not words or words[0].startswith("-"):  # no command: the main parser takes --root
        return head + placed + words + rest[end:]
    return head + words + placed + rest[end:]


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser; for `argv` (what it will parse, its global options
    placed), the parsers of its command's module only, when argv starts with the command
    (after `--debug`)."""
    words = [a for a in argv or () if a != "--debug"]
    command = words[0] if words else None
    modules = [m for m, names in COMMANDS.items() if command in names] or list(COMMANDS)
    p = argparse.ArgumentParser(
        prog="flightlog",
        description="Offline-first experiment tracker: list, inspect, compare and query runs.",
        epilog="Every command that reads a store takes --root DIR (default: FLIGHTLOG_DIR, "
        "else ./flightlog), before or after the command; login and logout take --host URL.",
    )
    p.add_argument("--version", action="version", version=f"flightlog {__version__}")
    p.add_argument(
        "--debug", action="store_true", help="show tracebacks on errors (before or after COMMAND)"
    )
    store_help = "the store (default: FLIGHTLOG_DIR, else ./flightlog)"
    p.add_argument("--root", metavar="DIR", default=argparse.SUPPRESS, help=store_help)
    common = argparse.ArgumentParser(add_help=False)  # not None: the main parser's kept
    common.add_argument("--root", metavar="DIR", default=argparse.SUPPRESS, help=store_help)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(f".{name}", __name__).register(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = global_options_placed(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        from ._common import root

        if (root(args) / "runs").is_dir():  # plain `flightlog` next to a store: open the UI
            from .maintain import cmd_tui

            args.store, args.func = None, cmd_tui
        else:
            parser.print_help()
            return 0
    debug = args.debug or bool(os.environ.get("FLIGHTLOG_DEBUG"))
    if not debug:
        warnings.formatwarning = _one_line
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # one readable line; the traceback with --debug
        if debug:
            raise
        message = str(e).strip() or type(e).__name__
        if "\n" in message and type(e).__name__ != "FilterError":
            message = message.splitlines()[0]
        print(f"flightlog: error: {safe(message, newlines=True)}", file=sys.stderr)
        return 1


def _one_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """A warning as one line (Python's own format adds the warning's source file, line and
    code: noise to someone reading a damaged store's report; --debug keeps it)."""
    text = safe(str(message), newlines=True)
    return (text if text.startswith("flightlog: ") else f"flightlog: {text}") + "\n"


if __name__ == "__main__":
    sys.exit(main())
