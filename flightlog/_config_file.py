"""`init(config="params.yaml")`: a config read from a YAML file, as wandb's init() takes one.

wandb reads its own format, where every key holds `{value: ..., desc: ...}` (the
`config.yaml` it writes beside a run, with `wandb_version: 1`); most people's files are
plain `lr: 0.1` mappings, which wandb fails on. Both are read here: the wandb format when the
file says `wandb_version`, or when every key holds a mapping of a `value` (and a `desc`)
and nothing else: a plain file's `loss: {name: focal, value: 2.0}` is kept whole."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ._config import checked
from ._errors import ArgumentError, ConfigError

DEFAULTS_FILE = "config-defaults.yaml"
#: whether init() reads DEFAULTS_FILE: not for a run written by `flightlog import` (`own_config`)
_read_defaults: ContextVar[bool] = ContextVar("flightlog_read_defaults", default=True)


def config_from_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The config a YAML file holds; ConfigError naming the file and what is wrong (missing,
    unreadable, not YAML, not a mapping of keys) before the run is created."""
    import yaml  # only for a config file: `import flightlog` stays lean

    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(where)!r} does not exist: pass a dict or the path of a YAML "
            "file (relative to the current directory)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {str(where)!r}: {e}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {str(where)!r} is not valid YAML: {e}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"config file {str(where)!r} holds a {type(loaded).__name__}, not a mapping of "
            "keys to values (e.g. `lr: 0.001`)"
        )
    version = loaded.pop("wandb_version", None)
    wrapped = all(_wrapped(v) for v in loaded.values())
    if version is not None or (loaded and wrapped):
        return {
            k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in loaded.items()
        }
    return loaded


def config_defaults() -> dict[str, Any]:
    """wandb's `config-defaults.yaml` in the current directory, which wandb reads into every
    run's config under init()'s `config=` ({} when there is none: one stat, no yaml import).
    A file that holds no config (a YAML typo, a list, someone else's unreadable file in the
    home directory a cluster job starts in) is left out with a warning naming it and what
    is wrong: the script never named it, and training must not end at init() for it."""
    if not _read_defaults.get() or not os.path.isfile(DEFAULTS_FILE):
        return {}
    try:
        return checked(config_from_file(DEFAULTS_FILE))
    except ArgumentError as e:
        warnings.warn(
            f"flightlog: {DEFAULTS_FILE} in {os.getcwd()} is left out of the run's config (fix "
            f"it, or move it away if it is not this project's): {e}",
            RuntimeWarning,
            stacklevel=3,  # init()'s caller
        )
        return {}


@contextmanager
def own_config() -> Iterator[None]:
    """init() inside takes the config it is given only, no DEFAULTS_FILE: `flightlog import`
    writes runs whose config wandb recorded, in a project's directory that holds one."""
    token = _read_defaults.set(False)
    try:
        yield
    finally:
        _read_defaults.reset(token)


def _wrapped(value: Any) -> bool:
    """`value` is a key's entry in wandb's format: `{value: ..., desc: ...}`, nothing else."""
    return isinstance(value, dict) and "value" in value and set(value) <= {"value", "desc"}
