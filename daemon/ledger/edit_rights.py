"""Who may change an item after the start by mail: one row per command, kept as data.

The coordinator runs the collaboration and the initiator owns its outcome; an owner asks
(`#3 延期至…`, `#3 需支持`) rather than decides. This table is meant to join the
permission table of daemon/ledger/permissions.py (same shape: action -> roles) once that
lands; until then the inbound layer asks `may_edit()` here.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store.models import Collaboration, Person


class EditAction(enum.StrEnum):
    REASSIGN_ITEM = "reassign_item"  # `#3 转交 王强`, `#3 负责人：王强`
    CHANGE_DEADLINE = "change_deadline"  # `#3 截止 12月20日`
    CANCEL_ITEM = "cancel_item"  # `#3 取消：原因`
    SET_DEPENDENCY = "set_dependency"  # `#5 依赖 #2`
    ADD_ITEM = "add_item"  # `新增：任务 … 负责人 … 截止 …`


class EditRole(enum.StrEnum):
    COORDINATOR = "coordinator"
    INITIATOR = "initiator"


EDIT_PERMISSIONS: dict[EditAction, tuple[EditRole, ...]] = {
    EditAction.REASSIGN_ITEM: (EditRole.COORDINATOR, EditRole.INITIATOR),
    EditAction.CHANGE_DEADLINE: (EditRole.COORDINATOR, EditRole.INITIATOR),
    EditAction.CANCEL_ITEM: (EditRole.COORDINATOR, EditRole.INITIATOR),
    EditAction.SET_DEPENDENCY: (EditRole.COORDINATOR, EditRole.INITIATOR),
    EditAction.ADD_ITEM: (EditRole.COORDINATOR, EditRole.INITIATOR),
}


def _holders(role: EditRole, collaboration: Collaboration) -> Person:
    return collaboration.coordinator if role is EditRole.COORDINATOR else collaboration.initiator


def edit_holders(action: EditAction, collaboration: Collaboration) -> list[Person]:
    """Everyone who may do `action` in the collaboration, in the table's order."""
    found: list[Person] = []
    for role in EDIT_PERMISSIONS[action]:
        person = _holders(role, collaboration)
        if all(p.id != person.id for p in found):
            found.append(person)
    return found


def may_edit(action: EditAction, person: Person | None, collaboration: Collaboration) -> bool:
    return person is not None and any(
        p.id == person.id for p in edit_holders(action, collaboration)
    )
