"""Syncing many runs: a few requests in flight, consecutive small runs of a project in one.

`flightlog sync --all` over a store of many small runs - a sweep, a thousand runs of one
0.7 MB segment each - made a request per run, and the server's work per request (HTTP, the
key and the permission, a hop to a worker thread, the answer) cost about as much as the
run's bytes. Runs whose new segments fit one batch now go several to a request (POST
/sync/E/P, sync/project_sync_routes.py); each is then finished as `sync_run` finishes it
(the segments the answer confirms, its blobs, its sync mark). A run the server refused in
such a request, or all of them if the request failed or the server is older, is synced on
its own, as before: the same requests, the same errors.

The shape of those requests is what keeps the server busy. It checks a request's runs one
after another in one thread, two requests at a time, and starts only once the whole body is
in: groups of 16 MB (22 runs of the 1,000-run benchmark store, 0.07 requests per run) took
~0.5 s to arrive on a loaded machine before any check began, and left the server's check
slots empty 21% of the time. Groups of at most 2 MB (3 such runs; tiny runs still up to
GROUP_RUNS) with RUNS_IN_FLIGHT out kept both busy 81% of the time (empty 12%): 30-34 MB/s
against 20-29 for the 1,000-run store in alternating runs on a machine at load 30-40, for
0.41 requests per run (tests/benchmarks/bench_sync.py prints the breakdown). Since a
request's commit no longer holds a check slot while it waits for the disk
(sync/check_slots.py), larger groups pay: 8 MB (~11 such runs, 0.11 requests per run) took
1.2 ms of the server's event loop and 1.3 ms of the client's CPU per run against 1.6-1.7
and 1.7-1.9 with 2 MB, 54-68 MB/s against 43-60, alternating on a machine at load 8-15.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from flightlog._errors import ServerUnavailableError, SyncError
from flightlog.store.syncmark import read_mark

from . import segment_upload
from .client import ServerClient
from .uploader import (
    Entities,
    LocalRun,
    RunSync,
    Together,
    names_of,
    put_extras,
    sync_run,
    unconfirmed,
    up_to_date,
)

#: runs sent in one request at most (POST /sync/E/P, sync/project_sync_routes.py), and
#: their bytes (a run whose new segments fit one batch but not this goes in one alone)
GROUP_RUNS = 64
GROUP_BYTES = 8 * 1024 * 1024
#: groups, or runs synced on their own, on their way at once (a run on its own has up to
#: segment_upload.IN_FLIGHT requests out)
RUNS_IN_FLIGHT = 8
#: frames in one such request at most: a server takes 1,000 (ServerLimits.batch_segments)
GROUP_FRAMES = segment_upload.BATCH_SEGMENTS
Synced = tuple[LocalRun, RunSync, SyncError | None]


def sync_many(
    client: ServerClient,
    runs: list[LocalRun],
    entities: Entities,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[Synced]:
    """Sync `runs`, up to RUNS_IN_FLIGHT runs or groups of runs at a time, yielding each
    one's result and error in order. Consecutive small runs of a project go in one request
    (`_groups`). Once one finds the server unavailable no other run is started: the ones in
    flight finish and are yielded, and the rest are not (the caller says so). `on_bytes` is
    called from several threads."""
    server = client.creds.base_url
    grouping = [GROUP_RUNS > 1]  # until the server turns out to have no route for it
    #: (entity/project, sha256) of the blobs runs sent in this sync: a run answered in a
    #: request with others may be told one is missing that another run sent meanwhile
    sent: set[tuple[str, str]] = set()

    def one(local: LocalRun, together: Together | None = None) -> Synced:
        r = RunSync(local.key)  # what the server confirmed, even if a later request fails
        try:
            if up_to_date(local, server, entities.known(local)):  # synced, unchanged: no request
                r.skipped = r.complete = True
            else:
                entity = entities.of(local)
                sync_run(client, local, entity, on_bytes=on_bytes, result=r, together=together)
        except SyncError as e:
            return local, r, entities.refused(e)
        return local, r, None

    def several(group: list[LocalRun], small: bool) -> list[Synced]:
        answers = _send_together(client, group, entities, grouping) if small else {}
        out: list[Synced] = []
        for local in group:
            if out and isinstance(out[-1][2], ServerUnavailableError):  # not tried
                out.append((local, RunSync(local.key), out[-1][2]))
                continue
            together = answers.get(local.key)
            if together is None:
                out.append(one(local))
                continue
            # answered before the runs ahead of it sent their blobs: not those again
            where = f"{entities.of(local)}/{names_of(local)[0]}"  # blobs are a project's
            missing = together[1].get("missing") or {}
            together[1]["missing"] = {k: o for k, o in missing.items() if (where, k) not in sent}
            out.append(one(local, together))
            if out[-1][2] is None:
                sent.update((where, k) for k in together[1]["missing"])
        return out

    window: deque[Future[list[Synced]]] = deque()
    todo = _groups(runs, server, entities)
    stopped = False
    first: Future[list[Synced]] | None = None  # a project's first run: nothing after it yet
    with ThreadPoolExecutor(RUNS_IN_FLIGHT) as pool:
        while True:
            while not stopped and first is None and len(window) < RUNS_IN_FLIGHT:
                group, small, leads = next(todo, ([], False, False))
                if not group:
                    break
                window.append(pool.submit(several, group, small))
                first = window[-1] if leads else None
            if not window:
                return
            done = window.popleft()
            first = None if done is first else first
            for got in done.result():
                stopped = stopped or isinstance(got[2], ServerUnavailableError)
                yield got


def _groups(
    runs: list[LocalRun], server: str, entities: Entities
) -> Iterator[tuple[list[LocalRun], bool, bool]]:
    """`runs` in order, consecutive small ones of a project together: those not synced
    whose new segments fit one batch, up to GROUP_RUNS runs, GROUP_BYTES bytes and
    GROUP_FRAMES frames (a run's and its segments'). With each group, whether it is of
    small runs (sent with POST /sync/E/P) and whether it leads its project: the first run of
    a project to sync goes alone and is synced before any other is sent, so that the blobs
    runs share (the same requirements.txt, an empty output.log) are on the server when the
    next ones ask - else every run of the first requests in flight is told they are missing
    and sends them, or records its files in a request of its own."""
    group: list[LocalRun] = []
    key: tuple[str, str] | None = None
    size = frames = 0
    seen: set[tuple[str, str]] = set()
    for local in runs:
        n, count, where = _small(local, server, entities)
        if group and (
            n is None
            or where != key
            or size + n > GROUP_BYTES
            or frames + count > GROUP_FRAMES
            or len(group) >= GROUP_RUNS
        ):
            yield group, True, False
            group, size, frames = [], 0, 0
        if where is not None and where not in seen:
            seen.add(where)
            yield [local], n is not None, True
            continue
        if n is None:
            yield [local], False, False
            continue
        group.append(local)
        key, size, frames = where, size + n, frames + count
    if group:
        yield group, True, False


def _small(
    local: LocalRun, server: str, entities: Entities
) -> tuple[int | None, int, tuple[str, str] | None]:
    """The bytes of the run's new segments and its frames in a request (its run frame and a
    segment frame each) if it may go in a request with others - not synced, and what it has
    to send fits one batch - else None and 0; and its (entity, project) if it is to sync."""
    if up_to_date(local, server, entities.known(local)):
        return None, 0, None
    try:
        entity = entities.of(local)
    except SyncError:  # the server was asked: the run goes alone, and says why it failed
        return None, 0, None
    project, run_id = names_of(local)
    items = unconfirmed(local, read_mark(local.paths), f"{entity}/{project}/{run_id}", server)
    if not items or len(segment_upload.plan(items)) > 1:
        return None, 0, (entity, project)
    return sum(p.stat().st_size for _, p in items), 1 + len(items), (entity, project)


def _send_together(
    client: ServerClient, group: list[LocalRun], entities: Entities, grouping: list[bool]
) -> dict[str, Together]:
    """Send the runs of `group` (one project) with their new segments in one request: by
    run key, what was sent and answered, for the runs the server did not refuse (the others
    are synced on their own, and say why). Nothing when the request failed, or the server
    has no route for it (`grouping` is then turned off)."""
    if not grouping[0]:
        return {}
    server = client.creds.base_url
    entity = entities.of(group[0])
    project = names_of(group[0])[0]
    sends, puts = [], []
    for local in group:
        run_id = names_of(local)[1]
        last = read_mark(local.paths)
        target = f"{entity}/{project}/{run_id}"
        puts.append(put_extras(local, last, target, server))
        doc = {"meta": local.stored.meta, "writers": local.stored.writers, **puts[-1][2]}
        sends.append((run_id, doc, unconfirmed(local, last, target, server)))
    try:  # not retried: each run is then synced on its own, with retries
        answers = client.sync_runs(entity, project, sends, retries=0)
    except SyncError:  # unavailable, or refused whole (no such entity, no permission): each
        return {}  # run on its own says why
    if answers is None:
        grouping[0] = False
        return {}
    return {
        local.key: (items, answer, put)
        for local, (_, _, items), put, answer in zip(group, sends, puts, answers, strict=True)
        if not answer.get("error")
    }
