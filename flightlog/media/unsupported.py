"""wandb media types flightlog does not store: building one works (frameworks do), logging one
warns once naming the key and keeps the rest of the row."""

from __future__ import annotations

from typing import Any

from ._base import Media


class _NotStored(Media):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        self.problem = f"flightlog does not store {type(self).__name__} values"


class Object3D(_NotStored):
    pass


class Molecule(_NotStored):
    pass


class Plotly(_NotStored):
    pass
