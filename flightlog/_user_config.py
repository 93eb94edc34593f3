"""Where flightlog keeps this user's own files (`flightlog login`'s credentials.json, the
terminal UI's layout): platformdirs' user config directory, or FLIGHTLOG_CONFIG_DIR; and its
caches (`cache_dir`).

A module of its own, loaded with `import flightlog`, so that init() tells "nobody logged in
on this machine" (no credentials file: the default mode is offline) from one stat, without
importing the sync package for it (~1 ms; twice that where Python compiles it from source).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("FLIGHTLOG_CONFIG_DIR"):
        return Path(env["FLIGHTLOG_CONFIG_DIR"])
    if sys.platform.startswith("linux"):  # platformdirs' rule, without its import on init's path
        return Path(env.get("XDG_CONFIG_HOME", "").strip() or Path.home() / ".config") / "flightlog"
    import platformdirs

    return Path(platformdirs.user_config_dir("flightlog"))


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where this user's caches go (a server run's media, `Api(host=)`): FLIGHTLOG_CACHE_DIR,
    else platformdirs' user cache directory."""
    env = os.environ if environ is None else environ
    if env.get("FLIGHTLOG_CACHE_DIR"):
        return Path(env["FLIGHTLOG_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("flightlog"))
