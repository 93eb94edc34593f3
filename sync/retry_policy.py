"""When the client tries a request again, and how long it waits first: exponential backoff
with full jitter, never sooner than the server's Retry-After (within a bound), and which
answers are worth another try (sync/client.py `_call`; the agent's backoff too)."""

from __future__ import annotations

import math
import random
import time
from email.utils import parsedate_to_datetime

import httpx

#: a request body the server gave up on (it stalled past its idle timeout): the link's
#: problem, not a refusal - retried like a 5xx
STALLED = 408
#: too many requests (a proxy's or gateway's rate limit): retried, after its Retry-After
RATE_LIMITED = 429
#: the longest wait a Retry-After gets, in seconds: a server or proxy asking for an hour
#: must not hang `flightlog sync` for one (it tries again after this, then says it failed)
RETRY_AFTER_CAP = 60.0


def retry_after(r: httpx.Response) -> float:
    """The seconds a 429 or 5xx answer's Retry-After asks for (delta-seconds or an HTTP
    date), within 0..RETRY_AFTER_CAP; 0 without one, or with one that cannot be read."""
    value = r.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return 0.0
    return 0.0 if math.isnan(seconds) else min(max(seconds, 0.0), RETRY_AFTER_CAP)


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter (AWS style), never above `cap` seconds: a server
    that comes back is noticed within `cap` plus one request."""
    return random.uniform(base / 2, min(cap, base * 2**attempt))
