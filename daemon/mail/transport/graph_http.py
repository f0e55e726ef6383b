"""A thin Microsoft Graph client: one HTTP session, a bearer token, Graph's ways of saying
"not now", and its error bodies turned into collabd's transport failures.

Why not Microsoft's msgraph-sdk: it costs far more to import and to hold in memory than
collabd uses of it (figures in the commit that added this module), and collabd calls a
dozen REST endpoints whose JSON it reads directly. `requests` is already here (exchangelib
depends on it) and is imported only when the first request goes out, so a collabd that does
not use Graph never loads it.

The token comes from a `TokenSource`: any callable returning a bearer token, asked again
with `refresh=True` after Graph answers 401 (graph_auth.py: the OAuth sign-in of mail/oauth,
msal, the token kept in the ledger).

Throttling (429) and "unavailable" (503, 504) carry Retry-After: a short wait is waited here
and the request sent again; a longer one becomes a TemporaryFailure whose `retry_after` the
caller honours (the outbox keeps the mail back that long; the watcher backs off).
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..oauth.http import tls_failure
from .base import OutcomeUnknown, PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

INLINE_WAIT = 2.0  # seconds of Retry-After waited inside a call; longer goes to the caller
INLINE_TRIES = 3  # sends of one request while throttled for short waits
RETRY_STATUSES = frozenset({429, 503, 504})


class TokenSource(Protocol):
    """A bearer token for Graph; `refresh=True` after Graph refused the last one."""

    def __call__(self, refresh: bool = False) -> str: ...


class GraphError(PermanentFailure):
    """Graph refused the request for good (a 4xx other than throttling and sign-in)."""

    def __init__(self, status: int, code: str, message: str, doing: str) -> None:
        super().__init__(f"{doing}: Graph answered {status} {code}: {message}")
        self.status, self.code = status, code


class GraphAccessDenied(TemporaryFailure):
    """401/403: the app's token or permissions are wrong. An admin fixes that, so the mail
    stays queued (a TemporaryFailure) and the message says what to check."""


def expired_sync_state(error: GraphError) -> bool:
    """An expired delta token: 410 Gone, or the syncStateNotFound / resyncRequired codes."""
    return error.status == 410 or error.code.lower() in ("syncstatenotfound", "resyncrequired")


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


# Microsoft: upload chunks in multiples of 320 KiB, at most 60 MiB each (a few MiB is
# what it recommends): 10 × 320 KiB.
UPLOAD_CHUNK = 10 * 320 * 1024
# A request that carries a file whole (an attachment's contentBytes, or sendMail's MIME)
# may be at most about 4 MB; files over 3 MB go through an upload session instead.
INLINE_FILE_LIMIT = 3 * 1024 * 1024


class GraphClient:
    """Requests to one Graph endpoint (`https://graph.microsoft.com/v1.0`) as one app."""

    def __init__(
        self,
        endpoint: str,
        token: TokenSource,
        *,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        ca_file: Path | None = None,
    ) -> None:
        self.base = endpoint.rstrip("/") + "/v1.0"
        self.token, self.timeout, self.sleep = token, timeout, sleep
        self.ca_file = ca_file
        self._session: Any = None
        self._lock = threading.Lock()
        self._first = True  # the first accepted request is noted (`collabd status`)

    def _accepted(self) -> None:
        self._first = False
        note = getattr(self.token, "accepted", None)
        if note is not None:
            note()

    def _http(self) -> Any:
        with self._lock:
            if self._session is None:
                from ..oauth.http import token_http  # lazy: most setups never call Graph

                # mail.oauth.ca_file for Graph too (a private CA, a TLS-inspecting proxy);
                # token_http makes it win over $REQUESTS_CA_BUNDLE.
                self._session = token_http(self.ca_file, self.timeout, retries=0)
            return self._session

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else self.base + path

    def request(
        self,
        method: str,
        path: str,
        *,
        doing: str,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        unsure_once_sent: bool = False,
    ) -> Any:
        """The response of a successful request (2xx). `unsure_once_sent`: a connection that
        breaks after the request went out raises OutcomeUnknown (Graph may have acted)."""
        import requests

        session = self._http()
        refreshed = False
        for attempt in range(1, INLINE_TRIES + 1):
            sent_headers = {"Authorization": f"Bearer {self.token(refresh=refreshed)}"}
            sent_headers.update(headers or {})
            try:
                response = session.request(
                    method,
                    self.url(path),
                    json=json,
                    data=data,
                    headers=sent_headers,
                    params=params,
                    timeout=self.timeout,
                )
            except requests.exceptions.SSLError as exc:  # before anything was sent
                raise TemporaryFailure(f"{doing}: {tls_failure(self.base, exc)}") from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                never_sent = isinstance(exc, requests.ConnectTimeout) or _refused(exc)
                if unsure_once_sent and not never_sent:
                    raise OutcomeUnknown(f"{doing}: the connection to Graph broke: {exc}") from exc
                raise TemporaryFailure(f"{doing}: cannot reach Graph: {exc}") from exc
            except requests.RequestException as exc:
                raise TemporaryFailure(f"{doing}: {type(exc).__name__}: {exc}") from exc
            if response.status_code < 300:
                if refreshed or (attempt == 1 and self._first):
                    self._accepted()
                return response
            if response.status_code == 401 and not refreshed:
                refreshed = True  # the token may have expired a moment ago: one fresh one
                continue
            wait = retry_after(response.headers.get("Retry-After"))
            if response.status_code in RETRY_STATUSES:
                if wait is not None and wait <= INLINE_WAIT and attempt < INLINE_TRIES:
                    log.info(
                        "%s: Graph asked to wait %.1fs (%s)", doing, wait, response.status_code
                    )
                    self.sleep(wait)
                    continue
                raise _temporary(response, doing, wait)
            raise _failure(response, doing, self.token)
        if response.status_code in RETRY_STATUSES:
            raise _temporary(response, doing, wait)
        raise _failure(response, doing, self.token)

    def upload(self, session: dict, content: bytes, *, doing: str) -> None:
        """Put a file through an upload session (createUploadSession's answer), in chunks of
        UPLOAD_CHUNK bytes, as Microsoft documents for attachments over 3 MB: each PUT names
        its bytes with Content-Range, and carries no Authorization header (the upload URL
        is pre-authenticated; a bearer token there is refused)."""
        import requests

        url, total = session["uploadUrl"], len(content)
        for start in range(0, total, UPLOAD_CHUNK):
            chunk = content[start : start + UPLOAD_CHUNK]
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{total}",
            }
            try:
                response = self._http().put(url, data=chunk, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                raise TemporaryFailure(f"{doing}: the upload to Graph broke: {exc}") from exc
            if response.status_code >= 300:
                wait = retry_after(response.headers.get("Retry-After"))
                if response.status_code in RETRY_STATUSES:
                    raise _temporary(response, doing, wait)
                raise _failure(response, doing, self.token)

    def json(self, method: str, path: str, **kw: Any) -> dict:
        response = self.request(method, path, **kw)
        return response.json() if response.content else {}

    def pages(
        self, path: str, *, doing: str, headers: dict[str, str] | None = None
    ) -> Iterator[dict]:
        """Every page of a collection, following @odata.nextLink to the end."""
        link: str | None = path
        while link:
            page = self.json("GET", link, doing=doing, headers=headers)
            yield page
            link = page.get("@odata.nextLink")

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()


def _refused(exc: Exception) -> bool:
    """A connection that was never made (refused, unresolvable): the request never left."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "ConnectionRefused", "NameResolutionError")
    )


def _error_body(response: Any) -> tuple[str, str]:
    """(code, message) of Graph's error body: {"error": {"code": …, "message": …}}."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return "", (response.text or "")[:200]
    return str(error.get("code", "")), str(error.get("message", ""))[:500]


def _temporary(response: Any, doing: str, wait: float | None) -> TemporaryFailure:
    code, message = _error_body(response)
    told = f", retry after {wait:g}s" if wait is not None else ""
    kind = "throttled" if response.status_code == 429 else "unavailable"
    error = TemporaryFailure(
        f"{doing}: Graph is {kind} ({response.status_code} {code}{told}): {message}"
    )
    error.retry_after = wait
    return error


def _failure(
    response: Any, doing: str, token: TokenSource | None = None
) -> TemporaryFailure | PermanentFailure:
    code, message = _error_body(response)
    status = response.status_code
    if status in (401, 403):
        refused = getattr(token, "refused", None)
        if refused is not None:  # for `collabd status`: the last sign-in error
            refused(f"{doing}: Graph answered {status} {code}: {message}")
        return GraphAccessDenied(
            f"{doing}: Graph refused the app ({status} {code}): {message}. "
            "Check tenant_id, client_id and the client secret in [mail.oauth], and that the app "
            "has the application permissions Mail.ReadWrite, Mail.Send and Calendars.ReadWrite "
            "with admin consent (docs/microsoft365.md)"
        )
    if status >= 500:
        return TemporaryFailure(f"{doing}: Graph answered {status} {code}: {message}")
    return GraphError(status, code, message, doing)
