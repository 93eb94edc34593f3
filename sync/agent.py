"""`flightlog sync --watch`: the agent that ships a store to the server as it grows.

A watchdog observer (inotify, or polling on NFS/Lustre where inotify never sees other hosts'
writes) turns file events into "this run changed"; a catch-up scan on start covers what
happened while no agent ran. Runs are synced one at a time from a due-time queue:

- a sealed segment or a rewritten run.json makes its run due now;
- a writer's state file (rewritten every second) makes it due at most every META_EVERY
  seconds - that is how a running run's summary and liveness arrive - except a final state
  (finished, failed), which makes it due now: the script has exited, and until that state
  arrives the server shows the run running, or crashed once it sees the pid gone;
- a run it cannot read (a file of it damaged, or not as flightlog writes it) is said once
  and tried again as late as a refused one: one such run never stops the others;
- while the server is unreachable the queue waits with jittered exponential backoff capped at
  BACKOFF_CAP seconds, so a returning server is noticed within ~10 s - or longer if its
  answer's Retry-After asked for more (a rate limit: sync/retry_policy.py bounds it).

A request is not retried inside a cycle (the client's retries are 0): the backoff is the
retry, and a cycle stays one attempt long - a SIGTERM, or a returning server, waits for one
request at most. Except a connection that failed fast while the server was last seen up
(refused, reset, or closed before an answer, as a link that drops idle connections does to
a kept-alive one): that request is sent once more at once, on a new connection (RECONNECTS,
the client's `reconnects`), so such a blip costs no "server unreachable", no backoff and no
second pass over the run. That quick retry is no step of the backoff: if it fails too (the
server is down), the agent's backoff starts at its first step, as after any other failure.
While the agent backs off it takes none: each cycle is one try.

It ships with the key `flightlog login` stores for its server now, read again before each
run (`Agent._follow_login`): a new login is taken at once, a login that made another server
the default moves the agent there (`Agent._follow_server`), and after `flightlog logout` the
agent exits, saying so - nothing more leaves with a forgotten key.

One agent per store: `sync-agent.lock` is held with flock while the agent lives; a second
agent exits naming the first. The lock dies with its process, so a killed agent never
leaves a stale lock.
"""

from __future__ import annotations

import heapq
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flightlog._errors import (
    NotLoggedInError,
    ServerStorageFullError,
    ServerUnavailableError,
    SyncError,
)
from flightlog.store.layout import RunPaths, iter_run_dirs, split_run_path
from flightlog.store.liveness import RUNNING

from .client import ServerClient, backoff_delay
from .credentials import load as load_credentials
from .uploader import Entities, RunGone, load_local, sync_run

META_EVERY = 10.0  # seconds between metadata-only syncs of a run (state files, summaries)
BACKOFF_CAP = 8.0  # plus a request's connect timeout: a returning server is seen within 10 s
REFUSED_RETRY = 300.0  # a run the server refused (permissions, bad key) is retried this late
RECONNECTS = 1  # quick retries of a request whose connection failed fast (module docstring)


@dataclass(order=True)
class _Due:
    at: float
    run: Path = field(compare=False)


class RunQueue:
    """Runs to sync, each with the earliest time it is due; thread-safe, one entry per run."""

    def __init__(self) -> None:
        self._due: dict[Path, float] = {}
        self._heap: list[_Due] = []
        self._cond = threading.Condition()

    def push(self, run: Path, at: float) -> None:
        with self._cond:
            prev = self._due.get(run)
            if prev is not None and prev <= at:
                return
            self._due[run] = at
            heapq.heappush(self._heap, _Due(at, run))
            self._cond.notify()

    def pop(self, timeout: float, stop: threading.Event) -> Path | None:
        """The next due run, waiting up to `timeout` seconds for one."""
        end = time.monotonic() + timeout
        with self._cond:
            while not stop.is_set():
                while self._heap and self._due.get(self._heap[0].run) != self._heap[0].at:
                    heapq.heappop(self._heap)  # superseded by an earlier push
                now = time.monotonic()
                if self._heap and self._heap[0].at <= now:
                    item = heapq.heappop(self._heap)
                    del self._due[item.run]
                    return item.run
                wait = end - now
                if self._heap:
                    wait = min(wait, self._heap[0].at - now)
                if wait <= 0:
                    return None
                self._cond.wait(wait)
            return None

    def __len__(self) -> int:
        with self._cond:
            return len(self._due)


def _final(state_file: Path) -> bool:
    """Whether a writer's state file says it ended (a file being replaced, or unreadable,
    says nothing: its next event decides)."""
    try:
        return json.loads(state_file.read_bytes()).get("state", RUNNING) != RUNNING
    except (OSError, ValueError, AttributeError):
        return False


class Agent:
    """Syncs the store at `root` until `stop` is set (or, with `idle_exit`, until idle)."""

    def __init__(
        self,
        root: Path,
        client: ServerClient,
        *,
        entity: str | None = None,
        poll: float | None = None,
        idle_exit: float | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.root = Path(root)
        self.client = client
        self.poll = poll
        self.idle_exit = idle_exit
        self.log = log
        self.queue = RunQueue()
        self.stop = threading.Event()
        self._last_meta: dict[Path, float] = {}
        self._entities = Entities(client, entity)
        self._failures = 0
        self._failing: str | None = None  # what the log last said of the server's failure
        self._retry_at = 0.0  # while the server is unreachable: no request before this
        self._refused: set[str] = set()
        self._entity = entity
        #: runs refused for the key (revoked, unknown): sent again once a new login is seen
        self._held: set[Path] = set()
        #: whether the key is the one `flightlog login` stored (not the environment's, or a
        #: caller's): then the agent follows that login (`_follow_login`)
        stored = load_credentials(base_url=client.creds.base_url)
        self._logged_in = stored.source == "file" and stored.api_key == client.creds.api_key

    # -- events ----------------------------------------------------------------------------
    def on_path(self, path: str) -> None:
        """Classify one changed path of the store and queue its run."""
        rel = Path(path).relative_to(self.root / "runs").parts if path else ()
        rel, inside = split_run_path(rel)  # runs/[@E/]P/ID, then what is inside the run
        if not inside or inside[-1].startswith("."):
            return  # a project or run directory itself, or a temp file
        run = self.root.joinpath("runs", *rel)
        now = time.monotonic()
        sealed = inside[0] in ("history", "system") and inside[-1].endswith(".parquet")
        if sealed or inside == ("run.json",):
            self.queue.push(run, now)
        elif inside[0] == "writers" and inside[-1].endswith(".json"):
            due = now if _final(Path(path)) else self._last_meta.get(run, 0.0) + META_EVERY
            self.queue.push(run, max(now, due))

    def _observer(self) -> Any:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler

        agent = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write", "deleted"):
                    return
                for p in (getattr(event, "dest_path", ""), event.src_path):
                    if p:
                        try:
                            agent.on_path(os.fsdecode(p))
                        except ValueError:
                            pass  # outside runs/

        runs = self.root / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        if self.poll:
            from watchdog.observers.polling import PollingObserver

            observer = PollingObserver(timeout=self.poll)
        else:
            from watchdog.observers import Observer

            observer = Observer()
        observer.schedule(Handler(), str(runs), recursive=True)
        try:
            observer.start()
        except OSError as e:  # e.g. out of inotify watches
            from watchdog.observers.polling import PollingObserver

            self.log(f"file events unavailable ({e}); polling every 2 s instead")
            observer = PollingObserver(timeout=2.0)
            observer.schedule(Handler(), str(runs), recursive=True)
            observer.start()
        return observer

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> None:
        observer = self._observer()
        try:
            for paths in iter_run_dirs(self.root):  # catch-up: whatever happened meanwhile
                self.queue.push(paths.dir, time.monotonic())
            idle_since = time.monotonic()
            while not self.stop.is_set():
                wait = self._retry_at - time.monotonic()
                if wait > 0:  # backing off: new events queue up but do not retry early
                    self.stop.wait(min(wait, 1.0))
                    if not self._follow_login():  # (a login elsewhere ends the backoff)
                        return
                    continue
                run = self.queue.pop(1.0, self.stop)
                if not self._follow_login():  # before each run, and once a second idle
                    return
                if run is None:
                    idle = time.monotonic() - idle_since
                    if self.idle_exit and len(self.queue) == 0 and idle >= self.idle_exit:
                        self.log("nothing left to sync: agent exits")
                        return
                    continue
                self._sync(run)
                idle_since = time.monotonic()
        finally:
            observer.stop()
            observer.join(timeout=5)

    def _follow_login(self) -> bool:
        """Ship with the key `flightlog login` stores for this server now, read again before
        each run and once a second idle (a small file). A new login's key is taken at once,
        without restarting the agent, and the runs the old key had refused are sent again.
        After `flightlog logout` the agent exits, saying so once (False): a logout means "no
        more uploads with that key", and an agent waiting on would keep the store's lock from
        the agent of the next login's online run - whichever server it is to. Runs made
        meanwhile stay local; that agent's catch-up, or `flightlog sync`, sends them. A key
        from elsewhere is looked at again only while the server refuses it."""
        if not (self._logged_in or self._held):
            return True
        if self._logged_in and self._follow_server():
            return True
        if self.client.relogin():
            self._logged_in = True
            self._entities = Entities(self.client, self._entity)  # the new key's user
            self._refused.clear()
            held = f": sending the {len(self._held)} run(s) it refused" if self._held else ""
            self.log(f"a new login to {self.client.shown}: shipping with its key{held}")
            for run in self._held:
                self.queue.push(run, time.monotonic())
            self._held.clear()
        elif self._logged_in and self.client.forgotten:
            self.log(
                f"logged out of {self.client.shown} (`flightlog logout`): the agent exits and "
                "sends nothing more with that key; runs stay local until a new `flightlog "
                "login`, then `flightlog sync --all` or an online run (which starts an agent)"
            )
            return False
        return True

    def _follow_server(self) -> bool:
        """Ship to the server the stored login names now, if a `flightlog login` since made
        another one the default (the server restarted on another port, or moved): every run
        is due at once, as for a new agent's catch-up (a run's synced mark is per server, and
        the server answers what it already has). Kept on the old address, the agent backed
        off forever and held the store's lock: no online run started one for the new one."""
        fresh = load_credentials()
        if fresh.source != "file" or fresh.base_url == self.client.creds.base_url:
            return False
        old = self.client
        self.client = ServerClient(fresh, retries=old.retries, timeout=old.timeout)
        old.close()
        self._entities = Entities(self.client, self._entity)
        self._refused.clear()
        self._failures, self._failing, self._retry_at = 0, None, 0.0
        self.log(f"a login to {self.client.shown}: shipping there from now on")
        for paths in iter_run_dirs(self.root):
            self.queue.push(paths.dir, time.monotonic())
        self._held.clear()
        return True

    def _sync(self, run: Path) -> None:
        now = time.monotonic()
        self._last_meta[run] = now
        self.client.reconnects = 0 if self._failures else RECONNECTS  # backing off: one try
        try:
            local = load_local(RunPaths(run))
            result = sync_run(self.client, local, self._entities.of(local))
        except ServerUnavailableError as e:
            self._failures += 1  # the backoff's steps so far (a quick retry is none)
            delay = backoff_delay(self._failures - 1, cap=BACKOFF_CAP)
            delay = max(delay, e.wait)  # a rate limit's Retry-After
            full = isinstance(e, ServerStorageFullError)
            what = "out of disk space" if full else "unreachable"
            if what != self._failing:  # once per spell, and again when the cause changes
                self.log(f"server {what} ({e.reason}); retrying with backoff, data stays local")
                self._failing = what
            self._retry_at = time.monotonic() + delay
            self.queue.push(run, self._retry_at)
            return
        except SyncError as e:  # refused (key, entity, permission, input): not retried soon
            message = str(self._entities.refused(e))
            if message not in self._refused:  # say it once, not every retry
                self._refused.add(message)
                self.log(f"{run.parent.name}/{run.name}: {message}")
            if isinstance(e, NotLoggedInError):  # held for a new login (`_follow_login`),
                self._held.add(run)  # not queued: an agent with --idle-exit still exits
            else:
                self.queue.push(run, time.monotonic() + REFUSED_RETRY)
            return
        except RunGone as e:  # deleted locally: forgotten, not retried
            self._last_meta.pop(run, None)
            self.log(f"{run.parent.name}/{run.name}: {e.strerror}")
            return
        except OSError as e:  # the run is being written or removed under us
            self.log(f"{run.parent.name}/{run.name}: {e}; retrying")
            self.queue.push(run, time.monotonic() + META_EVERY)
            return
        except ValueError as e:  # a file of it cannot be read as flightlog writes it
            message = f"cannot be read ({e}); skipped, `flightlog doctor` says what is wrong"
            if message not in self._refused:  # said once, tried again as a refused run
                self._refused.add(message)
                self.log(f"{run.parent.name}/{run.name}: {message}")
            self.queue.push(run, time.monotonic() + REFUSED_RETRY)
            return
        if self._failures:
            self.log("server reachable again")
            self._failures = 0
            self._failing = None
        if result.sent or result.blobs:
            self.log(
                f"{result.target}: {result.sent} segment(s), {result.bytes} bytes; "
                f"{result.blobs} file(s), {result.blob_bytes} bytes"
            )
        if result.complete and not result.skipped:
            self.log(f"{result.target}: synced")
        if not result.complete and local.running:
            self.queue.push(run, time.monotonic() + META_EVERY)  # summaries and liveness
