"""Sending through an SMTP server with smtplib: one connection per batch, 4xx vs 5xx kept apart."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Iterator

from ..oauth import MailboxSignIn
from .base import Envelope, OutcomeUnknown, PermanentFailure, SignInFailed, TemporaryFailure
from .bearer import bearer_sign_in


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        username: str = "",
        password: str = "",
        sign_in: MailboxSignIn | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self.sign_in = sign_in  # OAuth 2.0 instead of the password (see mail/oauth)
        self._connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.security == "ssl":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    connection.starttls(context=ssl.create_default_context())
            if self.sign_in is not None:
                self._bearer_login(connection)
            elif self.username:
                connection.login(self.username, self.password)
        except TemporaryFailure:
            connection.close()
            raise
        except smtplib.SMTPAuthenticationError as exc:
            # A wrong password is the account's fault, not the network's: a sign-in fault
            # (status, admin mail), tried again with back-off until the config is fixed.
            text = exc.smtp_error.decode("utf-8", "replace") if exc.smtp_error else ""
            raise SignInFailed(
                f"SMTP sign-in to {self.host}:{self.port} refused: {exc.smtp_code} {text}"
                " (check [mail.smtp] username and password)"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # A username on a port with no AUTH (the MX port 25 instead of submission 587).
            raise SignInFailed(
                f"SMTP {self.host}:{self.port} offers no sign-in (AUTH) though [mail.smtp] "
                "has a username: is port the submission port (587, or 465 with ssl)?"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"cannot reach SMTP {self.host}:{self.port}: {exc}") from exc
        return connection

    def _bearer_login(self, connection: smtplib.SMTP) -> None:
        """AUTH XOAUTH2 or OAUTHBEARER with the token in the first line; a refused token is
        renewed and tried once more on the same connection."""
        connection.ehlo_or_helo_if_needed()
        offered = set(connection.esmtp_features.get("auth", "").upper().split())
        bearer_sign_in(
            self.sign_in,
            offered,
            lambda exchange: connection.auth(
                exchange.mechanism, exchange, initial_response_ok=True
            ),
            smtplib.SMTPAuthenticationError,
            f"SMTP {self.host}:{self.port}",
        )

    @contextlib.contextmanager
    def session(self) -> Iterator[SmtpSender]:
        """Reuse one connection for every send inside the block."""
        self._connection = self._connect()
        try:
            yield self
        finally:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                connection.quit()

    def send(self, envelope: Envelope) -> None:
        if self._connection is not None:
            self._send_on(self._connection, envelope)
            return
        with self.session():
            self._send_on(self._connection, envelope)  # type: ignore[arg-type]

    def _send_on(self, connection: smtplib.SMTP, envelope: Envelope) -> None:
        try:
            refused = connection.sendmail(envelope.sender, list(envelope.recipients), envelope.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _failure("every recipient refused", exc.recipients) from exc
        except smtplib.SMTPResponseException as exc:
            cls = TemporaryFailure if 400 <= exc.smtp_code < 500 else PermanentFailure
            raise cls(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            # The connection broke mid-batch: drop it so the next send reconnects. Whether
            # the server took the mail before it broke nobody knows (OutcomeUnknown).
            self._connection = None
            raise OutcomeUnknown(f"SMTP connection lost: {exc}") from exc
        if refused:
            # Some got it, some did not; resending would duplicate it for the others.
            raise _failure("some recipients refused", refused, partial=True)

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.quit()
            self._connection = None


def _failure(what: str, refused: dict, partial: bool = False) -> Exception:
    detail = "; ".join(f"{rcpt}: {code} {msg!r}" for rcpt, (code, msg) in refused.items())
    temporary = all(400 <= code < 500 for code, _ in refused.values()) and not partial
    return (TemporaryFailure if temporary else PermanentFailure)(f"{what}: {detail}")
