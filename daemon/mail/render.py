"""Rendering mails from the jinja2 templates in `templates/<locale>/`.

StrictUndefined: a template that names a missing value fails loudly in tests instead of
mailing a blank to a person. HTML is autoescaped; plain text is not (it is not markup).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..store.models import Locale, label
from .invited import answer_lines, example_date, own_examples

if TYPE_CHECKING:  # jinja2 is imported by the first mail rendered: an idle daemon, or a
    # command that only reads the ledger, never loads it
    from jinja2 import Environment, Template

DEFAULT_LOCALE = Locale.ZH_CN


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def _format_date(value: date | None, locale: str) -> str:
    if value is None:
        return "—"
    if locale == Locale.EN:
        return value.strftime("%a %d %b %Y")
    weekday = "一二三四五六日"[value.weekday()]
    return f"{value.year}年{value.month}月{value.day}日（周{weekday}）"


# A meeting's zone as a Chinese reader says it ("北京时间", not "Asia/Shanghai"); a zone
# not named here is shown by its offset ("UTC+09:00"), never by its database name.
_ZONES_ZH = {
    "Asia/Shanghai": "北京时间",
    "Asia/Chongqing": "北京时间",
    "Asia/Harbin": "北京时间",
    "Asia/Urumqi": "乌鲁木齐时间",
    "Asia/Hong_Kong": "香港时间",
    "Asia/Macau": "澳门时间",
    "Asia/Taipei": "台北时间",
    "Asia/Singapore": "新加坡时间",
    "Asia/Tokyo": "东京时间",
    "Asia/Seoul": "首尔时间",
    "Europe/London": "伦敦时间",
    "Europe/Berlin": "柏林时间",
    "Europe/Paris": "巴黎时间",
    "America/New_York": "纽约时间",
    "America/Los_Angeles": "洛杉矶时间",
    "UTC": "UTC",
}


def _zone_name(zone: str, locale: str, at: datetime | None = None) -> str:
    if locale == Locale.EN:
        return zone
    if zone in _ZONES_ZH:
        return _ZONES_ZH[zone]
    try:
        offset = (at or datetime.now(UTC)).astimezone(ZoneInfo(zone)).strftime("%z")
    except (ValueError, KeyError):  # not a zone name at all: shown as given
        return zone
    return f"UTC{offset[:3]}:{offset[3:]}"


def _item_refs(items: list, locale: str) -> str:
    """#1、#3 (zh) or #1, #3 (en)."""
    return ("、" if locale != Locale.EN else ", ").join(f"#{item.number}" for item in items)


def _later(day: date, locale: str) -> str:
    when = example_date(day)
    return when.isoformat() if locale == Locale.EN else f"{when.month}月{when.day}日"


def _shown(value: object, locale: str) -> str:
    """A changed value as a mail shows it: enums in words, dates as days, people by name,
    item numbers as #N, nothing as —."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        sep = "、" if locale != Locale.EN else ", "
        return sep.join(f"#{v}" if isinstance(v, int) else _shown(v, locale) for v in value)
    if isinstance(value, enum.Enum):
        return label(value, locale)
    if isinstance(value, date):
        return _format_date(value, locale)
    return str(getattr(value, "name", value))


# Characters that change how text looks without being seen: bidi overrides and isolates
# (`重新登录\u202egnp.exe` shows as "重新登录exe.png"), marks, zero-widths, C1 controls.
# collabd's own words never need them; people's words relayed in a mail (a COUNTER's
# comment, a task, a reason) lose them in every template (outside attack F8).
_INVISIBLE = re.compile("[\x80-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def without_invisible(text: str) -> str:
    """`text` without bidi controls, zero-widths and C1 controls."""
    return _INVISIBLE.sub("", text)


def visible(value: object) -> object:
    """Jinja's `finalize`: every {{ … }} of a string without invisible controls (escaped
    markup stays markup)."""
    if not isinstance(value, str) or not _INVISIBLE.search(value):
        return value
    cleaned = _INVISIBLE.sub("", value)
    return type(value)(cleaned) if hasattr(value, "__html__") else cleaned


_LINK = re.compile(r"(?i)\b(?:http|ftp)(s?)://([^\s/?#<>\"']+)")


def defang(text: object) -> str:
    """Someone's words relayed to another person, links made unclickable: `http://evil.example`
    → `hxxp://evil[.]example` (outside attack F2/F8: collabd mailed a COUNTER's phishing link
    from its own, trusted address). The reader still sees what was written."""
    return _LINK.sub(
        lambda m: f"hxxp{m[1]}://{m[2].replace('.', '[.]')}", "" if text is None else str(text)
    )


@cache
def _environment(autoescape: bool) -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(files("daemon.templates"))),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates are part of the installed package: no stat() of the file on every mail.
        auto_reload=False,
        finalize=visible,
    )
    env.filters["label"] = lambda value, locale: label(value, locale)
    env.filters["day"] = _format_date
    env.filters["refs"] = _item_refs
    env.filters["zone"] = _zone_name
    env.filters["shown"] = _shown
    env.filters["defang"] = defang
    # the example date of a delay line ("延期至12月25日"): a weekday a week after the given
    # day, never a fixed date that has passed (12月5日 sent back in December meant next year)
    env.filters["later"] = _later
    # the one-line replies a mail suggests, from the table of what its kind invites
    env.globals["answer_lines"] = answer_lines
    env.globals["own_examples"] = own_examples
    return env


@cache
def _template(autoescape: bool, name: str, ext: str, locale: str) -> Template | None:
    """The template for a locale, else the default locale's, else None (looked up once per
    name: a missing template costs an exception and a stat() of the disk each time)."""
    from jinja2 import TemplateNotFound

    env = _environment(autoescape)
    for wanted in dict.fromkeys((locale, DEFAULT_LOCALE)):
        try:
            return env.get_template(f"{wanted}/{name}.{ext}.j2")
        except TemplateNotFound:
            continue
    return None


class Renderer:
    def __init__(self, timezone: ZoneInfo) -> None:
        self.timezone = timezone

    def render(self, name: str, locale: str, **context: object) -> RenderedMail:
        locale = locale if locale in set(Locale) else DEFAULT_LOCALE
        context = {"locale": locale, "local": self._local, **context}
        text_template = _template(False, name, "txt", locale)
        if text_template is None:
            from jinja2 import TemplateNotFound

            raise TemplateNotFound(f"{locale}/{name}.txt.j2")
        header, _, body = text_template.render(context).partition("\n\n")
        if not header.startswith("Subject: "):
            raise ValueError(f"template {locale}/{name}.txt.j2 must start with 'Subject: '")
        if "\n" in header.strip():  # a block tag ending the Subject line ate its newline
            raise ValueError(
                f"template {locale}/{name}.txt.j2: the Subject line must be followed by a "
                "blank line (end a Subject that ends in a block tag with '+%}')"
            )
        subject = " ".join(header.removeprefix("Subject: ").split())
        body = body.strip() + "\n"
        html_template = _template(True, name, "html", locale)
        if html_template is None:  # short answers have only a text template
            html_template = _environment(True).get_template("_plain.html.j2")
            context = {**context, "subject": subject, "text": body}
        html = html_template.render(context)
        return RenderedMail(subject=subject, text=body, html=html)

    def _local(self, instant: datetime) -> str:
        """An instant as people read it: in the configured timezone, to the minute."""
        return instant.astimezone(self.timezone).strftime("%Y-%m-%d %H:%M")
