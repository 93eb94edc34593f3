"""`flightlog.Api(host=URL)`: the runs of a team server, as the same wandb-shaped objects the
local Api gives (`_api_run.ApiRun`).

A RemoteRun is an ApiRun whose logged values come from the server (its Arrow history
stream) instead of segment files, so `history()`, `scan_history()` and their wandb options
behave exactly as locally. Metadata, state and summary are the server's answer when the run
was listed: git and the command only for the project's members, as on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from flightlog.store.history_keys import KeyCounts, tidy_counts
from flightlog.store.layout import RunPaths
from flightlog.sync.remote import RemoteReader
from flightlog.sync.remote_blobs import BlobCache, RemoteMedia

from ._api_files import ApiFile, RemoteFile, select
from ._api_run import ApiRun, artifact_entries
from ._api_runs import Runs
from ._errors import UnsupportedError
from ._user_config import cache_dir

#: RUN fields kept as run.json fields (attributes of the run: run.name, run.group...)
META_FIELDS = (
    "id", "name", "entity", "project", "group", "job_type", "tags", "notes", "created_at",
    "host", "user", "config", "git", "command",
)  # fmt: skip


class RemoteRun(ApiRun):
    """A run on a server, read through `Api(host=...)`."""

    def __init__(self, reader: RemoteReader, run: dict[str, Any]) -> None:
        meta = {k: run[k] for k in META_FIELDS if k in run}
        super().__init__(RunPaths(Path(run["run_key"])), meta, [])
        self._reader = reader
        self._run = run

    @property
    def state(self) -> str:
        return str(self._run["state"])

    @property
    def summary(self) -> dict[str, Any]:
        return ServerSummary(self, self._run["summary"])

    @property
    def last_step(self) -> int:
        """The last step logged (-1 for none), from the server's `steps` (the last step
        plus one): a run read here has no writers' files, which the local run's is from."""
        steps = self._run.get("steps")
        return steps - 1 if isinstance(steps, int) and not isinstance(steps, bool) else -1

    @property
    def error(self) -> str | None:
        return self._run.get("error")

    @property
    def url(self) -> str:
        return f"{self._reader.url}/api/v1/runs/{self.entity}/{self.project}/{self.id}"

    @property
    def dir(self) -> Path:
        raise UnsupportedError(
            f"run {self.shown_path} is on {self._reader.url}: it has no directory"
        )

    def update(self) -> None:
        """Not here: Api(host=...) only reads (an edit would be written to a local path)."""
        raise UnsupportedError(
            f"run {self.shown_path} is on {self._reader.url}, which Api(host=...) only reads: edit "
            "it through flightlog.Api() on the store that logged it"
        )

    def delete(self, delete_artifacts: bool = False) -> None:
        """Delete the run from the server (its DELETE route, sync/run_delete_routes.py):
        for a member of its entity, once no writer of it is alive. Local copies stay."""
        if delete_artifacts:
            raise UnsupportedError(
                f"artifact versions on {self._reader.url} are kept (other runs may use them): "
                "nothing was deleted; call delete() without delete_artifacts=True"
            )
        self._reader.delete(self._run["run_key"])

    def _present(self) -> None:
        """A run deleted on the server: its reads answer 404 (NotFoundError) themselves."""

    def load(self, force: bool = False) -> dict[str, Any]:
        """Read the run again from the server (wandb's `Run.load()`): state, summary and
        the listed fields as they are now."""
        self._run = self._reader.find("/".join(self.path))
        self.meta = {k: self._run[k] for k in META_FIELDS if k in self._run}
        return dict(self.meta)

    def _state_now(self) -> str:
        """The run's state as the server says now (its summary too, read with it)."""
        now = self._reader.run(self._run["run_key"])
        self._run.update(state=now["state"], summary=now["summary"])
        return self.state

    def _recorded(self) -> dict[str, Any]:
        """run.json as the server shows it to this key (git and the command: members only),
        asked when wanted: a listing carries only part of it."""
        return dict(self._reader.run(self._run["run_key"])["meta"])

    def _media_root(self) -> RemoteMedia:
        """The run's media are the server's blobs, fetched (once, into this user's cache)
        when a reference is loaded: sync/remote_blobs.py."""
        return RemoteMedia(self._reader, self._run["run_key"], "/".join(self.path), _cache())

    def _long(self, keys: Iterable[str] | None, stream: str) -> pa.Table:
        return self._reader.tidy(self._run["run_key"], None if keys is None else list(keys), stream)

    def _key_counts(self) -> KeyCounts:
        """The server's counts (its keys route, sync/run_keys_routes.py: it reads keys and
        kinds alone); from its whole history stream when the server is older."""
        doc = self._reader.key_counts(self._run["run_key"])
        if doc is None:
            return tidy_counts(self._long(None, "history"))
        return KeyCounts.of_answer(doc)

    def files(
        self, names: Sequence[str] | None = None, pattern: str | None = None, per_page: int = 50
    ) -> list[ApiFile]:
        """The files the server keeps of the run (console output, requirements, saved
        files; the git diff for members only), chosen as locally (`names`, `pattern`);
        each fetched from the server when downloaded."""
        key = self._run["run_key"]
        listed = [
            RemoteFile(str(f["name"]), int(f.get("size") or 0), self._fetcher(key, str(f["name"])))
            for f in self._reader.files(key)
        ]
        return select(listed, names, pattern)

    def upload_file(self, path: str, root: str = ".") -> ApiFile:
        """Not here: Api(host=) only reads (a file kept with the run is synced from the
        store that logged it)."""
        raise UnsupportedError(
            f"run {self.shown_path} is on {self._reader.url}, which Api(host=...) only reads: "
            "upload the file with run.upload_file() through flightlog.Api() on the store that "
            "logged the run, and sync it"
        )

    def _fetcher(self, key: str, name: str) -> Callable[[], bytes]:
        return lambda: self._reader.file(key, name)

    def _artifacts(self, key: str) -> list[Any]:
        """The versions run.json lists, each found on the server by its content and
        downloaded from it (flightlog/artifacts/server_artifact.py)."""
        from .artifacts.server_artifact import ArtifactServer, server_artifacts

        server = ArtifactServer(self._reader.client, str(self.entity), _cache())
        did = "logged" if key == "artifacts" else "used"
        return server_artifacts(
            server, artifact_entries(self._recorded(), key), self.shown_path, did
        )


class ServerSummary(dict[str, Any]):
    """A server run's summary: its `update()`, wandb's way to store a summary edit, says
    that Api(host=) only reads (a dict's would drop the edit without a word)."""

    def __init__(self, run: RemoteRun, values: dict[str, Any]) -> None:
        super().__init__(values)
        self._run = run

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._run.update()


def _cache() -> BlobCache:
    """This user's cache of blobs fetched from servers (sync/remote_blobs.py)."""
    return BlobCache.of(cache_dir() / "blobs")


def remote_runs(reader: RemoteReader, **query: Any) -> Runs:
    return Runs(RemoteRun(reader, r) for r in reader.select(**query))


def remote_run(reader: RemoteReader, path: str) -> RemoteRun:
    """A run by "entity/project/run_id", "project/run_id" or a bare id (or name)."""
    return RemoteRun(reader, reader.find(path))
