"""`Run.log_artifact`, `use_artifact`, `log_model` and `use_model`: the artifact members of
wandb's `Run`, over the store's artifact registry (flightlog/artifacts/).

Each call checks everything it was given (the artifact's files, the aliases, the name to use)
before it stores anything, and records lineage on both sides: the version's manifest names
the run that logged it and `used_by/` the runs that used it; run.json lists what the run
logged (`artifacts`) and used (`used_artifacts`), so both travel with a synced run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import ArtifactError, UsageError
from .artifacts.artifact import Artifact
from .artifacts.names import LATEST, check_alias, parse_ref
from .artifacts.registry import Registry, Version

if TYPE_CHECKING:
    from ._run import Run


class RunArtifacts:
    """The artifact members of `Run` (it inherits them through RunCompat)."""

    def _artifacts(self: Run) -> Registry | None:
        """The registry of the run's store (None for a disabled run, which stores nothing)."""
        return Registry(self._paths.root) if self._paths is not None else None

    def log_artifact(
        self: Run,
        artifact_or_path: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: list[str] | None = None,
        **_kwargs: Any,
    ) -> Artifact:
        """Store the artifact's files (once, content-addressed) as the next version of its
        name in this run's project, or find the version with the same content; give it
        `latest` and `aliases`. Returns the artifact, now that version."""
        art = _as_artifact(artifact_or_path, name, type)
        if isinstance(aliases, str):
            aliases = [aliases]
        chosen = [check_alias(a) for a in dict.fromkeys(aliases or []) if a != LATEST]
        registry = self._artifacts()
        if registry is None:
            return art
        art._registry = registry
        try:
            manifest = art._build_manifest()
            manifest["logged_by"] = {"project": self.project, "id": self.id}
            version, _ = registry.commit(self.project, art.name, manifest, chosen)
        except OSError as e:  # a full or failing disk: the training goes on
            self._warn_once(
                "log_artifact",
                f"log_artifact({art.name!r}) could not store the artifact ({e}); it was not "
                "logged (this is said once; later failures are silent)",
            )
            return art
        art._bind(registry, version, [LATEST, *chosen])
        self._note_artifact("artifacts", version, {"type": art.type, "aliases": art.aliases})
        return art

    def log_model(
        self: Run,
        path: str | os.PathLike[str],
        name: str | None = None,
        aliases: list[str] | None = None,
    ) -> Artifact:
        """A file or directory as a `model` artifact (named run-ID-BASENAME by default)."""
        if name is None:
            base = Path(path).name
            name = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"run-{self.id}-{base}")
        return self.log_artifact(path, name=name, type="model", aliases=aliases)

    def use_artifact(
        self: Run,
        artifact_or_name: Artifact | str,
        type: str | None = None,
        aliases: list[str] | None = None,
        use_as: str | None = None,
        **_kwargs: Any,
    ) -> Artifact:
        """The version `name:vN`, `name:alias`, `project/name:alias` or
        `entity/project/name:alias` of the local store (the run's project by default), or a
        logged Artifact (one read from a server is fetched into the store); recorded as used
        by this run."""
        registry = self._artifacts()
        if registry is None:
            raise UsageError("use_artifact(): this run is disabled and has no store to read")
        if isinstance(artifact_or_name, Artifact):
            art = artifact_or_name._in_store(registry)
            if art._version is None:
                art = self.log_artifact(art, aliases=aliases)
            version = art._logged("use")
        else:
            ref = parse_ref(artifact_or_name)
            version = registry.resolve(ref.project or self.project, ref.name, ref.alias)
            art = Artifact._from_version(registry, version)._expect_type(type)
        try:
            registry.record_use(version, self.project, self.id)
        except OSError as e:  # another user's version, a read-only mount: reading is enough
            self._warn_once(
                "record_use",
                f"use_artifact({version.label!r}): the version's lineage could not be written "
                f"({e}); this run still lists it as used (said once)",
            )
        self._note_artifact("used_artifacts", version, {"type": art.type})
        return art

    def use_model(self: Run, name: str) -> str:
        """Download a model artifact; the path of its file when it has one, else of its
        directory (as wandb's use_model)."""
        path = Path(self.use_artifact(name).download())
        inside = list(path.iterdir())
        return str(inside[0]) if len(inside) == 1 and inside[0].is_file() else str(path)

    def _note_artifact(self: Run, key: str, version: Version, extra: dict[str, Any]) -> None:
        """List `version` in run.json's `key`, written before the call returns (`save()`):
        a kill -9 right after log_artifact() returned left the version out of the run,
        so `logged_artifacts()` missed it and sync never pushed it."""
        entry = {
            "name": version.name,
            "project": version.project,
            "version": f"v{version.version}",
            "digest": version.digest,
            **extra,
        }
        self._append_meta(key, entry)
        self.save()


def _as_artifact(value: Any, name: str | None, type: str | None) -> Artifact:
    """An Artifact, or one made of a path or URI as wandb's `log_artifact(path, name, type)`."""
    if isinstance(value, Artifact):
        return value
    if not isinstance(value, str | os.PathLike):
        raise ArtifactError(
            f"log_artifact({value!r}): give a flightlog.Artifact, a file or directory path, "
            "or a URI"
        )
    text = os.fspath(value)
    path = Path(text)
    art = Artifact(name or path.name or "artifact", type or "unspecified")
    if "://" in text:
        art.add_reference(text)
    elif path.is_dir():
        art.add_dir(path)
    else:
        art.add_file(path)
    return art
