"""Creating and finding collaborations (协作).

Records only: the mail that announces a new collaboration is daemon.announce's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import DataError, NotFound
from ..store.models import Collaboration, CollabStatus, Participant, ParticipantRole
from .history import Origin, record_on
from .items import add_items
from .people import find_department, find_person
from .specs import CollaborationSpec

if TYPE_CHECKING:
    from ..app import App


def find_collaboration(session: Session, code: str) -> Collaboration:
    collaboration = session.scalar(select(Collaboration).where(Collaboration.code == code))
    if collaboration is None:
        codes = list(session.scalars(select(Collaboration.code).order_by(Collaboration.id)))
        known = ", ".join(codes[-10:]) or "none yet"
        raise NotFound(f"no collaboration {code!r} (known: {known})")
    return collaboration


def create_collaboration(
    session: Session, app: App, spec: CollaborationSpec, origin: Origin
) -> Collaboration:
    now = app.clock.now()
    initiator = find_person(session, spec.initiator)
    coordinator = find_person(session, spec.coordinator) if spec.coordinator else initiator
    department = (
        find_department(session, spec.department) if spec.department else initiator.department
    )
    if spec.code and session.scalar(
        select(Collaboration.id).where(Collaboration.code == spec.code)
    ):
        raise DataError(f"a collaboration with code {spec.code!r} exists already")
    collaboration = Collaboration(
        code=spec.code or _next_code(session),
        theme=spec.theme,
        goal=spec.goal,
        start_date=spec.start,
        end_date=spec.end,
        initiating_department=department,
        initiator=initiator,
        coordinator=coordinator,
        status=CollabStatus.ACTIVE,
        background=spec.background,
        item_seq=0,
        created_at=now,
    )
    session.add(collaboration)
    for participant in spec.participants:
        collaboration.participants.append(
            Participant(
                department=find_department(session, participant.department),
                contact=find_person(session, participant.contact),
                role=participant.role,
                duties=participant.duties,
            )
        )
    listed = {p.department.id for p in collaboration.participants}
    if department is not None and department.id not in listed:
        # The initiating department leads unless the file says otherwise (seed 000: 发起部门).
        collaboration.participants.insert(
            0, Participant(department=department, contact=initiator, role=ParticipantRole.LEAD)
        )
    if len({p.department.id for p in collaboration.participants}) != len(
        collaboration.participants
    ):
        raise DataError("a department is listed twice among the participants")
    session.flush()
    record_on(
        session,
        origin,
        now,
        collaboration,
        action="created",
        new=collaboration.theme,
    )
    for participant in collaboration.participants:
        record_on(
            session,
            origin,
            now,
            collaboration,
            action="participant_added",
            new=f"{participant.department.name} ({participant.role.value}): "
            f"{participant.contact.email}",
        )
    if spec.items:
        add_items(session, app, collaboration, spec.items, origin)
    return collaboration


def _next_code(session: Session) -> str:
    count = session.scalar(select(func.count(Collaboration.id))) or 0
    number = count + 1
    while session.scalar(select(Collaboration.id).where(Collaboration.code == f"c{number}")):
        number += 1
    return f"c{number}"
