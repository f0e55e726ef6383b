"""Dependencies between action items (seed 001's WBS: 市场部需待产品部完成培训材料后才能
启动推广): setting them, and refusing a cycle, which would leave items waiting forever."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import DataError
from ..store.models import ActionItem, item_dependencies


class DependencyCycle(DataError):
    pass


def set_dependencies(session: Session, item: ActionItem, numbers: tuple[int, ...]) -> None:
    """Replace what the item waits for; a number that is not another item of the same
    collaboration, or a dependency that closes a cycle, is refused."""
    wanted = list(dict.fromkeys(numbers))
    found = {
        i.number: i
        for i in session.scalars(
            select(ActionItem).where(
                ActionItem.collaboration_id == item.collaboration_id,
                ActionItem.number.in_(wanted),
            )
        )
    }
    for number in wanted:
        if number == item.number or number not in found:
            raise DataError(
                f"#{item.number} cannot depend on #{number}: not another item of "
                f"{item.collaboration.code}"
            )
    edges = dependency_edges(session, item.collaboration_id)
    edges[item.id] = {found[n].id for n in wanted}
    cycle = find_cycle(edges, item.id)
    if cycle:
        numbers_by_id = dict(
            session.execute(
                select(ActionItem.id, ActionItem.number).where(ActionItem.id.in_(cycle))
            ).all()
        )
        path = " → ".join(f"#{numbers_by_id[i]}" for i in [*cycle, cycle[0]])
        raise DependencyCycle(f"#{item.number}: that would make a cycle ({path}); not changed")
    item.depends_on = [found[n] for n in wanted]


def dependency_edges(session: Session, collaboration_id: int) -> dict[int, set[int]]:
    """item id -> ids of the items it waits for, for one collaboration (one query)."""
    table = item_dependencies
    rows = session.execute(
        select(table.c.item_id, table.c.depends_on_id)
        .join(ActionItem, ActionItem.id == table.c.item_id)
        .where(ActionItem.collaboration_id == collaboration_id)
    )
    edges: dict[int, set[int]] = defaultdict(set)
    for item_id, depends_on_id in rows:
        edges[item_id].add(depends_on_id)
    return edges


def find_cycle(edges: dict[int, set[int]], start: int) -> list[int] | None:
    """A cycle through `start` following the edges, as the ids along it; None if there is
    none. Iterative depth-first search: linear in the edges, no recursion limit."""
    parent: dict[int, int] = {}
    stack = [start]
    seen = {start}
    while stack:
        node = stack.pop()
        for nxt in edges.get(node, ()):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return list(reversed(path))
            if nxt not in seen:
                seen.add(nxt)
                parent[nxt] = node
                stack.append(nxt)
    return None


def refuse_cycles(session: Session, items: list[ActionItem]) -> None:
    """After new items were given their dependencies (a minutes table, an import): none of
    them may wait on itself through others."""
    if not any(item.depends_on for item in items):
        return
    session.flush()
    edges = dependency_edges(session, items[0].collaboration_id)
    for item in items:
        cycle = find_cycle(edges, item.id)
        if cycle:
            numbers = {i.id: i.number for i in items}
            path = " → ".join(f"#{numbers.get(i, '?')}" for i in [*cycle, cycle[0]])
            raise DependencyCycle(f"the dependencies make a cycle ({path})")
