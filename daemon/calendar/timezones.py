"""VTIMEZONE components: every TZID an invitation names is defined in the same object.

Outlook (and RFC 5545) resolve a TZID only against VTIMEZONEs in the same VCALENDAR. For a
zone without daylight saving in the meeting's years (Asia/Shanghai) one STANDARD block is
written: the full IANA history (China's 1986–91 summer time) only confuses clients that
try to match it against Windows zones.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneStandard


def vtimezone(tzid: str, around: datetime) -> Timezone:
    """The zone as it is in the years around `around` (one year before, two after)."""
    zone = ZoneInfo(tzid)
    first, last = date(around.year - 1, 1, 1), date(around.year + 2, 1, 1)
    generated = Timezone.from_tzinfo(zone, tzid, first_date=first, last_date=last)
    if len(generated.subcomponents) > 1:
        generated.pop("COMMENT", None)
        return generated
    # No transitions: one STANDARD block, valid from 1970 on.
    offset = datetime(around.year, 1, 1, tzinfo=zone).utcoffset()
    component = Timezone()
    component.add("TZID", tzid)
    standard = TimezoneStandard()
    standard.add("DTSTART", datetime(1970, 1, 1))
    standard.add("TZOFFSETFROM", offset)
    standard.add("TZOFFSETTO", offset)
    name = datetime(around.year, 1, 1, tzinfo=zone).tzname()
    if name and not name.startswith(("+", "-")):
        standard.add("TZNAME", name)
    component.add_component(standard)
    return component
