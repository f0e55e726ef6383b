"""The answers each kind of collabd mail invites, as data: the one-line replies a mail shows
are rendered from this table (`invited(kind, locale, …)`, a template global), and
tests/test_invited_answers.py sends every one of them back through the real mail stack and
checks that it does what `effect` says. A suggestion the route for its kind would not
understand cannot be shown.

`{n}` is the item's number, `{date}` an example new deadline (a weekday a week after the
item's deadline), `{initiator}` the collaboration's initiator.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Invited:
    zh: str
    en: str
    hint_zh: str = ""
    hint_en: str = ""
    # What the reply does, checked by the test: "done", "in_progress", "blocked",
    # "needs_support", "delay_requested", "on_track"; for decisions "delay_approved",
    # "delay_rejected", "accepted", "rejected", "confirmed", "objection", "counter_accepted",
    # "counter_declined", and the retrospective part a line fills.
    effect: str = ""


_DONE = Invited("完成", "done", effect="done")
_PROGRESS = Invited("进行中 80%", "in progress 80%", effect="in_progress")
_BLOCKED = Invited("阻塞: 原因", "blocked: why", effect="blocked")
_SUPPORT = Invited("需支持: 需要什么", "need help: what you need", effect="needs_support")
_DELAY = Invited(
    "延期至{date}，原因：……", "postpone to {date}, reason: ...", effect="delay_requested"
)
# The risk check says who approves a new date (its template knows the initiator).
_DELAY_APPROVED_BY = Invited(
    _DELAY.zh,
    _DELAY.en,
    "新日期需发起人 {initiator} 批准后生效",
    "the initiator, {initiator}, approves the new date",
    effect="delay_requested",
)
_ON_TRACK = Invited("可以按期完成", "on track", effect="on_track")


def _numbered(answer: Invited) -> Invited:
    """The same answer naming its item (`#3 完成`), for a mail that may list several."""
    return Invited(
        "#{n} " + answer.zh, "#{n} " + answer.en, answer.hint_zh, answer.hint_en, answer.effect
    )


# Decisions: each mail asks one person to decide one thing; the answers exclude each other.
_APPROVE_DELAY = (
    Invited("同意", "approve", effect="delay_approved"),
    Invited("驳回：原因", "reject: reason", effect="delay_rejected"),
)
_ACCEPTANCE = (
    Invited("通过", "accept", effect="accepted"),
    Invited("不通过：原因", "reject: reason", effect="rejected"),
    Invited("验收 #{n} 通过", "accept #{n}", effect="accepted"),
    Invited("验收 #{n} 不通过：原因", "reject #{n}: reason", effect="rejected"),
)
_OBJECTION = Invited(
    "有异议：具体内容",
    "objection: what is wrong",
    "例：有异议：第2项的负责人应为李娜",
    "e.g. objection: item 2 belongs to Li Na",
    effect="objection",
)
_MINUTES = (Invited("确认", "OK", effect="confirmed"), _OBJECTION)
_MINUTES_CHASE = (Invited("确认", "confirm", effect="confirmed"), _OBJECTION)
# The coordinator answers an attendee's proposed new time (calendar/counter.py).
_COUNTER = (
    Invited(
        "同意",
        "accept",
        "会议改到建议的时间，所有人收到更新",
        "the meeting moves; everyone gets the update",
        effect="counter_accepted",
    ),
    Invited("不同意", "decline", "维持原时间", "it stays as planned", effect="counter_declined"),
)
INVITED: dict[str, tuple[Invited, ...]] = {
    # a mail about one item: the bare answer is about that item
    "risk_check": (_ON_TRACK, _PROGRESS, _DONE, _DELAY_APPROVED_BY, _SUPPORT),
    "escalation": (_DONE, _PROGRESS, _DELAY, _SUPPORT),
    # a mail that may list several items: every answer names its item
    "reminder": tuple(map(_numbered, (_DONE, _PROGRESS, _BLOCKED, _SUPPORT, _DELAY))),
    "items_assigned": tuple(map(_numbered, (_DONE, _PROGRESS, _BLOCKED, _SUPPORT, _DELAY))),
    # a collaborator (协作人) may report progress or ask for help; the owner decides the rest
    "items_assisting": tuple(map(_numbered, (_PROGRESS, _SUPPORT))),
}

# Mails asking for a decision: each answer is tried on a fresh mail.
DECISIONS: dict[str, tuple[Invited, ...]] = {
    "delay_approval": _APPROVE_DELAY,
    "acceptance_request": _ACCEPTANCE,
    "minutes_published": _MINUTES,
    "minutes_unconfirmed": _MINUTES_CHASE,
    "meeting_answer_notice": _COUNTER,
}


def example_date(
    deadline: date | None,
    today: date | None = None,
    working_day: Callable[[date], bool] | None = None,
) -> date:
    """A week after the deadline (or after today, once the deadline has passed), on a
    working day (`working_day`: the holiday calendar; else Monday to Friday): what a delay
    example proposes, so it is a real delay when sent back."""
    start = max((d for d in (deadline, today) if d is not None), default=date.today())
    day = start + timedelta(days=7)
    while not (working_day(day) if working_day else day.weekday() < 5):
        day += timedelta(days=1)
    return day


def own_examples(
    items: list, locale: str, today: date, working_day: Callable[[date], bool] | None = None
) -> list[str]:
    """Reply lines for the reader's own open `items` (their numbers, a delay to a working
    day after the item's deadline), each of which does what it says when sent back; [] when
    the reader owns none (the mail then says how to see their items instead)."""
    if not items:
        return []
    first, second = items[0], items[1] if len(items) > 1 else items[0]
    when = example_date(second.deadline, today, working_day)
    if str(locale).startswith("en"):
        return [
            f"#{first.number} done",
            f"#{second.number} in progress 60%",
            f"#{first.number} blocked: why",
            f"#{second.number} postpone to {when.isoformat()}, reason: ...",
        ]
    return [
        f"#{first.number} 完成",
        f"#{second.number} 进行中 60%",
        f"#{first.number} 阻塞: 原因",
        f"#{second.number} 延期至{when.month}月{when.day}日，原因：……",
    ]


def invited(kind: str, locale: str, item=None, initiator: str = "") -> list[tuple[str, str]]:
    """(reply, hint) lines of `kind` in `locale`, for `item` (an ActionItem or None)."""
    zh = not str(locale).startswith("en")
    when = example_date(getattr(item, "deadline", None))
    shown = f"{when.month}月{when.day}日" if zh else when.isoformat()
    values = {"n": getattr(item, "number", ""), "date": shown, "initiator": initiator}
    lines = []
    for answer in INVITED.get(kind) or DECISIONS.get(kind, ()):
        text, hint = (answer.zh, answer.hint_zh) if zh else (answer.en, answer.hint_en)
        lines.append((text.format(**values), hint.format(**values)))
    return lines


def answer_lines(kind: str, locale: str, item=None, initiator: str = "") -> list[str]:
    """The lines as a mail shows them: the reply, then its hint in brackets."""
    bracket = ("（", "）") if not str(locale).startswith("en") else ("   (", ")")
    return [
        f"{text}{bracket[0]}{hint}{bracket[1]}" if hint else text
        for text, hint in invited(kind, locale, item, initiator)
    ]


@functools.cache
def _declared_keys() -> tuple[re.Pattern[str], ...]:
    """Every declared answer as a pattern over `line_key`s: `{n}` any number, `{date}` and
    `{initiator}` any text."""
    from .reply.normalize import line_key  # the reply parser imports this module

    marks = {"{n}": "zzn", "{date}": "zzd", "{initiator}": "zzi"}
    patterns = []
    for answers in (*INVITED.values(), *DECISIONS.values()):
        for answer in answers:
            for text in (answer.zh, answer.en):
                for placeholder, mark in marks.items():
                    text = text.replace(placeholder, mark)
                key = re.escape(line_key(text))
                key = key.replace("zzn", r"\d+").replace("zzd", ".+").replace("zzi", ".*")
                patterns.append(re.compile(key))
    return tuple(patterns)


def is_declared_answer(key: str) -> bool:
    """Is this line (its `line_key`) one of the answers some collabd mail suggests? Such a
    line, typed above the quoted mail, is the reply, not an echo of the mail's example —
    `通过`, `同意`, `驳回：原因` are answers no general grammar knows."""
    return any(pattern.fullmatch(key) for pattern in _declared_keys())
