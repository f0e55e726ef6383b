"""Exactly once out: settling a send whose outcome a crash left unknown.

The outbox marks a row `sending_since` (committed) before its SMTP transaction and settles
it after the server's answer. A process killed between the server's "250 queued" and that
commit leaves the row marked, its claim running out: the mail may or may not have gone.
SMTP offers no way to ask. So every mail also goes, in the SAME SMTP transaction (one more
RCPT), to the journal address `collab+journal@…` — collabd's own mailbox. The server
accepts the transaction for all recipients or for none, so the journal copy exists if and
only if the mail went out.

The server files the copies in a folder of their own (`mail.imap.journal_folder`, through
Dovecot's lmtp_save_to_detail_mailbox or a Sieve rule), so they never enter the watched
folder and ingest does no work for them; only the copies of interrupted sends are ever
looked up there, by Message-ID. A server without such a rule delivers them to the inbox,
where ingest records them in the inbound log (the "loop" route), which counts as proof too:

- a copy found (journal folder, watched folder or inbound log) → the row is marked sent;
  never sent again;
- no copy, and a look that started `journal_grace` after the attempt found none (the
  sender's own lookup of both folders, or a pass over the mailbox)
                               → the server never accepted it: the row is sent again;
- otherwise                    → wait.

The sender looks the copies up itself, on its own schedule: every LOOKUP_EVERY while an
interrupted send waits (a copy found early settles it early), and at every sweep once a
send's grace has ended. So a quiet mailbox never delays a send: an interrupted mail goes
out within `journal_grace` plus one sweep (`send_every`) of its attempt, once its claim
has run out. The lookup searches the journal folder first, then the watched folder, then
the inbound log, in that order: a copy ingest moves out of the watched folder is in the
inbound log before it leaves (ingest commits, then files).

Copies older than JOURNAL_DAYS are deleted: an unknown send is settled within minutes.

What is left: a server that accepted the mail and then takes longer than `journal_grace`
to deliver the copy (its queue backed up) can still cause one duplicate.
Without a journal (maildir transport) an unknown row is sent again after `journal_grace`.

Microsoft Graph (mail.backend = "graph") needs no journal copy: Exchange files a copy of
every mail it sent in Sent Items, with the Message-ID collabd gave it. There the proof is
asked of the transport (`proof(message_id)`, an `internetMessageId` lookup): found → sent;
not found `journal_grace` after the attempt → sent again; otherwise wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select

from ..mail.transport import ImapMailbox, TransportError
from ..store import Database
from ..store.models import InboundMessage, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

JOURNAL_DETAIL = "journal"
LOOKUP_EVERY = timedelta(seconds=30)  # while interrupted sends wait inside their grace


def journal_address(address: str) -> str:
    """collab@example.com → collab+journal@example.com (the server must deliver +detail
    to the mailbox itself, as reply tokens already require)."""
    local, _, domain = address.partition("@")
    return f"{local}+{JOURNAL_DETAIL}@{domain}"


def unknown_query(now: datetime):
    return select(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.sending_since.is_not(None),
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def settle_unknown(
    db: Database,
    now: datetime,
    *,
    grace: timedelta,
    journaled: bool,
    synced_since: datetime | None,
    journal_folder: JournalFolder | None = None,
    proof: Callable[[str], bool] | None = None,
) -> tuple[int, int]:
    """Settle interrupted sends; returns (confirmed sent, released to send again).
    `proof`: asks the mail server itself whether a mail went out (Graph's Sent Items)."""
    confirmed = released = 0
    copies: set[str] = set()
    answered: set[str] = set()  # the ones `proof` could say something about
    looked_at: datetime | None = None  # when a journal lookup that worked began
    if (journaled and journal_folder is not None) or proof is not None:
        # Asked before the settling transaction, never inside it: a server round trip (and,
        # for Graph, a token kept in the ledger) must not hold the ledger's write lock.
        with db.transaction() as session:
            waiting = list(
                session.execute(
                    unknown_query(now)
                    .with_only_columns(OutboxMessage.message_id, OutboxMessage.sending_since)
                    .limit(500)
                )
            )
        if waiting and proof is not None:
            for message_id, _ in waiting:
                found = _ask(proof, message_id)
                if found is not None:  # None: the server cannot say now; ask next time
                    answered.add(message_id)
                    if found:
                        copies.add(message_id)
        # The IMAP connection only when a crash left something to settle.
        elif waiting and journal_folder.due(now, [since + grace for _, since in waiting]):
            found_copies = journal_folder.copies([message_id for message_id, _ in waiting], now)
            if found_copies is not None:
                copies, looked_at = found_copies, now
    with db.transaction() as session:
        query = unknown_query(now).limit(500)
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for row in session.scalars(query):
            fields = {"message_id": row.message_id, "item": row.item_id, "rule": row.rule_id}
            attempt = row.sending_since
            assert attempt is not None
            if proof is not None:
                if row.message_id not in answered:
                    continue
                found = row.message_id in copies
            else:
                found = journaled and (
                    row.message_id in copies
                    or session.scalar(
                        select(InboundMessage.id).where(InboundMessage.message_id == row.message_id)
                    )
                )
            if found:
                row.status, row.sent_at = OutboxStatus.SENT, attempt
                row.attempts += 1
                row.last_error = ""
                confirmed += 1
                log.warning(
                    "outbox: %s was accepted before a crash (its copy was found): marked sent",
                    row.message_id,
                    extra=fields,
                )
            elif proof is not None and now >= attempt + grace:
                released += 1
                row.last_error = "interrupted send never reached the server (no sent copy)"
                log.warning(
                    "outbox: %s: interrupted send has no sent copy after %s: sending again",
                    row.message_id,
                    grace,
                    extra=fields,
                )
            elif not journaled and proof is None and now >= attempt + grace:
                released += 1
                row.last_error = "outcome of an interrupted send unknown (no journal): resent"
                log.warning(
                    "outbox: %s: interrupted send, no journal: sending again",
                    row.message_id,
                    extra=fields,
                )
            elif journaled and _looked_after(attempt + grace, looked_at, synced_since):
                released += 1
                row.last_error = "interrupted send never reached the server (no journal copy)"
                log.warning(
                    "outbox: %s: interrupted send has no journal copy after %s: sending again",
                    row.message_id,
                    grace,
                    extra=fields,
                )
            else:
                continue
            row.sending_since = row.claimed_by = row.claimed_until = None
    return confirmed, released


def _looked_after(
    moment: datetime, looked_at: datetime | None, synced_since: datetime | None
) -> bool:
    """Did a search for copies (the sender's lookup, or a mailbox pass) begin at or after
    `moment` and find none?"""
    return any(when is not None and when >= moment for when in (looked_at, synced_since))


JOURNAL_DAYS = 2


class JournalFolder:
    """The journal folder, opened only when needed: a lookup after a crash, and once a day
    the deletion of old copies. `open_folder` gives a fresh transport/imap.ImapMailbox on
    it (its own connection: the watcher thread owns the inbox's). `also` names folders
    searched too: the watched folder, where a server without a journal rule delivers."""

    def __init__(
        self, open_folder: Callable[[], ImapMailbox | None], also: tuple[str, ...] = ()
    ) -> None:
        self._open = open_folder
        self.also = also
        self.pruned_on: date | None = None
        self.looked_at: datetime | None = None

    def due(self, now: datetime, graces_end: list[datetime]) -> bool:
        """Look now? At every sweep once a grace has ended, else every LOOKUP_EVERY."""
        return (
            any(now >= end for end in graces_end)
            or self.looked_at is None
            or now - self.looked_at >= LOOKUP_EVERY
        )

    def copies(self, message_ids: list[str], now: datetime | None = None) -> set[str] | None:
        """The Message-IDs that have a copy in the folders; None when they cannot be read
        (or there is no journal folder): nothing can then be concluded from an absence."""
        folder = self._open()
        if folder is None:
            return None
        try:
            found = folder.message_ids_present(message_ids, self.also)
        except TransportError as exc:
            log.warning("journal folder not searched: %s", exc)
            return None
        finally:
            folder.close()
        self.looked_at = now
        return found

    def prune(self, today: date) -> None:
        """Delete copies older than JOURNAL_DAYS, at most once a day."""
        if self.pruned_on == today:
            return
        self.pruned_on = today
        folder = self._open()
        if folder is None:
            return
        try:
            deleted = folder.delete_before(today - timedelta(days=JOURNAL_DAYS))
            if deleted:
                log.info(
                    "journal folder: %d copies older than %d days deleted", deleted, JOURNAL_DAYS
                )
        except TransportError as exc:
            log.warning("journal folder not pruned: %s", exc)
        finally:
            folder.close()


def _ask(proof: Callable[[str], bool], message_id: str) -> bool | None:
    try:
        return proof(message_id)
    except TransportError as exc:
        log.warning("outbox: cannot look for %s's sent copy now: %s", message_id, exc)
        return None
