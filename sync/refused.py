"""The one exception the server answers with: a refusal, sent as a 4xx (or 507) JSON error."""

from __future__ import annotations


class Refused(ValueError):
    """A request the server refuses: bad input, no key, no permission, no space. Sent back as
    `status` with `{"error": code, "message": str(self)}`."""

    def __init__(self, message: str, code: str = "invalid", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
