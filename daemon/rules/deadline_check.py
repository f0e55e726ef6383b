"""Is this a deadline a colleague would question? Past, on a day off, or outside the
collaboration's period: the change still stands (people set such dates on purpose: a
Saturday delivery, a date already agreed), but whoever set it is told, with the next
working day offered, at `items add` / `items edit`, in the answer to the recorder's
minutes and in the answer to a delay request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from .current import current_rules
from .workdays import CalendarCoverageError, WorkCalendar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..app import App
    from ..store.models import ActionItem

_WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class DeadlineWarning:
    kind: str  # "past", "day_off", "before_start", "after_end"
    deadline: date
    offer: date | None  # the next working day on or after the day that would do
    holiday: str = ""  # the holiday on that day (春节), "" for a weekend
    bound: date | None = None  # the collaboration's start or end
    estimated: bool = False  # the day off is from the estimate, not a published schedule

    def say(self, locale: str) -> str:
        """The warning in the reader's words, with the day offered instead."""
        zh = locale != "en"
        day, offer = _day(self.deadline, zh), _day(self.offer, zh) if self.offer else ""
        bound = _day(self.bound, zh) if self.bound else ""
        guess = ("（按预估假期计算）" if zh else " (estimated holidays)") if self.estimated else ""
        if zh:
            text = {
                "past": f"截止日期 {day} 已经过去",
                "day_off": f"截止日期 {day} 不是工作日（{self.holiday or '周末'}）{guess}",
                "before_start": f"截止日期 {day} 早于协作开始日 {bound}",
                "after_end": f"截止日期 {day} 晚于协作结束日 {bound}",
            }[self.kind]
            if self.kind == "after_end":
                return text + (f"；协作期内最后一个工作日是 {offer}" if offer else "")
            return text + (f"；下一个工作日是 {offer}" if offer else "")
        text = {
            "past": f"the deadline {day} is in the past",
            "day_off": f"the deadline {day} is not a working day "
            f"({'public holiday ' + self.holiday if self.holiday else 'weekend'}){guess}",
            "before_start": f"the deadline {day} is before the collaboration starts ({bound})",
            "after_end": f"the deadline {day} is after the collaboration ends ({bound})",
        }[self.kind]
        if self.kind == "after_end":
            return text + (f"; its last working day is {offer}" if offer else "")
        return text + (f"; the next working day is {offer}" if offer else "")


def item_deadline_warnings(
    session: Session, app: App, item: ActionItem, deadline: date | None = None
) -> list[DeadlineWarning]:
    """`check_deadline` for an item (its own deadline, or `deadline` it asks for), today in
    the configured zone, against its collaboration's period and the current calendar (read
    in the caller's transaction)."""
    collab = item.collaboration
    today = app.clock.now().astimezone(app.settings.tz).date()
    return check_deadline(
        current_rules(app, session).calendar,
        deadline if deadline is not None else item.deadline,
        today,
        collab.start_date,
        collab.end_date,
    )


def check_deadline(
    calendar: WorkCalendar,
    deadline: date | None,
    today: date,
    start: date | None = None,
    end: date | None = None,
) -> list[DeadlineWarning]:
    """What is odd about `deadline` (nothing for None)."""
    if deadline is None:
        return []
    found: list[DeadlineWarning] = []
    if deadline < today:
        found.append(DeadlineWarning("past", deadline, _next_working(calendar, today)))
    if start is not None and deadline < start:
        found.append(
            DeadlineWarning("before_start", deadline, _next_working(calendar, start), bound=start)
        )
    if end is not None and deadline > end:
        last = _last_working(calendar, end, max(today, start or today))
        found.append(DeadlineWarning("after_end", deadline, last, bound=end))
    try:
        info = calendar.info(deadline)
    except CalendarCoverageError:  # fallback = "refuse" and nobody published the year
        return found
    if not info.working:
        offer = _next_working(calendar, max(deadline, today))
        found.append(
            DeadlineWarning(
                "day_off", deadline, offer, holiday=info.holiday, estimated=info.estimated
            )
        )
    return found


def _next_working(calendar: WorkCalendar, day: date) -> date | None:
    try:
        return calendar.add_working_days(day, 0)
    except CalendarCoverageError:
        return None


def _last_working(calendar: WorkCalendar, end: date, floor: date) -> date | None:
    """The collaboration's last working day (not before `floor`): the latest deadline that
    still fits its period."""
    try:
        day = end if calendar.is_working_day(end) else calendar.add_working_days(end, -1)
    except CalendarCoverageError:
        return None
    return day if day >= floor else None


def _day(value: date | None, zh: bool) -> str:
    if value is None:
        return ""
    if zh:
        return f"{value.year}年{value.month}月{value.day}日（周{_WEEKDAYS[value.weekday()]}）"
    return value.strftime("%a %d %b %Y")
