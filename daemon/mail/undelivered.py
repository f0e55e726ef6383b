"""Why a mail could not be delivered, in a word the coordinator's notice can say in their
language with what to do next ("the address does not exist: check it"), instead of the
mail server's English reply alone (delivery_failed, rules/failures.py).

The server's reply is still shown below, marked as such, for whoever runs the mail server.
"""

from __future__ import annotations

import re

# Enhanced status codes (RFC 3463) first, then the words servers commonly use.
_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("gave_up", re.compile(r"^gave up after", re.IGNORECASE)),
    (
        "no_such_user",
        re.compile(
            r"\b5\.1\.[16]\b|user unknown|unknown user|no such (?:user|mailbox|recipient)"
            r"|does not exist|mailbox unavailable|recipient address rejected|not found",
            re.IGNORECASE,
        ),
    ),
    (
        "bad_domain",
        re.compile(
            r"\b5\.1\.2\b|domain not found|host or domain name not found|name or service not known"
            r"|no mx|nodename nor servname",
            re.IGNORECASE,
        ),
    ),
    (
        "mailbox_full",
        re.compile(r"\b[45]\.2\.2\b|mailbox (?:is )?full|over ?quota|quota exceeded", re.I),
    ),
    ("too_large", re.compile(r"\b5\.[23]\.[34]\b|message (?:size|too (?:big|large))", re.I)),
    (
        "refused",
        re.compile(r"\b5\.7\.\d+\b|spam|policy|blocked|blacklist|denied|relay", re.IGNORECASE),
    ),
)


def reason(last_error: str) -> str:
    """One of gave_up, no_such_user, bad_domain, mailbox_full, too_large, refused, other."""
    text = last_error[:2000]
    for name, pattern in _REASONS:
        if pattern.search(text):
            return name
    return "other"
