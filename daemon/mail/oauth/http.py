"""The HTTP session both providers' libraries talk to their token endpoints through."""

from __future__ import annotations

import functools
from pathlib import Path


def token_http(ca_file: Path | None, timeout: float = 30.0):
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
    adapter = requests.adapters.HTTPAdapter(max_retries=1)  # as msal does by itself
    session.mount("https://", adapter)
    return session
