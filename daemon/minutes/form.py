"""The fill-in minutes form: what goes into the request mail, `collabd minutes template`, and
(filled with the current version) the objection mail the recorder corrects and sends back.

The form's text lives in templates/<locale>/_minutes_form.txt.j2 and _minutes_form.html.j2;
this module only gathers what they show.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import object_session

from ..mail.render import _environment  # the mail templates' own environment and filters
from ..store.models import Attendee, Locale, Meeting, Minutes, Person, Priority, Rsvp, label

EMPTY_ROWS = 3

# Labels of the HTML form (the text form spells them out in its own template).
LABELS = {
    Locale.ZH_CN: dict(
        colon="：",
        duration="（{}分钟）",
        basic="【会议基本信息】",
        title="会议名称",
        when="会议时间",
        where="会议地点/线上",
        host="主持人",
        recorder="记录人",
        attendees="【参会人员】",
        discussion="【会议议程与讨论内容】",
        discussion_hint="每个议题写明：问题 + 解决方案",
        decisions="【共识事项】",
        decisions_hint="每行一条，例：本次迭代优先开发“订单状态更新”功能",
        action_items="【行动项清单】",
        action_items_hint="每行一项。负责人、协作人写姓名、邮箱或部门；截止日期写 12月5日 或 "
        "2026-12-05；优先级：高 / 中 / 低",
        number="序号",
        columns=("任务", "负责人", "协作人", "完成标准", "截止日期", "所需支持", "优先级"),
        next_steps="【下一步计划】",
        next_meeting="【下次会议】",
        attendees_plain="参会人员",
        list_sep="、",
    ),
    Locale.EN: dict(
        colon=": ",
        duration=" ({} min)",
        basic="[Meeting]",
        title="Title",
        when="When",
        where="Where",
        host="Host",
        recorder="Recorder",
        attendees="[Attendees]",
        discussion="[Agenda and discussion]",
        discussion_hint="For each topic: the problem and the solution",
        decisions="[Decisions]",
        decisions_hint="One per line",
        action_items="[Action items]",
        action_items_hint="One per line. Owner and collaborators: name, mail address or "
        "department; deadline: Dec 5 or 2026-12-05; priority: high / normal / low",
        number="#",
        columns=("Task", "Owner", "Collaborators", "Done when", "Deadline", "Support", "Priority"),
        next_steps="[Next steps]",
        next_meeting="[Next meeting]",
        attendees_plain="Attendees",
        list_sep=", ",
    ),
}


@dataclass(frozen=True)
class AttendeeLine:
    name: str
    department: str
    rsvp: Rsvp


@dataclass(frozen=True)
class FormRow:
    description: str = ""
    owner: str = ""
    collaborators: str = ""
    done_criteria: str = ""
    deadline: str = ""
    support: str = ""
    priority: str = ""


@dataclass(frozen=True)
class Form:
    discussion: str = ""
    decisions: str = ""
    next_steps: str = ""
    next_meeting: str = ""
    rows: list[FormRow] = field(default_factory=list)


def attendee_lines(meeting: Meeting) -> list[AttendeeLine]:
    return [_attendee(a) for a in meeting.attendees]


def _attendee(attendee: Attendee) -> AttendeeLine:
    person = attendee.person
    department = person.department.name if person and person.department else ""
    return AttendeeLine(person.name if person else attendee.email, department, attendee.rsvp)


def empty_form(locale: str) -> Form:
    default = label(Priority.NORMAL, locale)
    return Form(rows=[FormRow(priority=default) for _ in range(EMPTY_ROWS)])


def filled_form(minutes: Minutes, locale: str) -> Form:
    """A published version written back into the form, ready to be corrected."""
    rows = [
        FormRow(
            description=row.description,
            owner=row.owner.name,
            collaborators="、".join(_names(row.collaborators, minutes)),
            done_criteria=row.done_criteria,
            deadline=row.deadline.isoformat() if row.deadline else "",
            support=row.support,
            priority=label(row.priority, locale),
        )
        for row in minutes.rows
    ]
    return Form(
        discussion=minutes.discussion,
        decisions=minutes.decisions,
        next_steps=minutes.next_steps,
        next_meeting=minutes.next_meeting,
        rows=rows,
    )


def _names(addresses: str, minutes: Minutes) -> list[str]:
    """Collaborator addresses back to the names people write."""
    wanted = [a for a in addresses.split(", ") if a]
    session = object_session(minutes)
    if not wanted or session is None:
        return wanted
    by_email = {
        p.email: p.name for p in session.scalars(select(Person).where(Person.email.in_(wanted)))
    }
    return [by_email.get(a, a) for a in wanted]


def form_context(meeting: Meeting, form: Form, locale: str) -> dict:
    """What the form templates need, for a mail's context or for `render_form`."""
    return {
        "meeting": meeting,
        "attendees": attendee_lines(meeting),
        "form": form,
        "L": LABELS.get(Locale(locale) if locale in set(Locale) else Locale.ZH_CN),
    }


def render_form(renderer, meeting: Meeting, form: Form, locale: str) -> str:
    """The text form alone (`collabd minutes template`)."""
    locale = locale if locale in set(Locale) else Locale.ZH_CN
    template = _environment(False).get_template(f"{locale}/_minutes_form.txt.j2")
    context = {"locale": locale, "local": renderer._local, **form_context(meeting, form, locale)}
    return template.render(context).strip() + "\n"
