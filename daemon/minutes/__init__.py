"""Minutes (会议纪要): from the end of a meeting to confirmed minutes and numbered action items.

Flow, one module per step:

* ``jobs``     tick job: a meeting ended → ``request`` mails the recorder the fill-in ``form``
* ``sheet``    reading the filled form (reply text, Outlook HTML, Markdown, TOML) as written
* ``resolve``  names → people, dates → dates; all or nothing (``MinutesProblems``)
* ``read``     the one entry point for text and files
* ``publish``  a version: items #N in the ledger, confirmations, the minutes mail
* ``confirm``  确认 / 有异议, objections to recorder and host, the silence policy
* ``replies``  the REPLY_HANDLERS rows' logic
* ``views``    what ``collabd minutes show`` prints
"""

from .confirm import (
    awaiting_minutes,
    pending_confirmations,
    record_verdict,
    remind_to_confirm,
    settle_silent_confirmations,
)
from .publish import Published, current_minutes, publish_minutes
from .read import read_minutes, read_minutes_file
from .request import remind_about_minutes, request_minutes
from .resolve import MinutesProblems

__all__ = [
    "MinutesProblems",
    "Published",
    "awaiting_minutes",
    "current_minutes",
    "pending_confirmations",
    "publish_minutes",
    "read_minutes",
    "read_minutes_file",
    "record_verdict",
    "remind_about_minutes",
    "remind_to_confirm",
    "request_minutes",
    "settle_silent_confirmations",
]
