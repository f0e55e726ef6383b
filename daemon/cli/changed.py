"""What the changing commands share: the collaboration they change, refused when archived
or cancelled; the change printed in people's words (`v2-launch#3 状态：未开始 → 阻塞`, the
ids with --json); and the history the `show` commands print.

One place for `collab edit|…-department|cancel|close`, `items edit|update|import`, `items
show` and `meeting show`, so their refusals, exit codes and wording cannot drift apart.
Importing it costs nothing: the ledger (and its ORM) is loaded by the helper that needs it,
so `items list` still starts without it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from .output import emit_json, table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..store.models import Collaboration
    from .context import Context

Change = tuple[str, object, object]


def active_collaboration(session: Session, code: str) -> Collaboration:
    """The collaboration named by `code`; an unknown code exits 65 naming it, an archived
    or cancelled one exits 65 saying it is read-only (nothing is changed)."""
    from ..ledger.collaborations import find_collaboration  # the ORM: only when changing
    from ..ledger.items import ensure_active

    collab = find_collaboration(session, code)
    ensure_active(collab)
    return collab


def shown(value: object, empty: object = None) -> object:
    """A changed value as people read it: a person as `name <mail>`, items as #N, a day as
    2026-12-03, a word rather than an enum; None or "" as `empty` (kept as it is by default)."""
    if isinstance(value, list | tuple):
        return ", ".join(f"#{v}" if isinstance(v, int) else str(shown(v)) for v in value)
    if hasattr(value, "email"):
        return f"{value.name} <{value.email}>"
    if isinstance(value, date):
        return value.isoformat()
    if value in (None, "") and empty is not None:
        return empty
    return getattr(value, "value", value)


def print_changes(
    args: argparse.Namespace,
    subject: str,
    changes: Sequence[Change],
    *,
    locale: str,
    head: dict,
    tail: dict,
    empty: object = None,
    after: str = "",
    warnings: Sequence[str] = (),
) -> None:
    """`SUBJECT 状态：未开始 → 阻塞` per change, in the words `items show` prints its history
    with (then `after`, if any changed), or `SUBJECT: nothing changed`; with --json, the ids
    for scripts: {**head, "changes": [{field, old, new}], **tail}. Warnings go to stderr."""
    from ..ledger.wording import change_words

    listed = [(name, shown(old, empty), shown(new, empty)) for name, old, new in changes]
    if args.json:
        emit_json(
            {
                **head,
                "changes": [{"field": f, "old": o, "new": n} for f, o, n in listed],
                **tail,
            }
        )
        return
    if listed:
        for name, old, new in listed:
            print(f"{subject} {change_words(name, old, new, locale)}")
        if after:
            print(after)
    else:
        print(f"{subject}: nothing changed")
    print_warnings(warnings)


def print_warnings(warnings: Sequence[str]) -> None:
    """What a colleague would question about a change that stands (e.g. a deadline on a
    holiday), on stderr: stdout keeps the change itself."""
    for warning in warnings:
        print(f"collabd: warning: {warning}", file=sys.stderr)


def print_history(context: Context, history: Sequence[dict]) -> None:
    """An item's or a meeting's history (views.history_view rows), oldest first, in the
    configured zone and the operator's words."""
    print("\nhistory")
    table(
        ["at", "change", "by", "source"],
        [[context.local(h["at"]), context.history(h), h["actor"], h["source"]] for h in history],
    )
