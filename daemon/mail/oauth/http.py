"""The HTTP session both providers' libraries talk to their token endpoints through."""

from __future__ import annotations

import functools
from pathlib import Path


def token_http(ca_file: Path | None, timeout: float = 30.0, retries: int = 1):
    """A requests session with a timeout on every request, trusting `ca_file` when given.

    The CA goes with each request, not on the session: requests lets $REQUESTS_CA_BUNDLE
    (set on many hosts) override a session's own `verify`, and mail.oauth.ca_file must win.
    Proxies from the environment still apply (HTTPS_PROXY, NO_PROXY)."""
    import requests

    session = requests.Session()
    extra: dict = {"timeout": timeout}
    if ca_file is not None:
        extra["verify"] = str(ca_file)
    session.request = functools.partial(session.request, **extra)  # type: ignore[method-assign]
    if retries:
        adapter = requests.adapters.HTTPAdapter(max_retries=retries)  # as msal does by itself
        session.mount("https://", adapter)
    return session


def is_tls_failure(error: BaseException) -> bool:
    """The TLS handshake failed (an untrusted certificate, mostly): nothing was refused,
    nothing was even asked."""
    import ssl

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) or "SSLError" in type(current).__name__:
            return True
        if any("CERTIFICATE_VERIFY_FAILED" in str(arg) for arg in current.args):
            return True
        current = current.__cause__ or current.__context__
    return False


def tls_failure(url: str, error: BaseException) -> str:
    """The words for a failed TLS handshake with `url`, and the setting that fixes it."""
    host = url.split("//", 1)[-1].split("/", 1)[0]
    reason = "certificate not trusted" if "CERTIFICATE_VERIFY_FAILED" in str(error) else "failed"
    return (
        f"TLS/certificate check of {host} {reason} ({_ssl_reason(error)}): behind a private "
        "CA or a TLS-inspecting proxy, set mail.oauth.ca_file to its CA bundle"
    )


def _ssl_reason(error: BaseException) -> str:
    text = str(error)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "SSLV3_ALERT"):
        if marker in text:
            tail = text.split(marker, 1)[1].split(")", 1)[0].strip(" ]:")
            return f"{marker}: {tail}" if tail else marker
    return type(error).__name__
