"""The follow-up ledger (跟进台账) as `collabd items list` shows it, read through plain SQL.

Why not the ORM: listing is the command people run most, many times a day, and building
the 33 mapped models costs more than the whole listing (about a second of a loaded
2-core machine, bench/lean.py). These few statements give the same rows as
`query_items` + `cli/views.item_view` (tests/test_cli_items_listing.py holds them equal),
in the same order, through store/reading.py (the standard library's sqlite3 on a SQLite
ledger).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from ..store.enums import CLOSED_STATUSES, ItemStatus
from ..store.reading import Reader, day, instant

OPEN_STATUSES = tuple(s.value for s in ItemStatus if s not in CLOSED_STATUSES)
_CHUNK = 500  # bounded IN lists


@dataclass(frozen=True)
class Listing:
    """Which items: ids already resolved (a collaboration's, a person's), statuses as
    stored, and `overdue_on` for open items whose deadline is before that day."""

    collab_id: int | None = None
    owner_id: int | None = None
    statuses: tuple[str, ...] = ()
    overdue_on: date | None = None


def collaboration_id(sql: Reader, code: str) -> int | None:
    found = sql.rows("SELECT id FROM collaborations WHERE code = :code", {"code": code})
    return found[0][0] if found else None


def person_id(sql: Reader, ref: str) -> int | None:
    """A person by mail address or by a name only one person has; None when it takes
    more than that (nobody, several, a department): the ORM's `find_person` then decides
    and says why."""
    column = "email" if "@" in ref else "lower(name)"  # as find_person compares them
    found = sql.rows(f"SELECT id FROM people WHERE {column} = :ref", {"ref": ref.strip().lower()})
    return found[0][0] if len(found) == 1 else None


def list_items(sql: Reader, wanted: Listing) -> list[dict]:
    """The items `wanted` names, ordered by collaboration code and number, each as
    `item_view` makes it (with its latest acceptance verdict)."""
    where, params = ["1 = 1"], {}
    if wanted.collab_id is not None:
        where.append("i.collaboration_id = :collab_id")
        params["collab_id"] = wanted.collab_id
    if wanted.owner_id is not None:
        where.append("i.owner_id = :owner_id")
        params["owner_id"] = wanted.owner_id
    if wanted.statuses:
        where.append("i.status IN :statuses")
        params["statuses"] = list(wanted.statuses)
    if wanted.overdue_on is not None:
        # only where someone can still act: an archived collaboration is read-only, and its
        # open items would sit in "overdue" for good
        where.append("i.status IN :open_statuses AND i.deadline < :today AND c.status = :active")
        params["open_statuses"] = list(OPEN_STATUSES)
        params["active"] = "active"
        params["today"] = wanted.overdue_on
    rows = sql.rows(
        "SELECT i.id, c.code, i.number, i.description, o.email, o.name, d.name,"
        " i.done_criteria, i.deadline, i.priority, i.status, i.progress,"
        " i.support_needed, r.email, i.note, i.updated_at"
        " FROM action_items i"
        " JOIN collaborations c ON c.id = i.collaboration_id"
        " JOIN people o ON o.id = i.owner_id"
        " LEFT JOIN departments d ON d.id = i.owner_department_id"
        " LEFT JOIN people r ON r.id = i.receiver_id"
        f" WHERE {' AND '.join(where)}"
        " ORDER BY c.code, i.number",
        params,
    )
    ids = [row[0] for row in rows]
    collaborators = _grouped(
        sql,
        "SELECT ic.item_id, p.email FROM item_collaborators ic"
        " JOIN people p ON p.id = ic.person_id"
        " WHERE ic.item_id IN :ids ORDER BY ic.item_id, p.id",
        ids,
    )
    depends_on = _grouped(
        sql,
        "SELECT dep.item_id, a.number FROM item_dependencies dep"
        " JOIN action_items a ON a.id = dep.depends_on_id"
        " WHERE dep.item_id IN :ids ORDER BY dep.item_id, a.number",
        ids,
    )
    # The latest round's verdict: rows come oldest round first, the last one stays.
    verdicts = {
        item_id: values[-1]
        for item_id, values in _grouped(
            sql,
            "SELECT item_id, verdict FROM acceptance_requests"
            " WHERE item_id IN :ids ORDER BY item_id, round",
            ids,
        ).items()
    }
    return [_view(row, collaborators, depends_on, verdicts) for row in rows]


def _view(row: Sequence, collaborators: dict, depends_on: dict, verdicts: dict) -> dict:
    (item_id, code, number, description, owner, owner_name, department, criteria) = row[:8]
    (deadline, priority, status, progress, support, receiver, note, updated_at) = row[8:]
    return {
        "ref": f"{code}#{number}",
        "collab": code,
        "number": number,
        "description": description,
        "owner": owner,
        "owner_name": owner_name,
        "department": department,
        "collaborators": collaborators.get(item_id, []),
        "done_criteria": criteria,
        "deadline": day(deadline),
        "priority": priority,
        "status": status,
        "progress": progress,
        "support_needed": support,
        "depends_on": depends_on.get(item_id, []),
        "receiver": receiver,
        "note": note,
        "acceptance": verdicts.get(item_id),
        "updated_at": instant(updated_at),
    }


def _grouped(sql: Reader, query: str, ids: Iterable[int]) -> dict[int, list]:
    """item id -> the second column of `query`'s rows for it, in the query's order."""
    ids = list(ids)
    found: dict[int, list] = {}
    for start in range(0, len(ids), _CHUNK):
        for item_id, value in sql.rows(query, {"ids": ids[start : start + _CHUNK]}):
            found.setdefault(item_id, []).append(value)
    return found
