"""Saying a rule's reasons (rules/reasons.py) in a person's language, zh-CN or en.

The one place a decision becomes words: mails (in the recipient's locale), `rules test`,
`rules simulate` and the tick's log (in the operator's). Sentences are written as a
colleague would write them ("截止日 10月9日已过 2 个工作日，现升级至部门负责人"), with no
engine words (`wd`, `needs_support`, role ids); a fact a sentence needs and lacks is a bug
its test finds, so every code is rendered by tests/test_mail_wording.py in both locales.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from ..durations import Duration
from ..store.models import Locale, Priority, label
from .reasons import Reason

ZH, EN = str(Locale.ZH_CN), str(Locale.EN)

# Who a role is, as the person reading the mail says it.
ROLES = {
    "owner": ("负责人", "the owner"),
    "owner_head": ("负责人的部门负责人", "the owner's department head"),
    "initiator": ("发起人", "the initiator"),
    "initiator_leader": ("发起人的上级", "the initiator's manager"),
    "coordinator": ("协调人", "the coordinator"),
    "collaborators": ("协作人", "the collaborators"),
    "support_department": (
        "被请求支持的部门对接人",
        "the contact of the department asked for help",
    ),
    "department_contacts": ("部门对接人", "a department's contact"),
}
_UNITS = {
    "wd": ("个工作日", "working day"),
    "wh": ("个工作小时", "working hour"),
    "d": ("天", "day"),
    "w": ("周", "week"),
    "h": ("小时", "hour"),
    "m": ("分钟", "minute"),
    "s": ("秒", "second"),
}
_WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The holidays' English names, for an English reader of a Chinese calendar.
HOLIDAYS_EN = {
    "元旦": "New Year's Day",
    "春节": "Spring Festival",
    "农历除夕": "Spring Festival's Eve",
    "清明": "Qingming",
    "清明节": "Qingming",
    "劳动节": "Labour Day",
    "端午": "Dragon Boat Festival",
    "端午节": "Dragon Boat Festival",
    "中秋": "Mid-Autumn Festival",
    "中秋节": "Mid-Autumn Festival",
    "国庆节": "National Day",
}


def _zh(locale: str) -> bool:
    return locale != EN


def explain(reasons: Reason | Iterable[Reason], locale: str) -> str:
    """One sentence (or several joined) for the reasons, in `locale`."""
    if isinstance(reasons, Reason):
        reasons = [reasons]
    said = [_say(r, locale) for r in reasons]
    text = ("；" if _zh(locale) else "; ").join(s for s in said if s)
    return text


def role_name(role: str, locale: str) -> str:
    zh, en = ROLES.get(role, (role, role.replace("_", " ")))
    return zh if _zh(locale) else en


def roles(names: Iterable[str], locale: str) -> str:
    words = list(dict.fromkeys(role_name(r, locale) for r in names))
    if _zh(locale):
        return "、".join(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def day(value: date, locale: str) -> str:
    return f"{value.month}月{value.day}日" if _zh(locale) else f"{value.day} {value:%b}"


def moment(value: datetime, locale: str) -> str:
    return f"{day(value.date(), locale)} {value:%H:%M}"


def duration(value: Duration, locale: str) -> str:
    amount = int(value.amount) if value.amount.is_integer() else value.amount
    zh, en = _UNITS.get(value.unit, (value.unit, value.unit))
    if _zh(locale):
        return f"{amount} {zh}"
    return f"{amount} {en}" + ("" if amount == 1 else "s")


def span(amount: int, unit: str, locale: str) -> str:
    return duration(Duration(amount, unit), locale)


def holiday(name: str, locale: str) -> str:
    return name if _zh(locale) else HOLIDAYS_EN.get(name, name)


def _holidays(runs, locale: str) -> str:
    """'（不计 10月1日至10月8日 国庆节假期）' / ' (1 Oct–8 Oct, National Day, not counted)'."""
    if not runs:
        return ""
    parts = []
    for start, end, name in runs:
        dates = day(start, locale)
        if end != start:
            dates += ("至" if _zh(locale) else "–") + day(end, locale)
        parts.append(
            f"{dates} {holiday(name, locale)}"
            if _zh(locale)
            else f"{dates} ({holiday(name, locale)})"
        )
    if _zh(locale):
        return "（不计 " + "、".join(parts) + "假期）"
    return " (not counting the holidays " + ", ".join(parts) + ")"


def _weekday(name: str, locale: str) -> str:
    index = _WEEKDAYS.index(name)
    return _WEEKDAYS_ZH[index] if _zh(locale) else name.capitalize()


# Reasons said by one sentence per language; {name} are the reason's facts, each written
# for the reader first (_facts: dates, instants, durations, roles, weekdays).
SENTENCES = {
    "minutes_missing": (
        "会议于 {ended} 结束，{within}内未提交纪要",
        "the meeting ended on {ended} and no minutes were published within {within}",
    ),
    "minutes_unconfirmed": (
        "纪要于 {published} 发出，{within}内未确认",
        "the minutes went out on {published} and were not confirmed within {within}",
    ),
    "silence_confirmed": (
        "{name} 未在时限内回复，视为确认",
        "{name} did not answer in time, which counts as confirmed",
    ),
    "digest": (
        "每{weekday} {at} 的周报（第 {week} 周）",
        "the weekly digest, every {weekday} at {at} (week {week})",
    ),
    "digest_missed": (
        "{due} 的周报错过发送时间太久，不再补发",
        "the digest due {due} was missed by too long and is skipped",
    ),
    "dependency_done": (
        "所依赖的行动项已完成",
        "what it waits for is done",
    ),
    "collaborator_done": (
        "您是 #{item} 的协作人，该项已完成",
        "you help with #{item}, and it is done",
    ),
    "dependency_risk": (
        "所依赖的 #{item} 可能拖累本项",
        "#{item}, which it waits for, may hold it up",
    ),
    "as_role": ("收件人身份：{role}", "sent to {role}"),
    "deferred": ("非工作时间，{until} 发出", "held until {until} (quiet hours)"),
    "duplicate": ("此前已发出，不重复发送", "already sent before, not sent again"),
    "collapsed": (
        "停机期间错过的 {count} 次合并为 {due} 这一次",
        "{count} earlier occurrence(s) missed while stopped, merged into the one of {due}",
    ),
    "archived": ("协作已归档，不再提醒", "the collaboration is archived"),
    "next_due": (
        "非工作时间须等到 {held}，而同一提醒 {next} 本就会发出，只发那一次",
        "quiet hours would hold it until {held}, and the same reminder is due {next}: "
        "only that one goes out",
    ),
    "stale": ("已过时效（{until} 截止），不再发送", "too late: its window closed {until}"),
    "suppressed": (
        "已有第 {level} 级升级邮件在处理，暂不提醒",
        "an escalation at level {level} is in progress, so no reminder",
    ),
    "estimated": ("工作日按预估假期计算", "the working days are estimated"),
    "error": ("{text}", "{text}"),
}
# Said after the sentence when a fact is true or given.
TAILS = {
    ("minutes_missing", "host_told"): ("，现同时告知主持人", "; the host is told too"),
    ("minutes_unconfirmed", "host_told"): ("（主持人同时收到名单）", " (the host gets the list)"),
    ("suppressed", "note"): ("（{note}）", " ({note})"),
    ("no_recipient", "name"): (
        "（人员表中 {name} 没有填写）",
        " ({name} has none in the people list)",
    ),
}


def _facts(facts: dict, locale: str) -> dict:
    words = {}
    for key, value in facts.items():
        if isinstance(value, datetime):
            words[key] = moment(value, locale)
        elif isinstance(value, date):
            words[key] = day(value, locale)
        elif isinstance(value, Duration):
            words[key] = duration(value, locale)
        elif isinstance(value, time):
            words[key] = value.strftime("%H:%M")
        elif key == "role":
            words[key] = role_name(value, locale)
        elif key == "weekday":
            words[key] = _weekday(value, locale)
        else:
            words[key] = value
    return words


def _say(r: Reason, locale: str) -> str:
    zh = _zh(locale)
    if r.code in ("before_deadline", "risk_check"):
        return _before_deadline(r.facts, locale)
    if r.code == "cadence":
        return _cadence(r.facts, locale)
    if r.code == "escalation":
        return _escalation(r.facts, locale)
    words = _facts(r.facts, locale)
    if r.code == "no_recipient":
        text = f"找不到{words['role']}" if zh else f"nobody is {words['role']}"
    else:
        text = SENTENCES[r.code][0 if zh else 1].format(**words)
    for (code, key), tail in TAILS.items():
        if code == r.code and r.facts.get(key):
            text += tail[0 if zh else 1].format(**words)
    return text


def _before_day_off(f: dict, before: str, deadline: str, extra: str, locale: str) -> str:
    off = f["day_off"]
    if _zh(locale):
        what = "周末" if off == "weekend" else holiday(off, locale)
        head = f"截止日 {deadline} 是{what}，不是工作日"
        if f["amount"] <= 0:
            return f"{head}，今天是截止前最后一个工作日"
        return f"{head}，之前还有 {before}{extra}"
    what = "a weekend day" if off == "weekend" else holiday(off, locale)
    head = f"the deadline, {deadline}, is {what}, not a working day"
    if f["amount"] <= 0:
        return f"{head}: today is the last working day before it"
    return f"{head}: {before} left before it{extra}"


def _before_deadline(f: dict, locale: str) -> str:
    before = span(f["amount"], f["unit"], locale)
    deadline = day(f["deadline"], locale)
    extra = _holidays(f.get("holidays", ()), locale)
    if f.get("day_off"):  # rules/base.py days_before: the deadline is no working day
        return _before_day_off(f, before, deadline, extra, locale)
    if f["amount"] <= 0:  # sent on the deadline day itself (rules/base.py days_left_as_sent)
        if _zh(locale):
            return f"截止日 {deadline} 就是今天"
        return f"the deadline is today, {deadline}"
    if _zh(locale):
        return f"距截止日 {deadline} 还有 {before}{extra}"
    return f"{before} before the deadline, {deadline}{extra}"


def _cadence(f: dict, locale: str) -> str:
    priority = label(Priority(f["priority"]), locale)
    if f["how"] == "daily":
        if _zh(locale):
            return f"{priority}优先级行动项，每个工作日提醒一次"
        return f"{priority.capitalize()} priority: a reminder every working day"
    weekday = _weekday(f["weekday"], locale)
    if _zh(locale):
        return f"{priority}优先级行动项，每{weekday}提醒一次"
    return f"{priority.capitalize()} priority: a reminder every {weekday}"


def _escalation(f: dict, locale: str) -> str:
    zh = _zh(locale)
    elapsed = f.get("elapsed", 0)
    if f["trigger"] == "overdue":
        deadline = day(f["deadline"], locale)
        if zh:
            text = f"截止日 {deadline}已过" + (f" {elapsed} 个工作日" if elapsed > 0 else "")
        else:
            text = f"the deadline, {deadline}, passed" + (
                f" {span(elapsed, 'wd', locale)} ago" if elapsed > 0 else ""
            )
    else:
        since = moment(f["since"], locale)
        state = label_trigger(f["trigger"], locale)
        if zh:
            text = f"自 {since} 起{state}" + (f"，已 {elapsed} 个工作日" if elapsed > 0 else "")
        else:
            text = f"{state} since {since}" + (
                f", {span(elapsed, 'wd', locale)} now" if elapsed > 0 else ""
            )
    to = [role for role in f.get("to", ()) if role != "owner"]
    if f.get("level", 1) > 1 and to:
        text += (
            f"，现升级至{roles(to, locale)}" if zh else f"; now escalated to {roles(to, locale)}"
        )
    elif to:
        text += (
            f"，请{roles(to, locale)}协助处理"
            if zh
            else f"; {roles(to, locale)} {'is' if len(to) == 1 else 'are'} asked to help"
        )
    repeat, most = f.get("repeat", 0), f.get("max_repeats", 0)
    if repeat:
        text += (
            f"（第 {repeat + 1} 次提醒，最多 {most + 1} 次）"
            if zh
            else f" (reminder {repeat + 1} of at most {most + 1})"
        )
    return text


def label_trigger(trigger: str, locale: str) -> str:
    words = {"blocked": ("处于阻塞状态", "blocked"), "needs_support": ("需要支持", "needs support")}
    zh, en = words.get(trigger, (trigger, trigger))
    return zh if _zh(locale) else en
