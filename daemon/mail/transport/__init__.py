"""Mail transports behind one small interface (see base.py): maildir, IMAP + SMTP; EWS later."""

from __future__ import annotations

from ...config import Settings, secret_from
from .base import (
    Envelope,
    Incoming,
    IncomingMail,
    Outcome,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    TemporaryFailure,
    Transport,
    TransportError,
)
from .imap import ImapMailbox
from .maildir import MaildirTransport
from .smtp import SmtpSender


def open_transport(settings: Settings) -> Transport:
    mail = settings.mail
    if mail.backend == "maildir":
        maildir = MaildirTransport(settings.maildir_root, mail.address)
        return Transport(outgoing=maildir, incoming=maildir)
    if mail.backend == "imap":
        smtp, imap = mail.smtp, mail.imap
        return Transport(
            outgoing=SmtpSender(
                smtp.host,
                smtp.port,
                security=smtp.security,
                username=smtp.username,
                password=secret_from(smtp.password, smtp.password_file),
                timeout=smtp.timeout.as_timedelta().total_seconds(),
            ),
            incoming=ImapMailbox(
                imap.host,
                imap.port,
                security=imap.security,
                username=imap.username or mail.address,
                password=secret_from(imap.password, imap.password_file),
                folder=imap.folder,
                processed_folder=imap.processed_folder,
                quarantine_folder=imap.quarantine_folder,
                timeout=imap.timeout.as_timedelta().total_seconds(),
            ),
        )
    raise NotImplementedError(f"mail.backend = {mail.backend!r} is not available yet")


__all__ = [
    "Envelope",
    "ImapMailbox",
    "Incoming",
    "IncomingMail",
    "MaildirTransport",
    "Outcome",
    "OutcomeUnknown",
    "Outgoing",
    "PermanentFailure",
    "SmtpSender",
    "TemporaryFailure",
    "Transport",
    "TransportError",
    "open_transport",
]
