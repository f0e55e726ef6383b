"""Mail transports behind one small interface (see base.py): maildir, IMAP + SMTP, EWS,
Microsoft Graph."""

from __future__ import annotations

from ...config import Settings, secret_from
from ...store import Database
from .base import (
    Envelope,
    Incoming,
    IncomingMail,
    Outcome,
    OutcomeUnknown,
    Outgoing,
    PermanentFailure,
    SignInFailed,
    TemporaryFailure,
    Transport,
    TransportError,
)
from .ews import EwsAccount, EwsMailbox, EwsSender, EwsSettings
from .graph import GraphAccount, GraphMailbox, GraphSender, GraphSettings
from .imap import ImapMailbox
from .maildir import MaildirTransport
from .smtp import SmtpSender


def open_transport(settings: Settings, db: Database | None = None) -> Transport:
    """The configured transport. `db` is the ledger, where an OAuth sign-in keeps its tokens
    (needed only with [mail.oauth])."""
    mail = settings.mail
    if mail.backend == "maildir":
        maildir = MaildirTransport(settings.maildir_root, mail.address)
        return Transport(outgoing=maildir, incoming=maildir)
    if mail.backend == "imap":
        smtp, imap = mail.smtp, mail.imap
        sign_in = _sign_in(settings, db)
        return Transport(
            outgoing=SmtpSender(
                smtp.host,
                smtp.port,
                security=smtp.security,
                username=smtp.username,
                password=secret_from(smtp.password, smtp.password_file),
                sign_in=sign_in,
                timeout=smtp.timeout.as_timedelta().total_seconds(),
            ),
            incoming=_imap_mailbox(
                settings,
                imap.folder,
                sign_in,
                processed_folder=imap.processed_folder,
                quarantine_folder=imap.quarantine_folder,
            ),
        )
    if mail.backend == "ews":
        account = EwsAccount(ews_settings(settings))
        return Transport(outgoing=EwsSender(account), incoming=EwsMailbox(account))
    if mail.backend == "graph":
        graph = graph_account(settings, db)
        return Transport(outgoing=GraphSender(graph), incoming=GraphMailbox(graph))
    raise NotImplementedError(f"mail.backend = {mail.backend!r} is not available yet")


def open_journal(settings: Settings, db: Database | None = None) -> ImapMailbox | None:
    """The folder the journal copies are filed in, on a connection of its own (the
    watcher's connection belongs to the watcher thread); None where there is none."""
    mail = settings.mail
    if mail.backend != "imap" or not mail.imap.journal_folder:
        return None
    return _imap_mailbox(settings, mail.imap.journal_folder, _sign_in(settings, db))


def _sign_in(settings: Settings, db: Database | None):
    """The OAuth sign-in of [mail.oauth], or None for a password."""
    if not settings.mail.oauth.provider:
        return None
    from ..oauth import open_sign_in

    if db is None:
        raise ValueError("an OAuth sign-in keeps its tokens in the ledger: pass db")
    return open_sign_in(settings, db)


def _imap_mailbox(settings: Settings, folder: str, sign_in, **folders: str) -> ImapMailbox:
    """[mail.imap] on `folder`; the journal folder is made on connect if missing."""
    mail, imap = settings.mail, settings.mail.imap
    return ImapMailbox(
        imap.host,
        imap.port,
        security=imap.security,
        username=imap.username or mail.address,
        password=secret_from(imap.password, imap.password_file),
        sign_in=sign_in,
        folder=folder,
        journal_folder=imap.journal_folder,
        timeout=imap.timeout.as_timedelta().total_seconds(),
        **folders,
    )


def ews_settings(settings: Settings) -> EwsSettings:
    """[mail.ews] as the EWS transport (and the EWS calendar) take it."""
    ews = settings.mail.ews
    return EwsSettings(
        address=settings.mail.address,
        url=ews.url,
        auth=ews.auth,
        username=ews.username,
        password=secret_from(ews.password, ews.password_file, ews.password_env),
        client_id=ews.client_id,
        tenant_id=ews.tenant_id,
        folder=ews.folder,
        processed_folder=ews.processed_folder,
        quarantine_folder=ews.quarantine_folder,
        timeout=ews.timeout.as_timedelta().total_seconds(),
        poll_seconds=ews.poll_interval.as_timedelta().total_seconds(),
    )


def graph_account(settings: Settings, db: Database | None) -> GraphAccount:
    """Graph as [mail.graph] says, signing in through mail/oauth (tokens in the ledger)."""
    from .graph_auth import graph_sign_in

    if db is None:
        raise ValueError("the Graph sign-in keeps its tokens in the ledger: pass db")
    graph = graph_settings(settings)
    return GraphAccount(graph, graph_sign_in(graph, db, settings.data_dir))


def graph_settings(settings: Settings) -> GraphSettings:
    """[mail.graph] as the Graph transport (and the Graph calendar) take it, signing in as
    the app of [mail.oauth] (config/graph_app.py)."""
    from ...config.graph_app import graph_app

    graph, app = settings.mail.graph, graph_app(settings)
    return GraphSettings(
        user=graph.user or settings.mail.address,
        endpoint=app.endpoint,
        authority=app.authority,
        tenant_id=app.tenant_id,
        client_id=app.client_id,
        client_secret=secret_from(app.client_secret, app.client_secret_file, app.client_secret_env),
        folder=graph.folder,
        processed_folder=graph.processed_folder,
        quarantine_folder=graph.quarantine_folder,
        timeout=graph.timeout.as_timedelta().total_seconds(),
        poll_seconds=graph.poll_interval.as_timedelta().total_seconds(),
        ca_file=settings.mail.oauth.ca_file,
        app_section=app.section,
    )


__all__ = [
    "Envelope",
    "EwsMailbox",
    "EwsSender",
    "GraphMailbox",
    "GraphSender",
    "ImapMailbox",
    "Incoming",
    "IncomingMail",
    "MaildirTransport",
    "Outcome",
    "OutcomeUnknown",
    "Outgoing",
    "PermanentFailure",
    "SignInFailed",
    "SmtpSender",
    "TemporaryFailure",
    "Transport",
    "TransportError",
    "open_journal",
    "open_transport",
]
