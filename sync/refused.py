"""The one exception the server answers with: a refusal, sent as a 4xx (or 507) JSON error."""

from __future__ import annotations


class Refused(ValueError):
    """A request the server refuses: bad input, no key, no permission, no space. Sent back as
    `status` with `{"error": code, "message": str(self)}`."""

    def __init__(self, message: str, code: str = "invalid", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def run_missing(entity: str, project: str, run_id: str, why: str = "") -> Refused:
    """404 run_not_found for an upload into a run the server does not hold (never sent, or
    deleted `why`): what a client does about it - send the run's metadata - said once for
    every store and route that refuses so."""
    return Refused(
        f"run {entity}/{project}/{run_id} does not exist here{why}: send its metadata first",
        "run_not_found",
        404,
    )
