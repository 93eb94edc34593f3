"""Where the client finds its server and key: environment first, then `flightlog login`'s file.

The file is `<config dir>/credentials.json` (platformdirs' user config dir, or
FLIGHTLOG_CONFIG_DIR), created with mode 0600 from the start - never written wider and then
narrowed. It maps each server URL to its key and remembers the last server logged in to.
FLIGHTLOG_API_KEY / FLIGHTLOG_BASE_URL (or WANDB_API_KEY / WANDB_BASE_URL) override it, as
cluster job scripts expect.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flightlog._user_config import CREDENTIALS_FILE as FILE_NAME
from flightlog._user_config import config_dir
from flightlog.store.atomic import atomic_write_bytes, dumps, fsync_dir

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Credentials:
    base_url: str
    api_key: str | None = field(default=None, repr=False)  # never printed, never logged
    source: str = "none"  # "env", "file", "typed" (being checked by login) or "none"
    user: str | None = None  # who the stored key belongs to, as the server said at login
    #: the URL was given (argument, environment, a login): not DEFAULT_BASE_URL by default
    configured: bool = True

    @property
    def logged_in(self) -> bool:
        return bool(self.api_key)

    @property
    def shown(self) -> str:
        """The server's URL as messages show it: without its password (shown_url)."""
        return shown_url(self.base_url)

    @property
    def how_to_sign_in(self) -> str:
        """Why this machine cannot sync yet, and what to do, as messages say it: the default
        server's address, which no one gave, is not named."""
        if not self.configured:
            return (
                "not signed in: no flightlog server is configured: set FLIGHTLOG_BASE_URL=URL "
                "and FLIGHTLOG_API_KEY, or run `flightlog login --host URL`"
            )
        return f"not signed in to {self.shown}: run `flightlog login` or set FLIGHTLOG_API_KEY"


#: a URL's `user:password@` (the password up to the last @ before the path: typed raw, it
#: may hold an @ of its own)
_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/:@]*):[^/]*@")


def shown_url(url: str) -> str:
    """`url` as it may be shown - in a sync line, a progress line, an error or a log: a
    password in it (`https://user:secret@host`) becomes `user:***@host`. Every message
    naming a server's URL goes through here."""
    return _PASSWORD.sub(r"\1:***@", url)


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url


def _env(environ: Mapping[str, str], suffix: str) -> str | None:
    return environ.get(f"FLIGHTLOG_{suffix}") or environ.get(f"WANDB_{suffix}") or None


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            _say_if_others_read(path, os.fstat(f.fileno()).st_mode)
            doc = json.loads(f.read())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


_warned: set[str] = set()


def _say_if_others_read(path: Path, mode: int) -> None:
    """A key file other users may read (copied with `cp`, or from a tarball, it keeps 0644):
    said once per process, with the fix, as ssh does of a private key (the key still works:
    refusing it would stop a training job's sync over a file mode)."""
    if mode & 0o077 and str(path) not in _warned:
        _warned.add(str(path))
        warnings.warn(
            f"flightlog: {path} holds API keys and other users may read it (mode "
            f"{mode & 0o777:o}): run `chmod 600 {path}`",
            RuntimeWarning,
            stacklevel=2,
        )


def load(environ: Mapping[str, str] | None = None, base_url: str | None = None) -> Credentials:
    """The server and key to use: `base_url` > env > the file's last login > the default."""
    env = os.environ if environ is None else environ
    doc = _read(config_dir(env) / FILE_NAME)
    keys = doc.get("keys") if isinstance(doc.get("keys"), dict) else {}
    given = base_url or _env(env, "BASE_URL") or doc.get("default")
    url = normalize_url(given or DEFAULT_BASE_URL)
    if key := _env(env, "API_KEY"):
        return Credentials(url, key, "env", configured=bool(given))
    if key := keys.get(url):
        users = doc.get("users") if isinstance(doc.get("users"), dict) else {}
        return Credentials(url, key, "file", users.get(url), bool(given))
    return Credentials(url, None, "none", configured=bool(given))


def save(
    base_url: str,
    api_key: str,
    environ: Mapping[str, str] | None = None,
    user: str | None = None,
) -> Path:
    """Remember `api_key` (and its `user`) for `base_url` and make it the default server.
    Returns the file."""
    path = config_dir(environ) / FILE_NAME
    doc = _read(path)
    url = normalize_url(base_url)
    keys = doc.get("keys") if isinstance(doc.get("keys"), dict) else {}
    users = doc.get("users") if isinstance(doc.get("users"), dict) else {}
    keys[url] = api_key
    if user:
        users[url] = user
    _write_private(path, {"default": url, "keys": keys, "users": users})
    return path


def forget(base_url: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """Remove the key of `base_url` (default: the default server); returns the URL removed."""
    path = config_dir(environ) / FILE_NAME
    doc = _read(path)
    keys = doc.get("keys") if isinstance(doc.get("keys"), dict) else {}
    url = normalize_url(base_url) if base_url else doc.get("default")
    if url not in keys:
        return None
    del keys[url]
    users = doc.get("users") if isinstance(doc.get("users"), dict) else {}
    users.pop(url, None)
    doc = {"default": doc.get("default") if keys else None, "keys": keys, "users": users}
    _write_private(path, doc)
    return url


def _write_private(path: Path, doc: dict) -> None:
    """The key file: created 0600 (never written wider and then narrowed), in a 0700 dir."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(path, dumps(doc), mode=0o600)
    fsync_dir(path.parent)
