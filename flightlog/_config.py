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

from ._errors import ConfigError


def jsonable(v: Any) -> Any:
    """A JSON-representable copy of a config value (numpy/torch scalars unwrapped)."""
    if v is None or type(v) in (bool, int, float, str):
        return v
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [jsonable(x) for x in v]
    if isinstance(v, PurePath):
        return str(v)
    for base in (bool, int, float, str):  # subclasses such as IntEnum, numpy.float64
        if isinstance(v, base):
            return base(v)
    tolist = getattr(v, "tolist", None)  # numpy arrays and scalars, torch tensors
    if callable(tolist):
        return jsonable(tolist())
    return str(v)


def as_mapping(obj: Any) -> dict[str, Any]:
    """Accept a dict, an argparse Namespace or any object with __dict__ as config input."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, argparse.Namespace) or hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise TypeError(f"config must be a dict or an argparse.Namespace, got {type(obj).__name__}")


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
        new = {**as_mapping(data), **kwargs}
        staged = {}
        for key, value in new.items():
            if not isinstance(key, str) or not key:
                raise ConfigError(f"config keys must be non-empty strings, got {key!r}")
            value = jsonable(value)
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
