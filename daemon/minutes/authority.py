"""Whose word minutes carry: the recorder writes them, but the items and the next meeting
they create are the coordinator's to give.

A meeting collabd scheduled, or one registered from the coordinator's or the initiator's
calendar, had its recorder appointed by them: its minutes may add and change action items
and schedule the next meeting, as the agreed record of the meeting. A meeting someone else
registered (a department's contact, with `[permissions] contacts_schedule_meetings`) gives
its recorder no such power: their minutes may do only what the permission table lets that
person do by mail (outside attack F4: an observer's contact registered his own meeting,
became its recorder, and his minutes added items owned by the initiator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ledger.permissions import Action, may
from ..store.models import Meeting, Person

if TYPE_CHECKING:
    from ..app import App


def arranged_by_coordination(app: App, meeting: Meeting) -> bool:
    """collabd, the coordinator or the initiator organised the meeting."""
    collab = meeting.collaboration
    if collab is None:
        return False
    organizer = (meeting.organizer_email or "").strip().lower()
    trusted = {app.settings.mail.address.lower()}
    for person in (collab.coordinator, collab.initiator):
        if person is not None:
            trusted.add(person.email.lower())
    return organizer in trusted


def may_create_from_minutes(app: App, meeting: Meeting, person: Person | None) -> bool:
    """Whether `person`'s minutes of `meeting` may add or change items and schedule a next
    meeting."""
    if arranged_by_coordination(app, meeting):
        return True
    return may(Action.ADD_ITEM, person, meeting.collaboration, app.settings.permissions)
