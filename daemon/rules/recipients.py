"""Who a role is, for one item or collaboration: the escalation chain comes from the people
list (a person's department head and leader) and the collaboration (initiator, coordinator,
the departments' contact persons)."""

from __future__ import annotations

from ..store.models import ActionItem, Collaboration, Person
from .reasons import Reason, reason


def resolve(
    roles: list[str], collab: Collaboration, item: ActionItem | None
) -> tuple[list[tuple[Person, str]], list[Reason]]:
    """[(person, role)] without duplicates, and the reasons some roles reach nobody."""
    found: dict[int, tuple[Person, str]] = {}
    missing: list[Reason] = []
    for role in roles:
        people = _people(role, collab, item)
        if not people:
            missing.append(_missing(role, collab, item))
        for person in people:
            found.setdefault(person.id, (person, role))
    return list(found.values()), missing


def _people(role: str, collab: Collaboration, item: ActionItem | None) -> list[Person]:
    owner = item.owner if item is not None else None
    if role == "owner":
        return [owner] if owner else []
    if role == "collaborators":
        return list(item.collaborators) if item is not None else []
    if role == "owner_head":
        return [owner.head] if owner is not None and owner.head is not None else []
    if role == "initiator":
        return [collab.initiator]
    if role == "initiator_leader":
        return [collab.initiator.leader] if collab.initiator.leader is not None else []
    if role == "coordinator":
        return [collab.coordinator]
    if role == "department_contacts":
        return [p.contact for p in collab.participants]
    if role == "support_department":
        wanted = item.support_needed if item is not None else ""
        return [p.contact for p in collab.participants if p.department.name in wanted]
    raise ValueError(f"unknown role {role!r}")


def _missing(role: str, collab: Collaboration, item: ActionItem | None) -> Reason:
    if role == "owner_head" and item is not None:
        return reason("no_recipient", role=role, name=item.owner.name)
    if role == "initiator_leader":
        return reason("no_recipient", role=role, name=collab.initiator.name)
    return reason("no_recipient", role=role)
