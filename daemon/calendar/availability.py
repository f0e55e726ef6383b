"""Free/busy of the people a meeting would invite, asked of the calendar collabd writes to:
Microsoft Graph's getSchedule (`calendar.backend = "graph"`) or EWS GetUserAvailability
(`"ews"`). With `"imip"` collabd has no calendar to ask: iMIP invitations are mail, and
nobody's free/busy comes back with them.

Both are asked in UTC for [start, end) and answer per person: a list of busy times, or
None when the server could not read that person's calendar (unknown mailbox, or the app
may not see it), which find-time reports instead of guessing.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from ..errors import UsageError
from .free_time import HARD, SOFT, Busy

if TYPE_CHECKING:
    from ..app import App

GRAPH_BATCH = 20  # schedules per getSchedule request
INTERVAL_MINUTES = 30
NEEDS_BACKEND = (
    'free/busy needs a calendar backend: set calendar.backend = "graph" (Microsoft 365) or '
    '"ews" (Exchange on your own servers). With "imip" invitations are plain mail and '
    "collabd cannot see anyone's calendar; pick a time and run `meeting schedule --start`."
)


def free_busy(
    app: App, emails: list[str], start: datetime, end: datetime
) -> dict[str, list[Busy] | None]:
    """{lowercased address: busy times, or None if unknown} for each address."""
    backend = app.settings.calendar.backend
    if backend == "graph":
        return _graph(app, emails, start, end)
    if backend == "ews":
        return _ews(app, emails, start, end)
    raise UsageError(NEEDS_BACKEND)


def _kept(status: str) -> str | None:
    """Graph's and EWS's words for a busy time, as free_time.py's; None: free."""
    status = status.lower()
    if status in HARD or status in SOFT:
        return status
    return None  # free, workingElsewhere, unknown/NoData (said by the schedule's error)


# --- Microsoft Graph --------------------------------------------------------------------------


def _graph(app: App, emails: list[str], start: datetime, end: datetime) -> dict:
    from .graph import UTC_PREFERENCE, account

    graph = account(app)
    found: dict[str, list[Busy] | None] = {}
    for at in range(0, len(emails), GRAPH_BATCH):
        batch = emails[at : at + GRAPH_BATCH]
        answer = graph.client.json(
            "POST",
            f"{graph.user_path}/calendar/getSchedule",
            json={
                "schedules": batch,
                "startTime": _graph_time(start),
                "endTime": _graph_time(end),
                "availabilityViewInterval": INTERVAL_MINUTES,
            },
            headers=UTC_PREFERENCE,
            doing=f"asking Graph for the free/busy of {len(batch)} people",
        )
        for schedule in answer.get("value", []):
            address = str(schedule.get("scheduleId", "")).lower()
            if schedule.get("error"):
                found[address] = None
                continue
            found[address] = [
                Busy(_utc(item["start"]), _utc(item["end"]), kept)
                for item in schedule.get("scheduleItems", [])
                if (kept := _kept(item.get("status", "")))
            ]
    return {e.lower(): found.get(e.lower()) for e in emails}


def _graph_time(instant: datetime) -> dict[str, str]:
    return {"dateTime": instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _utc(value: dict) -> datetime:
    return datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=UTC)


# --- EWS --------------------------------------------------------------------------------------


def _ews(app: App, emails: list[str], start: datetime, end: datetime) -> dict:
    """GetUserAvailability in UTC (a time zone without transitions: no GetServerTimeZones
    round trip needed)."""
    from exchangelib import UTC as EWS_UTC
    from exchangelib import EWSDateTime
    from exchangelib.properties import (
        DaylightTime,
        FreeBusyViewOptions,
        MailboxData,
        StandardTime,
        TimeWindow,
        TimeZone,
    )
    from exchangelib.services import GetUserAvailability

    from ..mail.transport.ews import _exchange_errors, failure
    from .ews import _account

    def transition(cls, month):  # bias 0 both ways: UTC has no daylight saving time
        return cls(bias=0, time=time(0), occurrence=1, iso_month=month, weekday=7)

    window = TimeWindow(
        start=EWSDateTime.from_datetime(start.astimezone(UTC)).astimezone(EWS_UTC),
        end=EWSDateTime.from_datetime(end.astimezone(UTC)).astimezone(EWS_UTC),
    )
    try:
        protocol = _account(app).get().protocol
        views = list(
            GetUserAvailability(protocol).call(
                tzinfo=EWS_UTC,
                mailbox_data=[
                    MailboxData(email=e, attendee_type="Required", exclude_conflicts=False)
                    for e in emails
                ],
                timezone=TimeZone(
                    bias=0,
                    standard_time=transition(StandardTime, 10),
                    daylight_time=transition(DaylightTime, 3),
                ),
                free_busy_view_options=FreeBusyViewOptions(
                    time_window=window,
                    merged_free_busy_interval=INTERVAL_MINUTES,
                    requested_view="DetailedMerged",
                ),
            )
        )
    except _exchange_errors() as exc:
        raise failure(exc, f"asking Exchange for the free/busy of {len(emails)} people") from exc
    found: dict[str, list[Busy] | None] = {}
    for email, view in zip(emails, views, strict=True):  # answers come in request order
        if isinstance(view, Exception):
            found[email.lower()] = None
            continue
        found[email.lower()] = [
            Busy(_aware(event.start), _aware(event.end), kept)
            for event in view.calendar_events or []
            if (kept := _kept(event.busy_type or ""))
        ]
    return found


def _aware(instant: datetime) -> datetime:
    return datetime.fromisoformat(instant.isoformat()).astimezone(UTC)
