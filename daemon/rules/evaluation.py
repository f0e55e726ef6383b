"""One evaluation of the rules (a Pass) and what it decided (Decisions).

Below the engine and the passes it runs (digest, minutes), so they share these types
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..mail.outbox import queue_mail
from ..store.models import Locale
from .config import Rules, active_rules
from .explain import explain
from .quiet import release_time
from .reasons import Reason, reason

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
    reasons: list[Reason] = field(default_factory=list)
    not_before: datetime | None = None
    item_id: int | None = None

    def why(self, locale: str = Locale.ZH_CN) -> str:
        """The reasons as the operator reads them (rules/explain.py)."""
        return explain(self.reasons, locale)

    def line(self, zone, locale: str = Locale.ZH_CN) -> str:
        when = self.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        level = f" L{self.level}" if self.level else ""
        to = f" → {', '.join(self.to)}" if self.to else ""
        return f"{when} {self.status:<10} {self.rule}{level} {self.subject}{to}: {self.why(locale)}"

    def as_dict(self, locale: str = Locale.ZH_CN) -> dict:
        return {
            "at": self.at,
            "rule": self.rule,
            "level": self.level,
            "status": self.status,
            "subject": self.subject,
            "to": self.to,
            "kind": self.kind,
            "why": self.why(locale),
            "reasons": [{"code": r.code, **r.facts} for r in self.reasons],
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
        reasons: list[Reason],
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
            reasons = [*reasons, reason("deferred", until=self.release.astimezone(self.rules.zone))]
        elif status == "duplicate":
            reasons = [*reasons, reason("duplicate", key=key)]
        self.decisions.append(
            Decision(
                self.now,
                rule,
                level,
                status,
                subject,
                [f"{to.name} <{to.email}>"],
                kind,
                reasons,
                self.release if deferred else None,
                item_id,
            )
        )

    def note(
        self, rule: str, level: int, status: str, subject: str, reasons: list[Reason], item=None
    ):
        self.decisions.append(
            Decision(self.now, rule, level, status, subject, reasons=reasons, item_id=item)
        )
