"""Who may change what: one row per action, kept as data (docs/security.md shows the same
table). The inbound layer (mail commands) and the CLI both ask `may()`; a new command adds
a row here and, if it needs a new kind of person, a role below.

A role is a name for a set of people relative to what is changed (an item, minutes …);
a row lists the roles that may do an action, and which `[permissions]` switch (config)
a role depends on. Everyone not in a listed role may not — observers (监督) included.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..store.enums import ParticipantRole

if TYPE_CHECKING:
    from ..config.schema import PermissionsSection
    from ..store.models import ActionItem, Collaboration, Meeting, Minutes, Person


class Action(enum.StrEnum):
    UPDATE_ITEM = "update_item"  # status, progress, notes of an item (`#3 完成`)
    ACCEPT_ITEM = "accept_item"  # the acceptance verdict (`验收 #3 通过`)
    APPROVE_DELAY = "approve_delay"  # an owner's new deadline (`同意` / `不同意`)
    PUBLISH_MINUTES = "publish_minutes"  # the filled-in minutes form
    CONFIRM_MINUTES = "confirm_minutes"  # `确认` / `有异议`
    SCHEDULE_MEETING = "schedule_meeting"  # an Outlook REQUEST / CANCEL in a collaboration
    # The coordinator runs the collaboration and the initiator owns its outcome; an owner
    # asks (`#3 延期至…`, `#3 需支持`) rather than decides these.
    REASSIGN_ITEM = "reassign_item"  # `#3 转交 王强`, `#3 负责人：王强`
    CHANGE_DEADLINE = "change_deadline"  # `#3 截止 12月20日`
    CANCEL_ITEM = "cancel_item"  # `#3 取消：原因`
    SET_DEPENDENCY = "set_dependency"  # `#5 依赖 #2`
    ADD_ITEM = "add_item"  # `新增：任务 … 负责人 … 截止 …`


class Role(enum.StrEnum):
    OWNER = "owner"
    COLLABORATOR = "collaborator"
    COORDINATOR = "coordinator"
    INITIATOR = "initiator"
    OWNER_DEPARTMENT_HEAD = "owner_department_head"
    INITIATOR_LEADER = "initiator_leader"
    RECEIVER = "receiver"
    RECORDER = "recorder"
    HOST = "host"
    ATTENDEE = "attendee"
    CONTACT = "contact"  # a participating department's contact person


@dataclass(frozen=True)
class Permission:
    action: Action
    roles: tuple[Role, ...]
    # role -> the [permissions] switch that must be true for the role to count
    switches: dict[Role, str] = field(default_factory=dict)


PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        Action.UPDATE_ITEM,
        (
            Role.OWNER,
            Role.COLLABORATOR,
            Role.COORDINATOR,
            Role.INITIATOR,
            Role.OWNER_DEPARTMENT_HEAD,
            Role.INITIATOR_LEADER,
        ),
        {
            Role.OWNER_DEPARTMENT_HEAD: "department_head",
            Role.INITIATOR_LEADER: "initiator_leader",
        },
    ),
    Permission(Action.ACCEPT_ITEM, (Role.RECEIVER,)),
    Permission(
        Action.APPROVE_DELAY,
        (Role.INITIATOR, Role.COORDINATOR),
        {Role.COORDINATOR: "coordinator_approves_delays"},
    ),
    # The host appointed the recorder and may stand in for them.
    Permission(Action.PUBLISH_MINUTES, (Role.RECORDER, Role.HOST)),
    Permission(Action.CONFIRM_MINUTES, (Role.ATTENDEE,)),
    Permission(
        Action.SCHEDULE_MEETING,
        (Role.COORDINATOR, Role.INITIATOR, Role.CONTACT),
        {Role.CONTACT: "contacts_schedule_meetings"},
    ),
    Permission(Action.REASSIGN_ITEM, (Role.COORDINATOR, Role.INITIATOR)),
    Permission(Action.CHANGE_DEADLINE, (Role.COORDINATOR, Role.INITIATOR)),
    Permission(Action.CANCEL_ITEM, (Role.COORDINATOR, Role.INITIATOR)),
    Permission(Action.SET_DEPENDENCY, (Role.COORDINATOR, Role.INITIATOR)),
    Permission(Action.ADD_ITEM, (Role.COORDINATOR, Role.INITIATOR)),
)
_BY_ACTION = {permission.action: permission for permission in PERMISSIONS}


def _item_owner(item: ActionItem) -> Iterable[int]:
    return [item.owner_id]


def _item_collaborators(item: ActionItem) -> Iterable[int]:
    return [person.id for person in item.collaborators]


def _coordinator(subject) -> Iterable[int]:
    return [_collaboration(subject).coordinator_id]


def _initiator(subject) -> Iterable[int]:
    return [_collaboration(subject).initiator_id]


def _owner_department_head(item: ActionItem) -> Iterable[int]:
    head = item.owner.head_id
    return [head] if head else []


def _initiator_leader(subject) -> Iterable[int]:
    leader = _collaboration(subject).initiator.leader_id
    return [leader] if leader else []


def _receiver(item: ActionItem) -> Iterable[int]:
    return [item.receiver_id] if item.receiver_id else []


def _recorder(subject: Minutes | Meeting) -> Iterable[int]:
    return [_meeting(subject).recorder_id]


def _host(subject: Minutes | Meeting) -> Iterable[int]:
    return [_meeting(subject).host_id]


def _attendees(subject: Minutes | Meeting) -> Iterable[int]:
    return [a.person_id for a in _meeting(subject).attendees if a.person_id]


def _meeting(subject: Minutes | Meeting) -> Meeting:
    """Minutes are about their meeting; a meeting is about itself."""
    return getattr(subject, "meeting", None) or subject


def _contacts(collaboration: Collaboration) -> Iterable[int]:
    """The contacts of the departments that take part: an observer (监督) department watches
    and never schedules (outside attack F4: its contact registered a meeting of his own,
    became its recorder and added items owned by anyone through its minutes)."""
    return [
        participant.contact_id
        for participant in collaboration.participants
        if participant.role is not ParticipantRole.OBSERVER
    ]


def _collaboration(subject):
    """The collaboration an item, minutes or meeting belongs to (or the subject itself)."""
    meeting = getattr(subject, "meeting", None)
    if meeting is not None:
        return meeting.collaboration
    return getattr(subject, "collaboration", None) or subject


# role -> the people who hold it for a subject (an item, or minutes)
MEMBERS: dict[Role, Callable[[object], Iterable[int | None]]] = {
    Role.OWNER: _item_owner,
    Role.COLLABORATOR: _item_collaborators,
    Role.COORDINATOR: _coordinator,
    Role.INITIATOR: _initiator,
    Role.OWNER_DEPARTMENT_HEAD: _owner_department_head,
    Role.INITIATOR_LEADER: _initiator_leader,
    Role.RECEIVER: _receiver,
    Role.RECORDER: _recorder,
    Role.HOST: _host,
    Role.ATTENDEE: _attendees,
    Role.CONTACT: _contacts,
}


def roles_for(action: Action, switches: PermissionsSection | None) -> tuple[Role, ...]:
    """The roles that may do `action` under this configuration."""
    permission = _BY_ACTION[action]
    if switches is None:
        from ..config.schema import PermissionsSection

        switches = PermissionsSection()
    return tuple(
        role
        for role in permission.roles
        if role not in permission.switches or getattr(switches, permission.switches[role])
    )


def holders(action: Action, subject, switches: PermissionsSection | None) -> list[int]:
    """The ids of everyone who may do `action` on `subject`, in the table's order."""
    found: list[int] = []
    for role in roles_for(action, switches):
        found += [pid for pid in MEMBERS[role](subject) if pid and pid not in found]
    return found


def may(
    action: Action, person: Person | None, subject, switches: PermissionsSection | None
) -> bool:
    if person is None:
        return False
    return any(person.id in MEMBERS[role](subject) for role in roles_for(action, switches))
