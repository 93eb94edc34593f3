"""Sending the segments a server lacks: small ones batched, large ones streamed, several
requests in flight.

On loopback one request at a time leaves the link idle while each side waits for the other
(the client reads, the server checks, fsyncs and answers); a few requests in flight keep
both busy. Segments under SMALL bytes go in batches (sync/batch_routes.py: one request, one
result per segment), larger ones one PUT each, streamed from the file. Each segment is still
stored exactly once: the server's placement is idempotent, so a retried batch or a segment
sent by two clients at once is answered "already stored".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flightlog._errors import ServerRejectedError, ServerStorageFullError, ServerUnavailableError

from .client import ServerClient

#: segments smaller than this go in batches
SMALL = 1024 * 1024
#: a batch's bounds (the server's default allows 1,000 segments and 256 MB)
BATCH_SEGMENTS = 256
BATCH_BYTES = 16 * 1024 * 1024
#: requests in flight for one run (and runs synced at once by `flightlog sync`)
IN_FLIGHT = 4

Item = tuple[str, Path]  # (stream, sealed segment file)


@dataclass
class Sent:
    """What the server answered for the segments sent."""

    confirmed: list[Item] = field(default_factory=list)  # the server has them now
    stored: list[Item] = field(default_factory=list)  # ... because this upload stored them
    refused: list[str] = field(default_factory=list)  # "stream/name: why"
    failure: BaseException | None = None  # a request that failed (server unavailable)

    def take(
        self, client: ServerClient, job: list[Item], result: list[dict[str, Any]] | BaseException
    ) -> None:
        """Record one request's answer for `job` - one result per segment, in order, as the
        batch and run+segments routes give them - or the exception it failed with. The first
        failure is kept (a full disk over any other: it is the one that says wait)."""
        if isinstance(result, BaseException):
            if self.failure is None or isinstance(result, ServerStorageFullError):
                self.failure = result
            return
        for item, answer in zip(job, result, strict=True):
            if answer.get("error"):
                if answer["error"] == "insufficient_storage" and self.failure is None:
                    self.failure = client.storage_full()
                else:
                    self.refused.append(f"{item[0]}/{item[1].name}: {answer.get('message')}")
                continue
            self.confirmed.append(item)
            if answer.get("stored"):
                self.stored.append(item)


def plan(items: list[Item]) -> list[list[Item]]:
    """The requests to make: each large segment alone, the small ones in batches."""
    jobs: list[list[Item]] = []
    batch: list[Item] = []
    size = 0
    for stream, path in items:
        n = path.stat().st_size
        if n >= SMALL:
            jobs.append([(stream, path)])
            continue
        if batch and (len(batch) >= BATCH_SEGMENTS or size + n > BATCH_BYTES):
            jobs.append(batch)
            batch, size = [], 0
        batch.append((stream, path))
        size += n
    if batch:
        jobs.append(batch)
    return jobs


def send(
    client: ServerClient,
    target: tuple[str, str, str],
    items: list[Item],
    on_done: Callable[[list[Item]], None] | None = None,
) -> Sent:
    """Upload `items` (none of which the server had); `on_done(items)` after each request.
    A request that fails does not stop the others: everything the server confirmed is in
    the answer, the first failure in `failure`."""
    out = Sent()
    jobs = plan(items)
    if len(jobs) <= 1:  # the agent's usual case: no thread, no wait
        for job in jobs:
            out.take(client, job, _settle(lambda j=job: _request(client, target, j)))
            if on_done:
                on_done(job)
        return out
    with ThreadPoolExecutor(min(IN_FLIGHT, len(jobs))) as pool:
        futures = {pool.submit(_request, client, target, j): j for j in jobs}
        for f in as_completed(futures):
            out.take(client, futures[f], _settle(f.result))
            if on_done:
                on_done(futures[f])
    return out


def _settle(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as e:  # kept and raised by the caller once the others are in
        return e


def _request(
    client: ServerClient, target: tuple[str, str, str], job: list[Item]
) -> list[dict[str, Any]]:
    """One request for `job`: a PUT for one segment, a batch for more (one PUT each when
    the server has no batch route). A batch that fails on the way is tried once, then sent
    again in halves: a link that cuts long requests still carries short ones, a server
    whose disk cannot take the whole body (507) still stores what fits, and a server that is
    down is found out by one segment's retries, not every segment's."""
    if len(job) == 1:
        return list(_one_by_one(client, target, job))
    try:
        answers = client.put_segments(*target, job, retries=0)
    except ServerUnavailableError:  # a full disk (ServerStorageFullError) too
        half = len(job) // 2
        return _request(client, target, job[:half]) + _request(client, target, job[half:])
    if answers is None:
        return list(_one_by_one(client, target, job))
    return answers


def _one_by_one(
    client: ServerClient, target: tuple[str, str, str], job: list[Item]
) -> Iterator[dict[str, Any]]:
    for stream, path in job:
        try:
            yield {"stored": client.put_segment(*target, stream, path)}
        except ServerRejectedError as e:  # the others of the job still go
            yield {"error": "refused", "message": str(e)}
