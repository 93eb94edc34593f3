"""Settings: explicit `init()` arguments > `settings=` > FLIGHTLOG_* > WANDB_* > defaults.

Clusters configure jobs through the environment, so every user-facing setting has a variable;
each WANDB_* twin is honoured when the FLIGHTLOG_* one is unset, so job scripts written for
wandb keep working.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ._errors import ArgumentError, ArgumentTypeError
from ._user_config import CREDENTIALS_FILE, config_dir
from ._validate import check_settings

MODES = ("online", "offline", "disabled", "shared")
RESUME = ("allow", "must", "never", "auto")
REINIT = ("return_previous", "finish_previous", "create_new")

#: setting name -> environment variable suffix (FLIGHTLOG_<suffix>, WANDB_<suffix>)
ENV_NAMES = {
    "mode": "MODE",
    "project": "PROJECT",
    "entity": "ENTITY",
    "name": "NAME",
    "notes": "NOTES",
    "tags": "TAGS",
    "id": "RUN_ID",
    "group": "RUN_GROUP",
    "job_type": "JOB_TYPE",
    "resume": "RESUME",
    "silent": "SILENT",
    "disable_git": "DISABLE_GIT",
    "api_key": "API_KEY",
    "base_url": "BASE_URL",
    "console": "CONSOLE",
}


@dataclass
class Settings:
    """Everything `init()` can be told; `None` means "not set here, look further"."""

    mode: str | None = None
    project: str | None = None
    entity: str | None = None
    name: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] | None = None
    id: str | None = None
    group: str | None = None
    job_type: str | None = None
    resume: str | bool | None = None
    reinit: str | bool | None = None
    dir: str | os.PathLike[str] | None = None
    silent: bool | None = None
    disable_git: bool | None = None
    api_key: str | None = dataclasses.field(default=None, repr=False)
    base_url: str | None = None
    label: str | None = None
    flush_interval: float | None = None
    fsync_interval: float | None = None
    heartbeat_interval: float | None = None
    segment_rows: int | None = None
    segment_seconds: float | None = None
    max_buffered_rows: int | None = None
    stats_interval: float | None = None
    console: str | None = None
    console_max_bytes: int | None = None
    #: a run's media budget (flightlog/media/_sink.py): bytes and files stored in media/
    media_max_bytes: int | None = None
    media_max_files: int | None = None


def _from_env(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Settings found in the environment, and the variable each came from."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, suffix in ENV_NAMES.items():
        for var in (f"FLIGHTLOG_{suffix}", f"WANDB_{suffix}"):
            raw = environ.get(var)
            if raw is not None:
                break
        if raw is None or raw == "":
            continue
        if key == "tags":
            out[key] = tuple(t.strip() for t in raw.split(",") if t.strip())
        else:
            out[key] = raw  # converted and checked with every other source in resolve()
        origin[key] = var
    for key, var in (
        ("stats_interval", "FLIGHTLOG_STATS_INTERVAL"),
        ("segment_seconds", "FLIGHTLOG_SEGMENT_SECONDS"),
        ("media_max_bytes", "FLIGHTLOG_MEDIA_MAX_BYTES"),
        ("media_max_files", "FLIGHTLOG_MEDIA_MAX_FILES"),
    ):
        if environ.get(var):
            out[key], origin[key] = environ[var], var
    if environ.get("FLIGHTLOG_DIR"):
        out["dir"], origin["dir"] = environ["FLIGHTLOG_DIR"], "FLIGHTLOG_DIR"
    elif environ.get("WANDB_DIR"):
        out["dir"] = os.path.join(environ["WANDB_DIR"], "flightlog")  # wandb nests its folder
        origin["dir"] = "WANDB_DIR"
    return out, origin


def _as_dict(settings: Settings | Mapping[str, Any] | None) -> dict[str, Any]:
    if settings is None:
        return {}
    if isinstance(settings, Settings):
        return {f.name: getattr(settings, f.name) for f in fields(Settings)}
    if not isinstance(settings, Mapping):
        raise ArgumentTypeError(
            f"settings must be a flightlog.Settings or a dict, got {type(settings).__name__}: "
            "e.g. settings={'flush_interval': 0.5}"
        )
    from ._wandb_settings import RENAMED, WANDB_FIELDS, say_ignored

    known = {f.name for f in fields(Settings)}
    out = {}
    for k, v in settings.items():
        k = RENAMED.get(k, k)  # wandb's names for the same settings
        if k in known:
            out[k] = v
        elif k in WANDB_FIELDS:
            say_ignored(k)  # a wandb setting with no meaning here: said once
        else:
            raise ArgumentError(
                f"unknown setting {k!r}; known settings: {', '.join(sorted(known))}"
            )
    return out


def resolve(
    args: Mapping[str, Any],
    settings: Settings | Mapping[str, Any] | None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge every source into one Settings; a bad value raises ArgumentError naming its
    source (`init(x=...)`, `settings['x']`, the variable) before anything is written."""
    merged, origin = _from_env(os.environ if environ is None else environ)
    for label, source in (("settings['{}']", _as_dict(settings)), ("init({}=...)", dict(args))):
        for k, v in source.items():
            if v is not None:
                merged[k], origin[k] = v, label.format(k)
    s = Settings(**check_settings(merged, origin))
    s.mode = _mode(s.mode, s)
    s.resume = _resume(s.resume)
    s.reinit = _reinit(s.reinit)
    s.console = _console(s.console)
    s.silent = bool(s.silent)
    s.disable_git = bool(s.disable_git)
    return s


def root_of(s: Settings) -> Path:
    """The store root: `dir=` / FLIGHTLOG_DIR itself, else WANDB_DIR/flightlog, else ./flightlog."""
    return Path(s.dir) if s.dir is not None else Path("flightlog")


def env_root() -> Path:
    """The store init() opens here by default, from the environment's FLIGHTLOG_DIR /
    WANDB_DIR alone: no other variable is checked, so a caller that only needs the path
    (add_dir leaving the store out) is not failed by an unrelated bad one."""
    return root_of(Settings(dir=_from_env(os.environ)[0].get("dir")))


def _mode(mode: str | None, s: Settings) -> str:
    """As wandb: online when a key is configured (environment or `flightlog login`), else
    offline - on an air-gapped cluster nothing is attempted unless asked for."""
    if mode is None:
        if s.api_key:
            return "online"
        # nobody logged in here, or a config directory this user may not read (a container
        # run as another user with HOME=/root): os.path.exists, unlike Path.exists, is
        # False on EACCES instead of raising
        if not os.path.exists(config_dir() / CREDENTIALS_FILE):
            return "offline"
        from flightlog.sync.credentials import load

        return "online" if load(base_url=s.base_url).logged_in else "offline"
    m = str(mode).lower()
    m = {"dryrun": "offline", "run": "online"}.get(m, m)
    if m not in MODES:
        raise ArgumentError(f"unknown mode {mode!r}: use one of {', '.join(MODES)} (or 'dryrun')")
    return m


def _resume(resume: str | bool | None) -> str | None:
    if resume is None or resume is False:
        return None
    if resume is True:
        return "auto"
    r = str(resume).lower()
    if r in ("true", "1"):
        return "auto"
    if r in ("false", "0", ""):
        return None
    if r not in RESUME:
        raise ArgumentError(f"unknown resume={resume!r}: use one of {', '.join(RESUME)}")
    return r


def _reinit(reinit: str | bool | None) -> str:
    if reinit is None or reinit is False:
        return "return_previous"
    if reinit is True:
        return "finish_previous"
    r = str(reinit).lower()
    if r not in REINIT:
        raise ArgumentError(
            f"unknown reinit={reinit!r}: use True, False or one of {', '.join(REINIT)}"
        )
    return r


def _console(console: str | None) -> str:
    """'wrap' (tee stdout/stderr into files/output.log, the default) or 'off'. wandb's
    'auto' and 'redirect' mean 'wrap' here."""
    c = "wrap" if console is None else str(console).lower()
    c = {"auto": "wrap", "redirect": "wrap", "false": "off", "none": "off"}.get(c, c)
    if c not in ("wrap", "off"):
        raise ArgumentError(f"unknown console={console!r}: use 'wrap' or 'off'")
    return c
