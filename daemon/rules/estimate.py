"""China's statutory holidays for a year nobody has published the schedule of yet.

The State Council publishes each year's schedule (which days are off, which weekend days
are worked to pay for the long breaks) around November of the year before. Until then —
and for any year chinesecalendar does not cover — the best we can do is what the law fixes:
元旦 1 January, 春节 (lunar new year's eve to the third day), 清明 (the solar term), 劳动节
1 May, 端午 and 中秋 (lunar dates) and 国庆 1–3 October, moved off weekends. The `holidays`
package computes exactly that, lunar calendar included, and is maintained for it; the
make-up working days (调休上班) cannot be computed and stay unknown.
"""

from __future__ import annotations

import functools
from datetime import date


@functools.cache
def estimated_holidays(year: int) -> dict[date, str]:
    """{day: "春节 Chinese New Year (Spring Festival)"} for `year`; {} where the package
    has no rules for it (before 1950, or lunar dates beyond its tables)."""
    import holidays  # ~9 MiB: loaded only for a year nobody has published

    try:
        chinese = holidays.China(years=year, language="zh_CN")
        english = holidays.China(years=year, language="en_US")
    except (NotImplementedError, ValueError, KeyError):
        return {}
    return {
        day: f"{name} {english.get(day, '')}".strip()
        for day, name in sorted(chinese.items())
        if day.year == year
    }
