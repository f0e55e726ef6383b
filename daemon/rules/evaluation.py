"""One evaluation of the rules (a Pass) and what it decided (Decisions).

Below the engine and the passes it runs (digest, minutes), so they share these types
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..mail.outbox import queue_mail
from .config import Rules, active_rules
from .quiet import release_time

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..app import App
    from ..store.models import Person


@dataclass
class Decision:
    """One thing the engine decided, with the reason; what `rules test --json` prints."""

    at: datetime
    rule: str
    level: int
    status: str  # queued, deferred, suppressed, duplicate, stale, skipped
    subject: str  # v2-launch#3, meeting 4, digest v2-launch
    to: list[str] = field(default_factory=list)
    kind: str = ""
    why: str = ""
    not_before: datetime | None = None
    item_id: int | None = None

    def line(self, zone) -> str:
        when = self.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        level = f" L{self.level}" if self.level else ""
        to = f" → {', '.join(self.to)}" if self.to else ""
        text = f"{when} {self.status:<10} {self.rule}{level} {self.subject}{to}: {self.why}"
        if self.not_before is not None:
            text += f" [held until {self.not_before.astimezone(zone).strftime('%Y-%m-%d %H:%M')}]"
        return text

    def as_dict(self) -> dict:
        return {
            "at": self.at,
            "rule": self.rule,
            "level": self.level,
            "status": self.status,
            "subject": self.subject,
            "to": self.to,
            "kind": self.kind,
            "why": self.why,
            "not_before": self.not_before,
        }


class Pass:
    """One evaluation: the app, the session, the instant, and what was decided."""

    def __init__(self, session: Session, app: App, now: datetime, item_ids=None) -> None:
        self.session, self.app, self.now = session, app, now
        self.rules: Rules = active_rules(app)
        self.item_ids = set(item_ids) if item_ids else None
        self.decisions: list[Decision] = []
        self.in_flight: dict[tuple[str, int], int] = {}  # escalations, for inhibit rules
        self.release, self.quiet_why = release_time(
            self.rules.spec.quiet_hours, self.rules.calendar, now
        )

    # -- mail --

    def send(
        self,
        *,
        rule: str,
        level: int,
        kind: str,
        key: str,
        to: Person,
        context: dict,
        subject: str,
        why: str,
        collaboration_id: int | None = None,
        item_id: int | None = None,
        meeting_id: int | None = None,
        minutes_id: int | None = None,
        attachments=(),
    ) -> None:
        deferred = self.release > self.now
        queued = queue_mail(
            self.session,
            self.app,
            now=self.now,
            kind=kind,
            dedupe_key=key,
            to=to,
            context=context,
            collaboration_id=collaboration_id,
            item_id=item_id,
            meeting_id=meeting_id,
            minutes_id=minutes_id,
            rule_id=rule,
            rule_level=level,
            not_before=self.release,
            attachments=attachments,
        )
        status = "duplicate" if not queued else "deferred" if deferred else "queued"
        if status == "deferred":
            why = f"{why}; deferred: {self.quiet_why}"
        elif status == "duplicate":
            why = f"{why}; already queued ({key})"
        self.decisions.append(
            Decision(
                self.now,
                rule,
                level,
                status,
                subject,
                [f"{to.name} <{to.email}>"],
                kind,
                why,
                self.release if deferred else None,
                item_id,
            )
        )

    def note(self, rule: str, level: int, status: str, subject: str, why: str, item=None):
        self.decisions.append(
            Decision(self.now, rule, level, status, subject, why=why, item_id=item)
        )
