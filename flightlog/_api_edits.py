"""Editing a stored run through `flightlog.Api`, as wandb's public-API Run allows after the
fact: `run.tags.append("best")`, `run.name = ...`, `run.notes = ...`, `run.config[k] = v`,
`run.summary[k] = v`, then `run.update()` (or `run.summary.update()`, as in wandb).

The edits are kept on the ApiRun (its `tags` and `config` are the lists and dicts a script
changes in place) until `update()` writes what differs from run.json as read, merged into
the file as it is now (store/runmeta.py `apply_patch`, under the lock a running run's
writers take too), so an edit never undoes a writer's. The summary is the writers' own
record: its edits go to run.json's `summary_edits`, which readers merge at their time
(store/summary_edits.py).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flightlog.store.runmeta import MetaPatch, apply_patch
from flightlog.store.summary_edits import FIELD, SummaryEdits

from ._config import as_mapping, jsonable
from ._validate import check_setting

if TYPE_CHECKING:
    from flightlog.store import StoredRun

#: run.json fields set as attributes (`run.name = ...`) that `update()` stores
FIELDS = ("name", "notes", "group", "job_type")


class ApiRunEdits:
    """The editable members of `ApiRun` (see the module's docstring)."""

    @property
    def tags(self: StoredRun) -> list[str]:
        if "_tags" not in self.__dict__:
            self.__dict__["_tags"] = self._stored("tags")
        return self.__dict__["_tags"]

    @tags.setter
    def tags(self: StoredRun, value: Any) -> None:
        """Checked as a live run's (a string is refused, not split into letters)."""
        self.__dict__["_tags"] = list(check_setting("tags", value, "run.tags"))

    @property
    def config(self: StoredRun) -> dict[str, Any]:
        if "_config" not in self.__dict__:
            # a deep copy: a nested value edited in place (config["opt"]["lr"] = ...) must
            # differ from run.json as read for update() to store it
            self.__dict__["_config"] = copy.deepcopy(self._stored("config"))
        return self.__dict__["_config"]

    @config.setter
    def config(self: StoredRun, value: Any) -> None:
        """A whole new config (`run.config = {...}`, as wandb's public Run takes one)."""
        self.__dict__["_config"] = copy.deepcopy(as_mapping(value))

    @property
    def summary(self: StoredRun) -> dict[str, Any]:
        if "_summary" not in self.__dict__:
            # a deep copy, as the config's: a nested value edited in place must differ
            self.__dict__["_summary"] = EditedSummary(self, copy.deepcopy(self._stored("summary")))
        return self.__dict__["_summary"]

    def _stored(self: StoredRun, field: str) -> Any:
        """StoredRun's `field` (tags, config, summary): the run as read, without the edits."""
        return getattr(super(), field)

    def update(self: StoredRun) -> None:
        """Store the edits made to this run's name, notes, group, job_type, tags, config
        and summary (wandb's `Run.update()`); a bad value raises before anything is
        written."""
        fields = {
            k: None if v is None else check_setting(k, v, f"run.{k}")
            for k in FIELDS
            if k in self.__dict__ and (v := self.__dict__[k]) != self.meta.get(k)
        }
        tags = self.__dict__.get("_tags")
        if tags is not None and tags != self._stored("tags"):
            fields["tags"] = list(check_setting("tags", tuple(tags), "run.tags"))
        stored = self._stored("config")
        config = {k: jsonable(v) for k, v in self.__dict__.get("_config", stored).items()}
        patch = MetaPatch(
            fields,
            {k: v for k, v in config.items() if k not in stored or stored[k] != v},
            set(stored) - set(config),
            fallback=dict(self.meta),
        )
        if "_summary" in self.__dict__:
            patch.updated.update(self._summary_patch())
        if patch:
            self.meta = apply_patch(self.paths.meta, patch)
        self._read_back()

    def _read_back(self: StoredRun) -> None:
        """The edited members as stored now (merged with what writers wrote meanwhile). The
        tags, config and summary are refilled in place: a script that holds one
        (`summary = run.summary`) edits on through it, and its next update() stores that."""
        for k in FIELDS:
            self.__dict__.pop(k, None)
        held = self.__dict__
        if "_tags" in held:
            held["_tags"][:] = self._stored("tags")
        for name in ("config", "summary"):
            if (values := held.get(f"_{name}")) is not None:
                dict.clear(values)  # (dict's own: EditedSummary.update would store)
                dict.update(values, copy.deepcopy(self._stored(name)))

    def _summary_patch(self: StoredRun) -> dict[str, Callable[[Any], Any]]:
        """How run.json's `summary_edits` changes, if the summary was changed: the values set
        or changed and the keys removed, after the edits the file holds when it is written
        (another editor's meanwhile included)."""
        stored = self._stored("summary")
        edited = {k: jsonable(v) for k, v in self.__dict__["_summary"].items()}
        values = {k: v for k, v in edited.items() if k not in stored or stored[k] != v}
        removed = set(stored) - set(edited)
        if not values and not removed:
            return {}
        at = time.time()

        def merged(now: Any) -> dict[str, Any]:
            before = SummaryEdits.of({FIELD: now}) or SummaryEdits()
            return before.then(at, values, removed)

        return {FIELD: merged}


class EditedSummary(dict[str, Any]):
    """`run.summary` of a stored run: a dict whose `update()` also stores the edits, as
    wandb's public-API summary does (`run.summary["k"] = v; run.summary.update()`)."""

    def __init__(self, run: ApiRunEdits, values: dict[str, Any]) -> None:
        super().__init__(values)
        self._run = run

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(*args, **kwargs)
        self._run.update()
