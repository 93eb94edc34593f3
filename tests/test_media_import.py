"""Media cost nothing to a script that logs none: `import flightlog`, and a run logging
scalars, load no image library, no media reader and no audio or thread-pool module."""

from __future__ import annotations

from .conftest import python_script

MEDIA_ONLY = [
    "PIL",
    "matplotlib",
    "wave",
    "concurrent.futures",
    "flightlog.store.media_load",
]


def test_a_run_without_media_loads_nothing_media_needs() -> None:
    res = python_script(f"""
        import sys, flightlog
        print([m for m in {MEDIA_ONLY!r} if m in sys.modules])
        run = flightlog.init(project="p", settings={{"stats_interval": 0, "console": "off"}})
        for i in range(50):
            run.log({{"loss": 1 / (i + 1), "tag": "x", "nested": {{"acc": i / 50}}}})
        run.finish(quiet=True)
        print([m for m in {MEDIA_ONLY!r} if m in sys.modules])
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["[]", "[]"], res.stdout
