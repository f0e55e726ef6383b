"""What `collabd.toml` may contain. Unknown keys are errors: a typo must not be ignored.

Defaults here ARE the embedded defaults: no config file at all gives SQLite plus a local
maildir under the data directory.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ..durations import Duration


def _duration(value: object) -> Duration:
    if isinstance(value, Duration):
        return value
    if not isinstance(value, str):
        raise ValueError('a duration is a string with a unit, e.g. "1d" or "2wd"')
    return Duration.parse(value)


DurationField = Annotated[Duration, BeforeValidator(_duration)]


def default_data_dir() -> Path:
    # systemd's StateDirectory= sets STATE_DIRECTORY; otherwise follow the XDG convention.
    if state := os.environ.get("STATE_DIRECTORY"):
        return Path(state.split(":")[0])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "collabd"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DaemonSection(Section):
    data_dir: Path = Field(default_factory=default_data_dir)
    timezone: str = "Asia/Shanghai"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Who looks after collabd itself: told (once per year) when next year's holiday
    # schedule is missing or working days are estimated. Addresses; someone in the people
    # list gets the mail in their language.
    admins: list[str] = []
    # Mails to the admins about faults of the machine (disk full, ledger or mail server
    # down): one per episode, and at most this many an hour, across restarts.
    fault_mails_per_hour: int = Field(default=1, ge=1, le=60)

    @field_validator("admins")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            local, at, domain = value.partition("@")
            if not (local and at and "." in domain) or any(c.isspace() for c in value):
                raise ValueError(f"{value!r} is not a mail address like it@example.com")
        return [value.lower() for value in values]

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known IANA timezone (e.g. Asia/Shanghai)") from None
        return value


class StoreSection(Section):
    # Empty means the embedded SQLite file `collabd.sqlite3` in the data directory.
    url: str = ""

    @field_validator("url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if value:
            _check_store_url(value)
        return value


# The database kinds collabd runs on, and the drivers it can talk to them with. Checked from
# the URL's text and the installed packages, without importing a dialect: a typo such as
# `postgresq://` must stop check-config (exit 78), not the first command that opens the
# ledger (NoSuchModuleError); and the lean start never loads the PostgreSQL dialect.
_STORE_DRIVERS = {
    "sqlite": {"": "sqlite3", "pysqlite": "sqlite3"},
    "postgresql": {"": "psycopg", "psycopg": "psycopg", "psycopg2": "psycopg2"},
    "postgres": {"": "psycopg"},  # the short spelling people write; collabd normalizes it
}


def _check_store_url(value: str) -> None:
    scheme, sep, _rest = value.partition("://")
    backend, _, driver = scheme.partition("+")
    if not sep or backend not in _STORE_DRIVERS:
        raise ValueError(
            "not a database URL collabd can use: write sqlite:////path/to/collabd.sqlite3 "
            "or postgresql://user:password@host:5432/dbname"
        )
    drivers = _STORE_DRIVERS[backend]
    if driver not in drivers:
        known = ", ".join(f"{backend}+{name}" for name in drivers if name)
        raise ValueError(f"unknown driver {driver!r} (collabd knows {known})")
    if find_spec(drivers[driver]) is None:
        raise ValueError(f"the Python package {drivers[driver]!r} for this URL is not installed")


class SmtpSection(Section):
    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: str = ""
    password_file: Path | None = None
    timeout: DurationField = Duration(30, "s")


class ImapSection(Section):
    host: str = ""
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    password: str = ""
    password_file: Path | None = None
    folder: str = "INBOX"
    processed_folder: str = "collabd/processed"
    quarantine_folder: str = "collabd/quarantine"
    # Where the server files the journal copies sent to collab+journal@… (Dovecot:
    # lmtp_save_to_detail_mailbox = yes, or a Sieve rule; see docs/operations.md), so they
    # never enter the watched folder. collabd creates it; "" turns the lookup off.
    journal_folder: str = "journal"
    timeout: DurationField = Duration(60, "s")


class EwsSection(Section):
    """Exchange Web Services (on-premises Exchange): see docs/exchange.md."""

    # https://mail.example.com/EWS/Exchange.asmx; leave empty and set autodiscover = true
    # to let exchangelib find it from the mailbox address.
    url: str = ""
    autodiscover: bool = False
    auth: Literal["ntlm", "basic", "oauth"] = "ntlm"
    username: str = ""  # DOMAIN\\user or user@domain; empty means mail.address
    # The password (for oauth: the client secret) from exactly one of these three.
    password: str = ""
    password_file: Path | None = None
    password_env: str = ""  # the name of an environment variable holding it
    client_id: str = ""  # oauth only (client credentials grant)
    tenant_id: str = ""  # oauth only
    folder: str = "inbox"  # the watched folder: "inbox" or a path below the mailbox top
    processed_folder: str = "collabd/processed"
    quarantine_folder: str = "collabd/quarantine"
    timeout: DurationField = Duration(60, "s")
    poll_interval: DurationField = Duration(10, "s")  # GetEvents on the pull subscription

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError(
                "the EWS endpoint is an https:// URL, e.g. https://mail.example.com/EWS/Exchange.asmx"
            )
        return value


class OAuthSection(Section):
    """OAuth 2.0 sign-in to IMAP and SMTP (SASL XOAUTH2 / OAUTHBEARER) instead of a password:
    Microsoft 365 (docs/microsoft365.md) or Google Workspace (docs/google.md). Empty
    `provider` keeps the password sign-in of [mail.imap] and [mail.smtp]."""

    provider: Literal["", "microsoft", "google"] = ""
    # "app": the app signs in as itself (Microsoft: client credentials; Google: a service
    # account with domain-wide delegation). "delegated": a person signs in once with
    # `collabd auth login` (Microsoft: device code; Google: an installed app's refresh token).
    flow: Literal["app", "delegated"] = "app"
    # Microsoft's cloud: "global" (login.microsoftonline.com, outlook.office365.com) or
    # "china" (Microsoft 365 operated by 21Vianet: login.partner.microsoftonline.cn,
    # partner.outlook.cn). `authority` and `scopes` below override the preset.
    cloud: Literal["global", "china"] = "global"
    tenant_id: str = ""  # Microsoft: the directory (tenant) ID or a verified domain
    client_id: str = ""  # Microsoft: the app registration; Google: the installed app
    # Microsoft "app" / Google "delegated": the client secret, from exactly one of these.
    client_secret: str = ""
    client_secret_file: Path | None = None
    client_secret_env: str = ""
    # Google "app": the service account's JSON key file.
    service_account_file: Path | None = None
    authority: str = ""  # e.g. https://login.partner.microsoftonline.cn/<tenant>
    token_uri: str = ""  # Google: the token endpoint (default https://oauth2.googleapis.com/token)
    scopes: list[str] = []
    # Who signs in (the SASL user); empty: mail.imap.username, else mail.address.
    user: str = ""
    mechanism: Literal["auto", "xoauth2", "oauthbearer"] = "auto"
    # A CA bundle for the token endpoint (a private CA or a TLS-inspecting proxy).
    ca_file: Path | None = None
    # A token closer than this to its expiry is renewed before it is used.
    refresh_before: DurationField = Duration(5, "m")

    @field_validator("authority", "token_uri")
    @classmethod
    def _https(cls, value: str) -> str:
        if value and not value.lower().startswith("https://"):
            raise ValueError("an https:// URL")
        return value.rstrip("/")


# Microsoft 365 operated by 21Vianet (China) signs in and serves Graph at its own hosts.
GRAPH_CLOUDS = {
    "global": ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "china": (
        "https://login.partner.microsoftonline.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
}


class GraphSection(Section):
    """Microsoft Graph (Exchange Online): see docs/microsoft365.md."""

    # "global" (Microsoft 365 worldwide) or "china" (operated by 21Vianet): the sign-in
    # authority and the Graph endpoint. `authority` and `endpoint` override either one.
    cloud: Literal["global", "china"] = "global"
    authority: str = ""  # e.g. https://login.microsoftonline.com (the tenant is appended)
    endpoint: str = ""  # e.g. https://graph.microsoft.com (/v1.0 is appended)
    tenant_id: str = ""  # the directory (tenant) id or a verified domain
    client_id: str = ""  # the app registration's application (client) id
    # The app's client secret from exactly one of these three.
    client_secret: str = ""
    client_secret_file: Path | None = None
    client_secret_env: str = ""  # the name of an environment variable holding it
    user: str = ""  # the mailbox Graph reads and sends as; empty means mail.address
    folder: str = "inbox"  # the watched folder: a well-known name or a path below the top
    processed_folder: str = "collabd/processed"
    quarantine_folder: str = "collabd/quarantine"
    timeout: DurationField = Duration(60, "s")
    poll_interval: DurationField = Duration(10, "s")  # how often the inbox is asked for news

    @field_validator("authority", "endpoint")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if value and not value.lower().startswith("https://"):
            raise ValueError("an https:// URL, e.g. https://graph.microsoft.com")
        return value.rstrip("/")

    @property
    def authority_url(self) -> str:
        return self.authority or GRAPH_CLOUDS[self.cloud][0]

    @property
    def endpoint_url(self) -> str:
        return self.endpoint or GRAPH_CLOUDS[self.cloud][1]


class MaildirSection(Section):
    # Relative paths are under the data directory.
    root: Path = Path("maildir")


class MailSection(Section):
    backend: Literal["maildir", "imap", "ews", "graph"] = "maildir"
    address: str = "collabd@localhost"
    display_name: str = "collabd 协作助手"
    smtp: SmtpSection = SmtpSection()
    imap: ImapSection = ImapSection()
    ews: EwsSection = EwsSection()
    oauth: OAuthSection = OAuthSection()
    graph: GraphSection = GraphSection()
    maildir: MaildirSection = MaildirSection()
    # The authserv-id your MTA writes into Authentication-Results (e.g. "mx.example.com"):
    # a mail it marks dmarc=fail, or spf and dkim both failing, changes nothing. Empty: no
    # such header is trusted (docs/security.md, "At the MTA").
    trusted_authserv_id: str = ""
    # How long a reply token (collab+TOKEN@…) is accepted after its mail was sent; it also
    # ends when the meeting the mail was about is cancelled.
    reply_token_lifetime: DurationField = Duration(120, "d")
    # Answers and notices collabd sends one person per hour at most (a flood or a mail
    # loop must not make collabd a spammer); what is over is logged, not sent.
    answers_per_hour: int = Field(default=20, ge=1, le=1000)

    @field_validator("reply_token_lifetime")
    @classmethod
    def _token_lifetime(cls, value: Duration) -> Duration:
        if value.needs_calendar or not 0 < value.as_timedelta().days <= 3650:
            raise ValueError('between one day and ten years of wall-clock time, e.g. "120d"')
        return value

    @field_validator("address")
    @classmethod
    def _looks_like_address(cls, value: str) -> str:
        local, at, domain = value.partition("@")
        if not (local and at and domain) or any(c.isspace() for c in value):
            raise ValueError("the collabd mailbox must be a plain address like collab@example.com")
        return value.lower()


class MeetingsSection(Section):
    min_notice: DurationField = Duration(1, "d")  # seed 000: 提前至少1天通知参与方
    # Attendees who have not answered the invitation are reminded this long before the start.
    remind_unanswered: DurationField = Duration(1, "d")
    # Everyone is reminded on the day of the meeting at this local time (HH:MM), or, for a
    # meeting that starts earlier than `day_reminder_lead` after it, that long before.
    day_reminder_at: str = "08:30"
    day_reminder_lead: DurationField = Duration(1, "h")
    # Files on an invitation that comes by mail (an Outlook REQUEST): at most this many, this
    # large together; more are dropped and the inbound log says which and why. They are kept
    # as files in the data directory, never in the ledger (calendar/files.py).
    max_mail_files: int = Field(default=10, ge=0, le=100)
    max_mail_files_mb: float = Field(default=20, ge=0, le=200)

    @field_validator("day_reminder_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError('a local time of day, written HH:MM (e.g. "08:30")')
        return f"{int(hours):02d}:{int(minutes):02d}"


class ArchiveSection(Section):
    """Deliverables and archives (issue 8: closing the loop)."""

    # Per file sent with `#N 完成`; larger files are refused with a clear answer. Mail
    # servers commonly cap a whole message at 10-25 MB, and the acceptance request carries
    # the files on to the receiver.
    max_attachment_mb: float = Field(default=10, gt=0, le=100)
    # All files of one acceptance round together: the acceptance request carries them to
    # the receiver in one mail, and mail servers cap a message at 10-25 MB.
    max_round_mb: float = Field(default=20, gt=0, le=200)
    # Files of a round often come one mail at a time: the receiver gets one acceptance
    # request, this long after the last file arrived, carrying them all.
    acceptance_quiet: DurationField = Duration(10, "m")
    # Where `collabd archive` writes when no --out is given; relative to the data directory.
    root: Path = Path("archive")


class CalendarSection(Section):
    # How invitations go out: "imip" mails iCalendar invitations (works with every
    # calendar); "ews" creates the meeting in the collabd mailbox's Exchange calendar and
    # lets Exchange send the invitations (needs mail.backend = "ews"'s [mail.ews] settings);
    # "graph" does the same through Microsoft Graph (Exchange Online, [mail.graph]).
    backend: Literal["imip", "ews", "graph"] = "imip"
    # Who may send calendar mail on someone else's behalf (Outlook's SENT-BY): the person's
    # address -> their delegates' addresses. A SENT-BY the mail writes about itself is data
    # any colleague can type, so only a delegation declared here counts (docs/security.md).
    delegates: dict[str, list[str]] = {}
    # How much may be on collabd's calendar (docs/security.md, "Meetings from Outlook"):
    # every meeting costs its attendees a reminder and its recorder a minutes request. A
    # REQUEST over either limit is refused and its organizer told. A collaboration's
    # meetings still to come (400: a daily meeting for a year, as one series may hold) …
    max_open_meetings: int = Field(default=400, ge=1, le=10000)
    # … and one organizer's series with an occurrence still to come.
    max_series_per_organizer: int = Field(default=10, ge=1, le=1000)

    @field_validator("delegates")
    @classmethod
    def _lower(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for principal, names in value.items():
            for address in (principal, *names):
                local, at, domain = address.partition("@")
                if not (local and at and "." in domain) or any(c.isspace() for c in address):
                    raise ValueError(f"{address!r} is not an e-mail address")
        return {p.lower(): [n.lower() for n in names] for p, names in value.items()}

    def delegated(self, principal: str, sender: str) -> bool:
        """True when the admin declared `sender` a calendar delegate of `principal`."""
        return sender.lower() in self.delegates.get(principal.lower(), ())


class PermissionsSection(Section):
    """Who may change what by mail beyond the item's own people (docs/security.md)."""

    department_head: bool = True  # the owner's department head may update the item
    initiator_leader: bool = True  # the initiator's leader may update every item
    # A delay (`#N 延期至…`) is approved by the initiator; true: by the coordinator as well.
    coordinator_approves_delays: bool = False
    # Who may schedule a collaboration's meetings from Outlook (REQUEST / CANCEL mail): the
    # coordinator and the initiator always; leading and supporting departments' contacts
    # when true (never an observer's). Off by default: a meeting registered from a contact's
    # calendar makes collabd remind, chase minutes and mail under its own address.
    contacts_schedule_meetings: bool = False


class RulesSection(Section):
    # The rules file (reminders, escalations, calendar …; see config/rules.toml and
    # docs/rules.md). Relative to this config file. Empty: the embedded default rules.
    file: Path | None = None


class ServiceSection(Section):
    """`collabd run`: how often it does time-driven work and how long a claim lasts."""

    tick_every: DurationField = Duration(1, "m")  # rule ticks
    send_every: DurationField = Duration(5, "s")  # outbox sweeps besides those after ingest
    # A claim (outbox rows, the tick) not settled within this is another replica's to take.
    claim_lease: DurationField = Duration(2, "m")
    # A replica whose heartbeat is older than this is dead: its claims are released at once.
    replica_timeout: DurationField = Duration(30, "s")
    # How long a mail whose send outcome is unknown (crash between the SMTP server's "250"
    # and the commit) waits for its journal copy before it is sent again; see
    # docs/operations.md, "Exactly once".
    journal_grace: DurationField = Duration(10, "m")
    # `collabd status` warns when the data directory's or the SQLite ledger's filesystem
    # has less than this many MiB free (deliverables need room: a full disk stops ingest).
    min_free_mb: int = Field(default=1024, ge=0)

    @field_validator("tick_every", "send_every", "claim_lease", "replica_timeout", "journal_grace")
    @classmethod
    def _wall_clock(cls, value: Duration) -> Duration:
        if value.needs_calendar or value.as_timedelta().total_seconds() <= 0:
            raise ValueError("must be a positive wall-clock duration (s, m, h, d)")
        return value


class CliSection(Section):
    """Who a command-line change is recorded as (history's "by"), instead of the OS user."""

    # A person of the ledger (name or mail address) every CLI change is made as, unless
    # `--as` names another one.
    operator: str = ""
    # OS user -> person, for a machine several coordinators share: {"lin" = "林晓"}.
    operators: dict[str, str] = {}
    # The language of what commands print for people (statuses, roles, answers, reasons);
    # mails always go out in each reader's own locale.
    locale: Literal["zh-CN", "en"] = "zh-CN"


class Settings(Section):
    daemon: DaemonSection = DaemonSection()
    store: StoreSection = StoreSection()
    mail: MailSection = MailSection()
    meetings: MeetingsSection = MeetingsSection()
    archive: ArchiveSection = ArchiveSection()
    calendar: CalendarSection = CalendarSection()
    rules: RulesSection = RulesSection()
    permissions: PermissionsSection = PermissionsSection()
    service: ServiceSection = ServiceSection()  # `collabd run`
    cli: CliSection = CliSection()

    @property
    def data_dir(self) -> Path:
        return self.daemon.data_dir.expanduser()

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.data_dir / 'collabd.sqlite3'}"

    @property
    def maildir_root(self) -> Path:
        root = self.mail.maildir.root.expanduser()
        return root if root.is_absolute() else self.data_dir / root

    @property
    def archive_root(self) -> Path:
        root = self.archive.root.expanduser()
        return root if root.is_absolute() else self.data_dir / root

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.daemon.timezone)
