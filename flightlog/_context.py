"""What `init()` records about where a run comes from: git state, command line, host.

Git is asked from the writer's background thread (`capture_git`), never on init()'s path: a
`git status` on a large work tree over NFS can take seconds.
"""

from __future__ import annotations

import getpass
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flightlog.store.liveness import HOSTNAME

_DIFF_LIMIT = 10 * 1024 * 1024
_CREDENTIALS = re.compile(r"(?<=://)[^/@]+@")


def process_context() -> dict[str, Any]:
    """Cheap facts about this process, recorded in run.json at init."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    program = sys.argv[0] if sys.argv and sys.argv[0] else "<python>"
    return {
        "command": [sys.executable, *sys.argv] if sys.argv else [sys.executable],
        "program": program,
        "cwd": os.getcwd(),
        "host": HOSTNAME,
        "user": user,
        "python": platform.python_version(),
        "os": _os_name(),
        "started_at": time.time(),
        "cpu_count": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "scheduler": _scheduler_env(),
    }


_SCHEDULER_PREFIXES = ("SLURM_", "PBS_", "SGE_", "LSB_", "FLUX_")
_SCHEDULER_SECRETS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "CRED")


def _scheduler_env() -> dict[str, str]:
    """The batch scheduler's job variables (Slurm, PBS, SGE, LSF, Flux), if any."""
    return {
        k: v
        for k, v in sorted(os.environ.items())
        if k.startswith(_SCHEDULER_PREFIXES) and not any(s in k.upper() for s in _SCHEDULER_SECRETS)
    }


def _os_name() -> str:
    """`Linux-6.1.0-x86_64`: from uname(2) (platform.platform() starts `uname -p`, a
    process, on init's path)."""
    if hasattr(os, "uname"):
        u = os.uname()
        return f"{u.sysname}-{u.release}-{u.machine}"
    return platform.platform(terse=True)


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def installed_packages() -> list[str]:
    """name==version of every installed distribution, from the names of the .dist-info and
    .egg-info directories on sys.path: one listing per path entry, no METADATA parsed
    (importlib.metadata takes 50-300 ms for the same list)."""
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for n in names:
            for suffix in (".dist-info", ".egg-info"):
                if n.endswith(suffix):
                    name, _, version = n[: -len(suffix)].partition("-")
                    key = name.lower().replace("_", "-")
                    line = name.replace("_", "-") + (f"=={version}" if version else "")
                    if key not in found or "==" not in found[key]:  # prefer a version
                        found[key] = line
    return [found[k] for k in sorted(found)]


def write_requirements(files_dir: Path) -> int:
    """Installed packages into files/requirements.txt; returns how many."""
    packages = installed_packages()
    try:
        files_dir.mkdir(parents=True, exist_ok=True)
        (files_dir / "requirements.txt").write_text("".join(p + "\n" for p in packages))
    except OSError:
        return 0
    return len(packages)


def gpu_info() -> dict[str, Any] | None:
    """GPU names, driver and CUDA versions through NVML, when it answers."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        names = [
            pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)
        ]
        info: dict[str, Any] = {
            "count": count,
            "names": [n.decode() if isinstance(n, bytes) else str(n) for n in names],
        }
        driver = pynvml.nvmlSystemGetDriverVersion()
        info["driver"] = driver.decode() if isinstance(driver, bytes) else str(driver)
        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        info["cuda"] = f"{cuda // 1000}.{(cuda % 1000) // 10}"
        return info
    except Exception:  # not installed, no driver, no GPU
        return None


def _git(cwd: str, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=10,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError, RuntimeError):
        # RuntimeError: refused while the interpreter shuts down. Python 3.12 and 3.13 start
        # this process then (they refuse only os.fork() and preexec_fn; 3.12 refuses
        # threads), which a script that ends right after init() reaches: git is recorded
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode(errors="replace")


def capture_git(cwd: str, files_dir: Path) -> dict[str, Any] | None:
    """Commit, branch, remote (credentials stripped) and dirty flag; the diff as a file."""
    root = _git(cwd, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    commit = (_git(cwd, "rev-parse", "HEAD") or "").strip() or None
    branch = (_git(cwd, "rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None
    remote = (_git(cwd, "config", "--get", "remote.origin.url") or "").strip() or None
    if remote:
        remote = _CREDENTIALS.sub("", remote)
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    dirty = bool(status and status.strip())
    info: dict[str, Any] = {
        "root": root.strip(),
        "commit": commit,
        "branch": branch,
        "remote": remote,
        "dirty": dirty,
    }
    if dirty and commit:
        diff = _git(cwd, "diff", "HEAD")
        if diff:
            data = diff.encode()[:_DIFF_LIMIT]
            try:
                files_dir.mkdir(parents=True, exist_ok=True)
                (files_dir / "diff.patch").write_bytes(data)
                info["diff"] = "files/diff.patch"
            except OSError:
                pass
    return info
