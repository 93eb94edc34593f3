"""What a server's refusal means to the user: each HTTP error of the API becomes one
exception of `flightlog._errors` whose message names the fix (sync/client.py raises them).

A 401 says how to sign in (with a key typed, from the environment or stored), an unknown
entity how to create it, a 403 the server's own message (it names the change that grants
the permission), a 507 that nothing was lost and to sync again later. A certificate this
machine does not trust, or plain HTTP for an https:// URL, is a WrongServerError too
(`link_fault`): retrying cannot help.

A URL that is not a flightlog server's - a web server's HTML, a proxy's login page or
redirect, another API's 404 for /api/v1 - answers without flightlog's JSON error (`{"error":
code, "message": ...}`, sync/server.py): that is WrongServerError, one line naming the URL,
the status, a short escaped gist of the answer and where the URL comes from; a 401 or 407
without that JSON says that a proxy or gateway refused authentication, and how to give it
its own. So is a URL that cannot be parsed (httpx said only "Invalid port"), and a
flightlog server's own 404 for a route it lacks (`not_found`, where a missing run or
project has a code of its own): a URL with a path that is not the server's root, such as
.../api/v1.
"""

from __future__ import annotations

import html
import re

import httpx

from flightlog._errors import (
    EntityNotFoundError,
    NotFoundError,
    NotLoggedInError,
    PermissionDeniedError,
    ServerRejectedError,
    ServerStorageFullError,
    WrongServerError,
)
from flightlog.store.text import safe

from .credentials import Credentials, shown_url

#: where the server's URL comes from, and how to change it (every wrong-URL error ends so)
URL_FIX = (
    "check the server's URL: --host URL, FLIGHTLOG_BASE_URL, or the server of the last "
    "`flightlog login` (`flightlog login --host URL` stores another)"
)
#: characters of a server's answer quoted in an error, at most
GIST_CHARS = 80
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def check_url(url: str) -> None:
    """Raise WrongServerError naming the fix when `url` cannot be a server's address."""
    try:
        parsed = httpx.URL(url)
        why = "" if parsed.host and "%" not in parsed.host else "no host name"
        if parsed.port is not None and not 0 < parsed.port < 65536:
            why = f"port {parsed.port} is not between 1 and 65535"
        if parsed.scheme not in ("http", "https"):
            why = f"{parsed.scheme!r} is not http or https"
    except (httpx.InvalidURL, TypeError, ValueError) as e:
        why = str(e) or type(e).__name__
    if why:
        shown = _cut(shown_url(url))
        raise WrongServerError(f"{shown} is not a server URL ({_cut(why)}); {URL_FIX}")


def flightlog_error(r: httpx.Response) -> dict[str, str] | None:
    """The JSON error a flightlog server answers with, or None when the answer is not one
    (then the URL is not a flightlog server's)."""
    try:
        doc = r.json()
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("error"), str):
        return None
    return {"error": doc["error"], "message": str(doc.get("message", ""))}


def wrong_server(r: httpx.Response, host: str) -> WrongServerError:
    """An answer no flightlog server gives (a 4xx or 501 without its JSON error, a
    redirect, HTML where JSON was asked for)."""
    host, status = shown_url(host), f"HTTP {r.status_code}"
    if r.status_code == 413:  # a proxy in front of the server, with its own body limit
        return WrongServerError(
            f"something between here and {host} (a proxy?) refused a request body as too "
            f"large ({status}, {_gist(r)}), not the flightlog server: raise its limit "
            "(nginx: client_max_body_size 64m), or sync from where the server is reached "
            "directly"
        )
    if r.status_code == 407:  # a forward proxy that wants its own credentials
        return WrongServerError(
            f"the proxy between here and {host} refused authentication ({status}, "
            f"{_gist(r)}), not the flightlog server: give the proxy's user and password in "
            "HTTPS_PROXY / HTTP_PROXY (http://user:password@proxy:port), or sync from where "
            "the server is reached without that proxy"
        )
    if r.status_code == 401:  # a flightlog server refuses a key with its own JSON error
        return WrongServerError(
            f"a proxy or gateway in front of {host} refused authentication ({status}, "
            f"{_gist(r)}), not the flightlog server (which names a refused key itself): the "
            "gateway wants its own sign-in - ask its admin to let /api/v1 through with "
            "flightlog's 'Authorization: Bearer' key, or use the server's direct URL"
        )
    return WrongServerError(
        f"{host} does not look like a flightlog server: its /api/v1 answered {status} "
        f"({_gist(r)}); {URL_FIX}"
    )


#: how to trust a certificate a CA of this machine did not sign: what httpx honours
_TRUST_CA = (
    "if it is self-signed or signed by your own CA, point SSL_CERT_FILE at that certificate "
    "or CA in PEM form (SSL_CERT_DIR: a directory of them) - it replaces the default CA list "
    "for flightlog's requests; or fix the certificate on the server"
)
#: OpenSSL's words for a certificate that trusting its CA would not make good, and the fix
_CERT_FIXES = (
    (("mismatch",), "the certificate is for another name: use the host name it names in "
     "the URL, or give the server a certificate for this one"),
    (("expired", "not yet valid"), "renew the server's certificate (or set this machine's "
     "clock right)"),
)  # fmt: skip


def link_fault(e: httpx.HTTPError, host: str) -> WrongServerError | None:
    """A transport error that is no link that may come back, so not retried as one: an
    https:// URL whose server answered in plain HTTP, or a certificate this machine does
    not trust (a self-signed server, a company CA); None for any other."""
    text = str(e)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        why = text.partition("certificate verify failed: ")[2].split(" (_ssl")[0] or text
        fix = next((f for words, f in _CERT_FIXES if any(w in why for w in words)), _TRUST_CA)
        return WrongServerError(
            f"{shown_url(host)}'s TLS certificate is not trusted here ({_cut(why)}): {fix}"
        )
    if not host.startswith("https://") or "WRONG_VERSION_NUMBER" not in text:
        return None
    host = shown_url(host)
    plain = "http://" + host.removeprefix("https://")
    return WrongServerError(
        f"{host} does not speak HTTPS (its answer to the TLS handshake was plain HTTP): use "
        f"{plain} if that is the flightlog server; {URL_FIX}"
    )


def _gist(r: httpx.Response) -> str:
    """What the answer was, in a few escaped words: a redirect's target, a page's title,
    else the start of its text."""
    if r.has_redirect_location:
        return f"a redirect to {_cut(r.headers.get('location', '?'))}"
    kind = r.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    try:
        text = r.text[:65536]
    except (UnicodeDecodeError, LookupError):
        text = ""
    if "html" in kind and (title := _TITLE.search(text)):
        text = html.unescape(title.group(1))
    text = " ".join(text.split())
    return f'{kind}: "{_cut(text)}"' if text else f"{kind}, empty"


def _cut(text: str) -> str:
    """`text` escaped (no control character reaches a terminal or a log) and cut short."""
    shown = safe(text[: GIST_CHARS + 1])
    return shown if len(shown) <= GIST_CHARS else shown[: GIST_CHARS - 1] + "…"


def error_code(r: httpx.Response) -> str:
    """The error code of a JSON refusal ("" if there is none)."""
    doc = flightlog_error(r)
    return doc["error"] if doc else ""


def storage_full(host: str) -> ServerStorageFullError:
    """A 507, of a request or of one segment of a batch."""
    host = shown_url(host)
    return ServerStorageFullError(
        f"{host} is out of disk space (HTTP 507): nothing was lost, the data stays in the "
        "local store; free space on the server (its admin), then run `flightlog sync` again "
        "(a running sync agent retries by itself)",
        reason=f"{host} is out of disk space (HTTP 507)",
    )


#: where a run's entity comes from when no `--entity` overrides it (the key's user, the
#: last resort, exists)
RUN_ENTITY = "the run's entity (init(entity=...) or FLIGHTLOG_ENTITY)"


def entity_missing(entity: str, host: str, source: str) -> EntityNotFoundError:
    """An entity the server does not have, naming `source`, where it came from: the run's,
    or `--entity` (uploader.Entities.refused says which)."""
    return EntityNotFoundError(
        f"entity {entity!r} does not exist on {host}: check {source}, or ask the server's "
        "admin to create it (`flightlog server user add` / `team add`)"
    )


def refusal(r: httpx.Response, url: str, creds: Credentials) -> Exception:
    """The exception for a 4xx answer `r` to `url` (an API path, /runs/{entity}/...)."""
    host = creds.shown
    doc = flightlog_error(r)
    if doc is None:
        return wrong_server(r, host)
    code, message = doc["error"], doc["message"]
    if r.status_code == 404 and code == "not_found":  # a route it lacks, not a missing thing
        return WrongServerError(
            f"{host}/api/v1{_cut(url)} is no route of the flightlog server there (HTTP 404): "
            "the URL's path is not the flightlog server's root (give its address without "
            f"/api/v1 or another path), or that server is older than this flightlog; {URL_FIX}"
        )
    parts = url.split("/")  # /runs/{entity}/{project}/...: what the refusal is about
    entity, where = (parts[2] if len(parts) > 2 else ""), "/".join(parts[2:4])
    if r.status_code == 401:
        if httpx.URL(creds.base_url).userinfo:  # httpx sends it in the key's place
            return NotLoggedInError(
                f"{host} was sent the user and password in its URL (HTTP Basic) instead of "
                "the API key - both go in the Authorization header, so the key never reached "
                "it: give the server's URL without user:password@"
            )
        if creds.source == "typed":
            return NotLoggedInError(
                f"{host} does not accept that API key (nothing was stored): check it, or "
                "ask the server's admin for one (`flightlog server key create USER`)"
            )
        if creds.source == "env":  # it overrides the stored key: a new login cannot help
            return NotLoggedInError(
                f"{host} does not accept the API key from the environment: check "
                "FLIGHTLOG_API_KEY (or WANDB_API_KEY), which overrides `flightlog login`'s key, "
                "or unset it to use that one; keys come from `flightlog server key create USER`"
            )
        return NotLoggedInError(
            f"{host} does not accept the API key stored on this machine: run `flightlog "
            f"login --host {host}` with a key from `flightlog server key create USER`"
        )
    if code == "entity_not_found":
        return entity_missing(entity, host, RUN_ENTITY)
    if r.status_code == 403:  # the server's message names the change that grants it
        return PermissionDeniedError(f"no permission on project {where} on {host}: {message}")
    if code == "blob_not_found":  # a reference whose blob the run's sync did not send
        return NotFoundError(f"{message} on {host}")
    if code in ("project_not_found", "run_not_found"):
        return NotFoundError(
            f"{message} on {host} (or it is private to its members): `flightlog runs "
            f"--host {host}` lists what you can read"
        )
    return ServerRejectedError(
        f"{host} refused the request (HTTP {r.status_code}{f', {code}' if code else ''}): "
        f"{safe(message[:300]) or 'no reason given'}"
    )
