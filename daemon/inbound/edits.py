"""The coordinator's commands in a reply (转交, 截止, 取消, 依赖, 新增), applied to the ledger.

Read by daemon/mail/reply/edits.py; who may give each one is in ledger/permissions.py.
Each command becomes one line of the answer, like a status update does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from ..announce import assign_items
from ..announce.changes import item_cancelled, item_changed
from ..errors import CollabdError
from ..ledger.dependencies import DependencyCycle
from ..ledger.edits import ItemEdit, cancel_item, edit_item
from ..ledger.items import ArchivedCollaboration, CancelledItem
from ..ledger.people import find_person
from ..ledger.permissions import Action, holders, may
from ..ledger.specs import ItemSpec
from ..mail.answer import CommandResult
from ..mail.reply.dates import match_date
from ..mail.reply.edits import EditCommand
from ..rules.deadline_check import item_deadline_warnings
from ..store.models import ActionItem, Person

if TYPE_CHECKING:
    from ..mail.envelope import ReplyContext

ACTIONS = {
    "reassign": Action.REASSIGN_ITEM,
    "deadline": Action.CHANGE_DEADLINE,
    "cancel": Action.CANCEL_ITEM,
    "depends": Action.SET_DEPENDENCY,
    "add": Action.ADD_ITEM,
}
# Outcomes that changed the ledger (the inbound log marks the mail applied).
EDITED = ("reassigned", "deadline_changed", "item_cancelled", "depends_set", "item_added")


def apply_edit_commands(ctx: ReplyContext, find_item) -> list[CommandResult]:
    """One outcome per command; `find_item(number)` is the reply's own item lookup."""
    outcomes: list[CommandResult] = []
    if ctx.person is None or ctx.collab is None:
        return [CommandResult("not_permitted", item=c.item) for c in ctx.parsed.edits]
    for command in ctx.parsed.edits:
        action = ACTIONS[command.action]
        switches = ctx.app.settings.permissions
        if ctx.tokenless:
            # Domain authentication (DMARC) does not tell colleagues apart: only the reply
            # token of the person's own collabd mail speaks for them here (outside F10).
            outcomes.append(CommandResult("needs_token", item=command.item))
            continue
        if not may(action, ctx.person, ctx.collab, switches):
            names = "、".join(
                ctx.session.get(Person, pid).name for pid in holders(action, ctx.collab, switches)
            )
            outcomes.append(CommandResult("coordinator_only", item=command.item, word=names))
            continue
        if command.action == "add":
            outcomes.append(_add(ctx, command))
            outcomes += _warnings(ctx, outcomes[-1])
            continue
        item = find_item(command.item)
        if item is None:
            outcomes.append(CommandResult("no_such_item", item=command.item))
            continue
        try:
            outcomes.append(_apply(ctx, command, item))
            outcomes += _warnings(ctx, outcomes[-1])
        except ArchivedCollaboration:
            outcomes.append(CommandResult("archived", item=command.item, ref=item))
        except CancelledItem:
            outcomes.append(CommandResult("item_is_cancelled", item=command.item, ref=item))
    return outcomes


def _warnings(ctx: ReplyContext, done: CommandResult) -> list[CommandResult]:
    """A deadline set by mail (截止, 新增) is checked like one set on the command line: a day
    off or a date outside the collaboration is said, with the working day to use instead
    and the line that sets it."""
    item = done.ref
    if done.kind not in ("deadline_changed", "item_added") or item is None or not item.deadline:
        return []
    locale = str(ctx.person.locale)
    return [
        CommandResult(
            "deadline_warning",
            item=item.number,
            word=warning.say(locale),
            due=warning.offer if warning.offer != item.deadline else None,
            reason="edit",  # the line offered sets the deadline (截止), it asks no delay
        )
        for warning in item_deadline_warnings(ctx.session, ctx.app, item)
    ]


def _apply(ctx: ReplyContext, command: EditCommand, item: ActionItem) -> CommandResult:
    session, app, origin = ctx.session, ctx.app, ctx.origin
    number = command.item
    if command.action == "cancel":
        if not command.reason:
            return CommandResult("need_reason", item=number, ref=item)
        try:
            done = cancel_item(session, app, item, command.reason, origin)
        except CancelledItem:
            done = False
        except CollabdError:  # a done item: its result was delivered
            return CommandResult("already_done", item=number, ref=item)
        if not done:
            return CommandResult("item_is_cancelled", item=number, ref=item)
        item_cancelled(session, app, item, command.reason, origin)
        return CommandResult("item_cancelled", item=number, word=command.reason, ref=item)
    if command.action == "deadline" and command.due is None:
        return CommandResult("bad_date", item=number, word=command.bad_date or "")
    if command.action == "depends" and number in command.depends_on:
        # not "本协作没有这个行动项": the item exists, it just cannot wait for itself
        return CommandResult("depends_on_itself", item=number, ref=item)
    edit, kind, word = _edit_for(ctx, command, item)
    if edit is None:
        return CommandResult(kind, item=number, word=word)
    try:
        changes = edit_item(session, app, item, edit, origin)
    except DependencyCycle as cycle:
        return CommandResult("dependency_cycle", item=number, word=_path(str(cycle)), ref=item)
    except CollabdError:
        return CommandResult("no_such_item", item=_missing(command, ctx), ref=None)
    item_changed(session, app, item, changes, origin, edit.reason)
    if not changes:
        return CommandResult("edit_unchanged", item=number, ref=item)
    if command.action == "depends":
        word = "、".join(f"#{d.number}" for d in item.depends_on)
    return CommandResult(kind, item=number, word=word, due=command.due, ref=item)


def _edit_for(
    ctx: ReplyContext, command: EditCommand, item: ActionItem
) -> tuple[ItemEdit | None, str, str]:
    """The ItemEdit a command asks for, or None with the outcome that says why not."""
    if command.action == "reassign":
        person = _person(ctx, command.person or "")
        if person is None:
            return None, "unknown_person", command.person or ""
        return ItemEdit(owner=person, reason=command.reason or ""), "reassigned", person.name
    if command.action == "deadline":
        return ItemEdit(deadline=command.due, reason=command.reason or ""), "deadline_changed", ""
    return ItemEdit(depends_on=command.depends_on), "depends_set", ""


def _person(ctx: ReplyContext, ref: str) -> Person | None:
    try:
        return find_person(ctx.session, ref, ctx.collab)
    except CollabdError:
        return None


def _path(message: str) -> str:
    """`… a cycle (#1 → #4 → #1) …` → `#1 → #4 → #1`: the answer words it itself."""
    start, end = message.find("("), message.find(")")
    return message[start + 1 : end] if 0 <= start < end else ""


def _missing(command: EditCommand, ctx: ReplyContext) -> int | None:
    """The number in `#5 依赖 #9` that names no item of the collaboration."""
    numbers = {n for n in command.depends_on}
    known = {
        i.number for i in ctx.session.query(ActionItem).filter_by(collaboration_id=ctx.collab.id)
    }
    missing = sorted(numbers - known) or sorted(numbers & {command.item})
    return missing[0] if missing else command.item


def _add(ctx: ReplyContext, command: EditCommand) -> CommandResult:
    """`新增：任务 … 负责人 … 截止 …`: a new item, its owner told like any assignment."""
    fields = command.fields
    for needed in ("description", "owner"):
        if not fields.get(needed):
            return CommandResult("add_missing", word=needed)
    if _person(ctx, fields["owner"]) is None:
        return CommandResult("unknown_person", word=fields["owner"])
    deadline = None
    if fields.get("deadline"):
        today = ctx.app.clock.now().astimezone(ctx.app.settings.tz).date()
        found = match_date(fields["deadline"], 0, today)
        if found is None:
            return CommandResult("bad_date", word=fields["deadline"])
        deadline = found[0]
    collaborators = [
        name.strip() for name in _split(fields.get("collaborators", "")) if name.strip()
    ]
    for name in collaborators:
        if _person(ctx, name) is None:
            return CommandResult("unknown_person", word=name)
    data = {
        "description": fields["description"],
        "owner": fields["owner"],
        "deadline": deadline,
        "done_criteria": fields.get("done_criteria", ""),
        "collaborators": collaborators,
        "support": fields.get("support", ""),
    }
    if fields.get("priority"):
        data["priority"] = fields["priority"]
    try:
        spec = ItemSpec.model_validate(data)
    except ValidationError:
        return CommandResult("bad_priority", word=fields.get("priority", ""))
    try:
        (item,) = assign_items(ctx.session, ctx.app, ctx.collab, [spec], ctx.origin)
    except ArchivedCollaboration:
        return CommandResult("archived")
    return CommandResult("item_added", item=item.number, word=item.owner.name, ref=item)


def _split(text: str) -> list[str]:
    for sep in ("，", ",", "、", ";", "；"):
        text = text.replace(sep, "\n")
    return text.split("\n")
