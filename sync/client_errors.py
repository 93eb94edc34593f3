"""What a server's refusal means to the user: each HTTP error of the API becomes one
exception of `flightlog._errors` whose message names the fix (sync/client.py raises them).

A 401 says how to sign in (with a key typed, from the environment or stored), an unknown
entity how to create it, a 403 the server's own message (it names the change that grants
the permission), a 507 that nothing was lost and to sync again later.
"""

from __future__ import annotations

import httpx

from flightlog._errors import (
    EntityNotFoundError,
    NotFoundError,
    NotLoggedInError,
    PermissionDeniedError,
    ServerRejectedError,
    ServerStorageFullError,
)

from .credentials import Credentials


def error_code(r: httpx.Response) -> str:
    """The error code of a JSON refusal ("" if there is none)."""
    try:
        return str(r.json().get("error", ""))
    except (ValueError, AttributeError):
        return ""


def storage_full(host: str) -> ServerStorageFullError:
    """A 507, of a request or of one segment of a batch."""
    return ServerStorageFullError(
        f"{host} is out of disk space (HTTP 507): nothing was lost, the data stays in the "
        "local store; free space on the server (its admin), then run `flightlog sync` again "
        "(a running sync agent retries by itself)",
        reason=f"{host} is out of disk space (HTTP 507)",
    )


def refusal(r: httpx.Response, url: str, creds: Credentials) -> Exception:
    """The exception for a 4xx answer `r` to `url` (an API path, /runs/{entity}/...)."""
    try:
        doc = r.json()
        code, message = doc.get("error", ""), doc.get("message", "")
    except ValueError:
        code, message = "", r.text[:200]
    host = creds.base_url
    parts = url.split("/")  # /runs/{entity}/{project}/...: what the refusal is about
    entity, where = (parts[2] if len(parts) > 2 else ""), "/".join(parts[2:4])
    if r.status_code == 401:
        if creds.source == "typed":
            return NotLoggedInError(
                f"{host} does not accept that API key (nothing was stored): check it, or "
                "ask the server's admin for one (`flightlog server key create USER`)"
            )
        how = "from the environment" if creds.source == "env" else "stored on this machine"
        return NotLoggedInError(
            f"{host} does not accept the API key {how}: run `flightlog login --host {host}` "
            "with a key from `flightlog server key create USER`"
        )
    if code == "entity_not_found":
        return EntityNotFoundError(
            f"entity {entity!r} does not exist on {host}: check the "
            "run's entity (init(entity=...) or FLIGHTLOG_ENTITY), or ask the server's admin "
            "to create it (`flightlog server user add` / `team add`)"
        )
    if r.status_code == 403:  # the server's message names the change that grants it
        return PermissionDeniedError(f"no permission on project {where} on {host}: {message}")
    if code in ("project_not_found", "run_not_found"):
        return NotFoundError(
            f"{message} on {host} (or it is private to its members): `flightlog runs "
            f"--host {host}` lists what you can read"
        )
    return ServerRejectedError(f"{host} refused the request: {message or r.status_code}")
