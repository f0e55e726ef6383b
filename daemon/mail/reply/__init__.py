"""Reply reader: what did the owner type in answer to a collabd mail?

``parse_reply(raw, sent_lines=..., today=...) -> ParsedReply`` is a pure
function (no database, no network, never raises). Modules, one job each:

* ``decode``     MIME → best text part; charset supersets (gb2312→gb18030, big5→big5hkscs)
* ``html2text``  HTML → text, quote containers as ``> `` lines, history cut marker
* ``patterns``   named regexes for separators/headers/attributions/signatures, by client
* ``quotes``     keep typed text, drop quoted history, signatures, boilerplate
* ``autoreply``  out-of-office / bounce detection
* ``dates``      dates after 延期/postpone
* ``grammar``    ``#N 完成`` commands, minutes and acceptance verdicts, unknown words
* ``model``      frozen result dataclasses and their JSON shape
"""

from .model import Acceptance, Command, CommandError, MinutesVerdict, ParsedReply
from .parser import extract_new_text, parse_reply

__all__ = [
    "Acceptance",
    "Command",
    "CommandError",
    "MinutesVerdict",
    "ParsedReply",
    "extract_new_text",
    "parse_reply",
]
