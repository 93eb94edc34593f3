"""Atomic small-file writes (temp, fsync, rename) and tolerant JSON reads.

run.json and writer state files are rewritten whole; a reader must never see half a file,
including on NFS where rename is atomic but in-place writes are not.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Make a rename or create in `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    fsync_and_close(fd)


def fsync_and_close(fd: int) -> None:
    """fsync `fd`, then close it. A failing fsync is left to the caller's next durable write
    to report (a full or failing disk): this one is best effort."""
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """The name a whole-file write of `path` goes under first, beside it (`is_temp`)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def is_temp(name: str) -> bool:
    """Whether a file name is a write under way (`temp_name`, or a `.tmp-` one): listings of
    a run's files and sync leave it out (it is renamed in whole, or removed)."""
    return name.startswith(".") and (name.endswith(".tmp") or name.startswith(".tmp-"))


def atomic_copy(src: Path, dst: Path) -> str:
    """Copy `src` to `dst` whole: under a temp name beside it, fsynced, then renamed, so a
    reader (a sync walking files/) never sees half of it; returns its content's sha256. The
    temp file is removed if the copy fails."""
    tmp = temp_name(dst)
    h = hashlib.sha256()
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(1 << 20):
                h.update(chunk)
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True, mode: int = 0o666) -> None:
    """Replace `path` with `data` so readers see either the old or the new content.

    The temp file is created with `mode` (less the umask), so a secret written with 0o600
    is never readable by others, not even for a moment."""
    tmp = temp_name(path)
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def dumps(obj: Any, indent: int | None = 1) -> bytes:
    """JSON, UTF-8. NaN and infinities are kept (Python's JSON extension) so a summary of a
    diverged run reads back as the float it was, not as a string. `indent=None` for the
    wire (the server's responses, the client's requests)."""
    return json.dumps(obj, ensure_ascii=False, indent=indent, default=_to_json).encode()


def _to_json(obj: Any) -> Any:
    """Objects with a to_json() (flightlog.Histogram in a summary) are stored as its dict."""
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def atomic_write_json(path: Path, obj: Any, *, durable: bool = True) -> None:
    atomic_write_bytes(path, dumps(obj), durable=durable)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
