"""`run.config`: hyperparameters, wandb-style (attribute and item access, `update()`).

Changing a key that already holds a different value is almost always a bug in a training
script (two code paths disagreeing about the learning rate), so it raises unless the caller
says `allow_val_change=True`. Every change is persisted with the run within a flush interval.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePath
from typing import Any

from flightlog.store.atomic import dumps

from ._errors import ArgumentTypeError, ConfigError

#: a config is rewritten with run.json on every change and read by every listing
MAX_CONFIG_BYTES = 10 * 2**20
_MAX_DEPTH = 64
_KEY_TYPES = (str, int, float, bool, type(None))


def jsonable(v: Any, path: str = "config", _seen: tuple[int, ...] = ()) -> Any:
    """A JSON-representable copy of a config value (numpy/torch scalars unwrapped).

    ConfigError, naming the place (`config['opt']['betas']`), for what JSON cannot hold: a
    value that contains itself, nesting deeper than 64 levels, a key that is not a string or
    number."""
    if v is None or type(v) in (bool, int, float, str):
        return v
    if isinstance(v, Mapping | list | tuple | set | frozenset):
        if id(v) in _seen:
            raise ConfigError(
                f"{path} refers back to a dict or list that holds it (a circular reference): "
                "pass a copy without the cycle"
            )
        if len(_seen) >= _MAX_DEPTH:
            raise ConfigError(f"{path} is nested more than {_MAX_DEPTH} levels deep: flatten it")
        seen = (*_seen, id(v))
        if isinstance(v, Mapping):
            return {_key(k, path): jsonable(x, f"{path}[{k!r}]", seen) for k, x in v.items()}
        return [jsonable(x, f"{path}[{i}]", seen) for i, x in enumerate(v)]
    if isinstance(v, PurePath):
        return str(v)
    for base in (bool, int, float, str):  # subclasses such as IntEnum, numpy.float64
        if isinstance(v, base):
            return base(v)
    tolist = getattr(v, "tolist", None)  # numpy arrays and scalars, torch tensors
    if callable(tolist) and not isinstance(v, type):  # not np.float32, the class: its name
        return jsonable(tolist(), path, _seen)
    return str(v)


def _key(k: Any, path: str) -> str:
    """A nested key as JSON stores it: strings kept, numbers/bools/None as text (as json)."""
    if isinstance(k, str):
        return k
    if isinstance(k, _KEY_TYPES):
        return str(k)
    raise ConfigError(
        f"{path} has the key {k!r} of type {type(k).__name__}: config keys must be strings "
        f"(or numbers); use a string such as {str(k)!r}"
    )


def checked(data: Mapping[Any, Any]) -> dict[str, Any]:
    """`data` as config entries ready to store, or ConfigError before anything changes:
    top-level keys non-empty strings, values JSON-representable, the whole under 10 MiB."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(
                f"config keys must be non-empty strings, got {type(key).__name__} {key!r}: "
                f"use a name such as {str(key)!r}"
            )
        out[key] = jsonable(value, f"config[{key!r}]", (id(data),))
    size = len(dumps(out, indent=None))
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config values are {size / 2**20:.1f} MiB as JSON; the limit is "
            f"{MAX_CONFIG_BYTES // 2**20} MiB: store large objects as files with run.save()"
        )
    return out


def as_mapping(obj: Any) -> dict[str, Any]:
    """Accept a dict, an argparse Namespace, any object with __dict__ or the path of a YAML
    file (str or Path) as config input."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, str | PurePath):
        from ._config_file import config_from_file

        return config_from_file(obj)
    if isinstance(obj, argparse.Namespace) or hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise ArgumentTypeError(
        f"config must be a dict, an argparse.Namespace or a YAML file's path, got "
        f"{type(obj).__name__} {obj!r}"
    )


class Config:
    """Attribute- and item-style access over a plain dict; changes call `on_change`."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_on_change", on_change or (lambda: None))

    # mapping protocol -----------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._on_change()

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def keys(self):
        return self._data.keys()

    def items(self):
        return self._data.items()

    def values(self):
        return self._data.values()

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"

    # attribute access ------------------------------------------------------------------
    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(
                f"config has no key {key!r} (keys: {', '.join(self._data) or 'none'})"
            ) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    # updates ---------------------------------------------------------------------------
    def update(self, data: Any = None, allow_val_change: bool = False, **kwargs: Any) -> None:
        """Add keys; changing an existing key's value needs `allow_val_change=True`."""
        staged = {}
        for key, value in checked({**as_mapping(data), **kwargs}).items():
            if key in self._data and self._data[key] != value and not allow_val_change:
                raise ConfigError(
                    f"config key {key!r} is already {self._data[key]!r}; refusing to change it "
                    f"to {value!r}. Pass allow_val_change=True to config.update() if you "
                    "mean to change it"
                )
            staged[key] = value
        if staged:
            self._data.update(staged)
            self._on_change()

    def setdefaults(self, data: Mapping[str, Any]) -> None:
        """Set only the keys that are not set yet (wandb's `config.setdefaults`)."""
        self.update({k: v for k, v in as_mapping(data).items() if k not in self._data})
