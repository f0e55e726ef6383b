"""Publishing a version of the minutes: the ledger items it creates or corrects, who is asked
to confirm, and the mail every attendee gets — all in the caller's transaction.

A correction (version N+1) supersedes the current version and keeps it. Its action-item rows
are matched to the old ones (same task first, then by position): a changed row changes its
item (history per field), a new row becomes a new item, a row that disappeared leaves its
item in the ledger with a history note. Only the people a correction touches (owners and
collaborators of changed rows) and those who objected are asked again; everyone else's answer
carries over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..announce import assign_items
from ..ledger.history import Origin, record, record_on
from ..ledger.items import ItemChange, ensure_active, update_item
from ..ledger.specs import ItemSpec
from ..ledger.wording import change_words
from ..mail.outbox import queue_mail
from ..store.models import (
    ActionItem,
    Confirmation,
    Meeting,
    Minutes,
    MinutesConfirmation,
    MinutesItemRow,
    MinutesStatus,
    Person,
    Priority,
    Rsvp,
)
from .form import Form, attendee_lines, form_context
from .resolve import MinutesRow, ResolvedMinutes

if TYPE_CHECKING:
    from ..app import App
    from ..calendar.next_meeting import FollowUp


@dataclass
class Published:
    minutes: Minutes
    created: list[ActionItem] = field(default_factory=list)
    changed: list[ActionItem] = field(default_factory=list)
    dropped: list[ActionItem] = field(default_factory=list)
    asked: list[Person] = field(default_factory=list)  # asked to confirm this version
    carried: list[Person] = field(default_factory=list)  # earlier answer still stands
    # what a correction changed in items kept from the last version: (item, field, old, new)
    corrected: list[tuple[ActionItem, str, object, object]] = field(default_factory=list)
    next_meeting: str = ""  # what became of 下次会议时间 (calendar/next_meeting.py)
    follow_up: FollowUp | None = None  # the same, for the answer mail


@dataclass(frozen=True)
class RowView:
    """One action item as the minutes mail shows it."""

    number: int | None
    description: str
    owner: str
    collaborators: str
    done_criteria: str
    deadline: date | None
    support: str
    priority: Priority


def current_minutes(session: Session, meeting: Meeting) -> Minutes | None:
    """The version in force: the latest published one."""
    return session.scalar(
        select(Minutes)
        .where(Minutes.meeting_id == meeting.id, Minutes.status == MinutesStatus.PUBLISHED)
        .order_by(Minutes.version.desc())
        .limit(1)
    )


def confirmers(meeting: Meeting) -> list[Person]:
    """Who confirms: the attendees who did not decline, and the host; never the recorder,
    whose own text it is."""
    people: dict[int, Person] = {}
    for attendee in meeting.attendees:
        if attendee.person is not None and attendee.rsvp is not Rsvp.DECLINED:
            people.setdefault(attendee.person.id, attendee.person)
    if meeting.host is not None:
        people.setdefault(meeting.host.id, meeting.host)
    people.pop(meeting.recorder_id, None)
    return list(people.values())


def readers(meeting: Meeting) -> list[Person]:
    """Who gets the minutes: every attendee known to the ledger, the host and the recorder."""
    people: dict[int, Person] = {}
    for person in (
        *(a.person for a in meeting.attendees if a.person is not None),
        meeting.host,
        meeting.recorder,
    ):
        if person is not None:
            people.setdefault(person.id, person)
    return list(people.values())


def publish_minutes(
    session: Session,
    app: App,
    meeting: Meeting,
    resolved: ResolvedMinutes,
    *,
    raw_text: str,
    origin: Origin,
) -> Published:
    ensure_active(meeting.collaboration)
    now = app.clock.now()
    previous = current_minutes(session, meeting)
    latest = session.scalar(
        select(func.max(Minutes.version)).where(Minutes.meeting_id == meeting.id)
    )
    minutes = Minutes(
        meeting=meeting,
        version=(latest or 0) + 1,
        supersedes=previous,
        status=MinutesStatus.PUBLISHED,
        discussion=resolved.discussion,
        decisions=resolved.decisions,
        next_steps=resolved.next_steps,
        next_meeting=resolved.next_meeting,
        source_kind=origin.kind,
        source=origin.source[:998],
        created_at=now,
        published_at=now,
        raw_text=raw_text,
    )
    session.add(minutes)
    if previous is not None:
        previous.status = MinutesStatus.SUPERSEDED
    session.flush()
    record(
        session,
        origin,
        now,
        entity="minutes",
        entity_id=minutes.id,
        collaboration_id=meeting.collaboration_id,
        action="published",
        field="version",
        old=previous.version if previous else None,
        new=minutes.version,
        note=f"meeting {meeting.id}: {meeting.title}",
    )
    result = Published(minutes)
    affected = _items(session, app, meeting, minutes, previous, resolved.rows, origin, result)
    _ask(session, minutes, previous, affected, meeting, now, result)
    session.flush()
    _mail_everyone(session, app, meeting, minutes, result)
    # The calendar (icalendar) is loaded by the first minutes published, not by every
    # start of the daemon, which imports this module to read replies.
    from ..calendar.next_meeting import follow_up

    result.follow_up = follow_up(session, app, minutes, origin)  # 下次会议时间
    result.next_meeting = result.follow_up.said
    return result


def _match(
    old_rows: list[MinutesItemRow], new_rows: tuple[MinutesRow, ...]
) -> list[tuple[MinutesItemRow | None, MinutesRow]]:
    """Pair each new row with the old row it corrects: the same task first, then in order."""
    unmatched = list(old_rows)
    pairs: dict[int, MinutesItemRow | None] = {}
    for index, new in enumerate(new_rows):
        same = next((old for old in unmatched if old.description == new.description), None)
        if same is not None:
            pairs[index] = same
            unmatched.remove(same)
    for index, _new in enumerate(new_rows):
        if index not in pairs:
            pairs[index] = unmatched.pop(0) if unmatched else None
    return [(pairs[index], new) for index, new in enumerate(new_rows)]


def _items(
    session: Session,
    app: App,
    meeting: Meeting,
    minutes: Minutes,
    previous: Minutes | None,
    rows: tuple[MinutesRow, ...],
    origin: Origin,
    result: Published,
) -> set[int]:
    """Create or correct the ledger items; return the ids of the people a correction touches."""
    affected: set[int] = set()
    old_rows = list(previous.rows) if previous is not None else []
    pairs = _match(old_rows, rows)
    to_create: list[tuple[MinutesItemRow, MinutesRow]] = []
    for old, new in pairs:
        row = MinutesItemRow(
            minutes=minutes,
            position=new.position,
            description=new.description,
            owner=new.owner,
            collaborators=", ".join(p.email for p in new.collaborators),
            done_criteria=new.done_criteria,
            deadline=new.deadline,
            support=new.support,
            priority=new.priority,
        )
        session.add(row)
        item = session.get(ActionItem, old.item_id) if old is not None and old.item_id else None
        if item is None:
            to_create.append((row, new))
            continue
        row.item_id = item.id
        before = {old.owner_id} | {p.id for p in item.collaborators}
        corrected = _correct(session, app, item, new, origin)
        if corrected:
            result.changed.append(item)
            result.corrected += [(item, *change) for change in corrected]
            affected |= before | {new.owner.id} | {p.id for p in new.collaborators}
    used = {old.id for old, _ in pairs if old is not None}
    for old in old_rows:
        if old.id in used or not old.item_id:
            continue
        item = session.get(ActionItem, old.item_id)
        if item is None:
            continue
        result.dropped.append(item)
        affected |= {old.owner_id} | {p.id for p in item.collaborators}
        record_on(
            session,
            origin,
            app.clock.now(),
            item,
            action="dropped_from_minutes",
            new=f"v{minutes.version}",
            note=f"#{item.number} is not in version {minutes.version} of the minutes",
        )
    if to_create:
        specs = [
            ItemSpec(
                description=new.description,
                owner=new.owner.email,
                deadline=new.deadline,
                priority=new.priority,
                done_criteria=new.done_criteria,
                collaborators=[p.email for p in new.collaborators],
                support=new.support,
            )
            for _, new in to_create
        ]
        created = assign_items(session, app, meeting.collaboration, specs, origin)
        for (row, new), item in zip(to_create, created, strict=True):
            item.minutes_id = minutes.id
            row.item_id = item.id
            if previous is not None:  # a new item in a correction concerns its people
                affected |= {new.owner.id} | {p.id for p in new.collaborators}
        result.created = created
    return affected


def _correct(
    session: Session, app: App, item: ActionItem, new: MinutesRow, origin: Origin
) -> list[tuple[str, object, object]]:
    """Bring an existing item in line with its corrected row; what changed, (field, old,
    new) with people by name ([] if nothing)."""
    changes = update_item(
        session,
        app,
        item,
        ItemChange(
            description=new.description,
            done_criteria=new.done_criteria,
            deadline=new.deadline,
            priority=new.priority,
            support_needed=new.support,
        ),
        origin,
    )
    now = app.clock.now()
    changed = list(changes)
    if item.owner_id != new.owner.id:
        record_on(
            session,
            origin,
            now,
            item,
            action="changed",
            field="owner",
            old=item.owner.email,
            new=new.owner.email,
        )
        changed.append(("owner", item.owner.name, new.owner.name))
        item.owner = new.owner
        item.owner_department = new.owner.department
    old_ids = {p.id for p in item.collaborators}
    if old_ids != {p.id for p in new.collaborators}:
        record_on(
            session,
            origin,
            now,
            item,
            action="changed",
            field="collaborators",
            old=", ".join(p.email for p in item.collaborators),
            new=", ".join(p.email for p in new.collaborators),
        )
        changed.append(
            (
                "collaborators",
                "、".join(p.name for p in item.collaborators),
                "、".join(p.name for p in new.collaborators),
            )
        )
        item.collaborators = list(new.collaborators)
    if changed:
        item.updated_at = now
    return changed


def _ask(
    session: Session,
    minutes: Minutes,
    previous: Minutes | None,
    affected: set[int],
    meeting: Meeting,
    now,
    result: Published,
) -> None:
    before = {c.person_id: c for c in previous.confirmations} if previous is not None else {}
    for person in confirmers(meeting):
        earlier = before.get(person.id)
        if earlier is None or person.id in affected or earlier.state is Confirmation.OBJECTION:
            session.add(
                MinutesConfirmation(
                    minutes=minutes,
                    person=person,
                    state=Confirmation.PENDING,
                    note="",
                    asked_at=now,
                    settled_by="",
                )
            )
            result.asked.append(person)
            continue
        session.add(
            MinutesConfirmation(
                minutes=minutes,
                person=person,
                state=earlier.state,
                note=earlier.note,
                answered_at=earlier.answered_at,
                source=earlier.source,
                asked_at=earlier.asked_at,  # a pending answer's window keeps running
                settled_by="carried" if earlier.state is not Confirmation.PENDING else "",
            )
        )
        result.carried.append(person)


def _mail_everyone(
    session: Session, app: App, meeting: Meeting, minutes: Minutes, result: Published
) -> None:
    asked = {p.id for p in result.asked}
    carried = {c.person_id: c for c in minutes.confirmations if c.person_id not in asked}
    rows = row_views(session, minutes)
    for person in readers(meeting):
        if person.id in asked:
            ask, state = "ask", ""
        elif person.id in carried:
            ask, state = "carried", carried[person.id].state.value
        else:
            ask, state = "none", ""
        queue_mail(
            session,
            app,
            kind="minutes_published",
            dedupe_key=f"minutes:{minutes.id}:{person.id}",
            to=person,
            context={
                **form_context(meeting, Form(), person.locale),
                "minutes": minutes,
                "rows": rows,
                "ask": ask,
                "carried_state": _state_word(state, person.locale),
                "attendees": attendee_lines(meeting),
                "reminder": 0,
                "differences": differences(result, str(person.locale)),
            },
            collaboration_id=meeting.collaboration_id,
            meeting_id=meeting.id,
            minutes_id=minutes.id,
        )


def differences(result: Published, locale: str) -> list[str]:
    """What a corrected version changed against the last one, one line each, in the
    reader's words: items added, items dropped, and each field of a kept item that changed
    (`#2 负责人：张伟 → 李娜`, `#2 截止日期：2026-12-04 → 2026-12-08`)."""
    if result.minutes.version <= 1:
        return []
    zh = locale != "en"
    lines = [
        (f"新增 #{i.number} {i.description}（负责人 {i.owner.name}，截止 {i.deadline}）")
        if zh
        else f"added #{i.number} {i.description} (owner {i.owner.name}, due {i.deadline})"
        for i in result.created
    ]
    lines += [
        (f"删除 #{i.number} {i.description}（不再在纪要中，台账中保留）")
        if zh
        else f"removed #{i.number} {i.description} (no longer in the minutes; kept in the ledger)"
        for i in result.dropped
    ]
    lines += [
        f"#{item.number} {change_words(name, old, new, locale)}"
        for item, name, old, new in result.corrected
    ]
    return lines


STATE_WORDS = {
    "zh-CN": {"confirmed": "已确认", "pending": "尚未答复", "objection": "有异议"},
    "en": {"confirmed": "confirmed", "pending": "not answered yet", "objection": "objection"},
}


def _state_word(state: str, locale: str) -> str:
    return STATE_WORDS.get(locale, STATE_WORDS["zh-CN"]).get(state, state)


def row_views(session: Session, minutes: Minutes) -> list[RowView]:
    """The version's rows with their item numbers and people's names."""
    emails = {e for row in minutes.rows for e in row.collaborators.split(", ") if e}
    names = {
        p.email: p.name for p in session.scalars(select(Person).where(Person.email.in_(emails)))
    }
    numbers = {
        i.id: i.number
        for i in session.scalars(
            select(ActionItem).where(ActionItem.id.in_([r.item_id for r in minutes.rows]))
        )
    }
    return [
        RowView(
            number=numbers.get(row.item_id),
            description=row.description,
            owner=row.owner.name,
            collaborators="、".join(names.get(e, e) for e in row.collaborators.split(", ") if e),
            done_criteria=row.done_criteria,
            deadline=row.deadline,
            support=row.support,
            priority=row.priority,
        )
        for row in minutes.rows
    ]
