"""A real loopback mail stack for the test suite: Postfix + Dovecot, no mocks.

Postfix accepts SMTP on 127.0.0.1:2525 and hands every message for the test
domain over LMTP to Dovecot, which stores it as Maildir and serves it over
IMAP on 127.0.0.1:1143. Mail for any other domain is refused at RCPT time and
can never leave the machine.

Everything (configuration, queue, mailboxes, logs, pid files) lives under one
base directory, so several stacks never share state, and ``stop()`` only ever
touches the processes whose pid files are in that directory.

The ports are fixed per "slot", so one stack runs per slot at a time. Slot 0
(the default) uses the ports above; ``COLLABD_MAILSTACK_SLOT=N`` moves a test
session to ports 2525+10N and 1143+10N and base directory
``/tmp/collabd-mailstack-N``, so several checkouts can test side by side. The process
that started it holds a lock on ``base_dir/stack.lock`` until ``stop()``: a
second test session waits for the first to finish, and daemons left behind
by a session that died (the kernel dropped its lock) are stopped and
replaced.

Usage::

    stack = MailStack()
    stack.start()
    ...
    stack.stop()

Needs root (Postfix's master and Dovecot drop privileges themselves) and the
Debian packages that ``tests/install-mailstack.sh`` installs.

Known limit: addresses must be ASCII. Chinese subjects, display names and
bodies are fine (MIME encoded words, 8-bit UTF-8 bodies), but a message that
needs SMTPUTF8 (a non-ASCII address, RFC 6531) is bounced with 5.6.7: Dovecot
2.3 (Debian 12) offers no SMTPUTF8 over LMTP and rejects non-ASCII local parts.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from imapclient import IMAPClient

DEFAULT_BASE_DIR = Path("/tmp/collabd-mailstack")


# Under pytest-xdist each worker (gw0, gw1 …) runs its own stack: worker N adds
# N * XDIST_SLOT_STRIDE to the session's slot, so a checkout on slot 3 with two workers
# uses slots 3 and 28.
XDIST_SLOT_STRIDE = 25


def _slot() -> int:
    """Which stack this process uses (see the module docstring)."""
    raw = os.environ.get("COLLABD_MAILSTACK_SLOT", "0")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    if not raw.isdigit() or not worker.isdigit():
        raise ValueError(f"COLLABD_MAILSTACK_SLOT = {raw!r}: expected a number from 0 to 50")
    slot = int(raw) + XDIST_SLOT_STRIDE * int(worker)
    if slot > 50:
        raise ValueError(
            f"COLLABD_MAILSTACK_SLOT = {raw!r} with xdist worker gw{worker} gives slot {slot}: "
            "the slots stop at 50 (use a lower slot or fewer workers)"
        )
    return slot


# Unprivileged owner of the delivered mail: a system user of our own, so the
# test mail belongs to neither daemon's account and nothing else's files are
# reachable from Dovecot (first_valid_uid is set to it).
MAIL_USER = "collabdmail"

# Debian's postfix package creates these.
POSTFIX_MAIL_OWNER = "postfix"
POSTFIX_SETGID_GROUP = "postdrop"


class MailStackError(RuntimeError):
    """The stack could not be started, reached or stopped."""


class MailStack:
    host = "127.0.0.1"
    domain = "collabd.test"
    password = "secret"

    def __init__(
        self,
        base_dir: Path | None = None,
        start_timeout: float = 20.0,
        lock_timeout: float = 900.0,
    ):
        slot = _slot()
        self.smtp_port = 2525 + 10 * slot
        # Submission with SASL (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) through Dovecot's auth.
        self.submission_port = 2526 + 10 * slot
        # Where Dovecot's oauth2 passdb asks whether a token is good (RFC 7662): served by
        # the tests' identity server (tests/identity_server.py) while they run.
        self.introspection_port = 2527 + 10 * slot
        self.imap_port = 1143 + 10 * slot
        default_dir = DEFAULT_BASE_DIR if slot == 0 else Path(f"{DEFAULT_BASE_DIR}-{slot}")
        self.base_dir = Path(base_dir or default_dir).resolve()
        self.start_timeout = start_timeout
        self.lock_timeout = lock_timeout
        self._lock_file: IO[str] | None = None
        self.postfix_conf_dir = self.base_dir / "postfix" / "etc"
        self.postfix_queue_dir = self.base_dir / "postfix" / "queue"
        self.postfix_data_dir = self.base_dir / "postfix" / "data"
        self.dovecot_conf = self.base_dir / "dovecot" / "dovecot.conf"
        self.dovecot_run_dir = self.base_dir / "dovecot" / "run"
        self.dovecot_state_dir = self.base_dir / "dovecot" / "state"
        self.mail_dir = self.base_dir / "mail"
        self.log_dir = self.base_dir / "log"
        self.postfix_log = self.log_dir / "postfix.log"
        self.dovecot_log = self.log_dir / "dovecot.log"

    # ------------------------------------------------------------------
    # lifecycle

    def start(self) -> MailStack:
        """Write the configuration, start both daemons, wait for greetings."""
        _require_root()
        self._check_base_dir()
        self._acquire_lock(wait=True)
        try:
            self._stop_daemons()  # left behind by a session that died
            self._check_ports_free()
            self._configure_and_start()
        except BaseException:
            self.stop()
            raise
        return self

    def _configure_and_start(self) -> None:
        uid, gid = _ensure_mail_user()
        self._reset_dirs(uid, gid)
        self._write_dovecot_conf(uid, gid)
        self._write_postfix_conf()
        self._start_dovecot()
        self._start_postfix()
        self._wait_for_greeting(self.smtp_port, b"220 ")
        self._wait_for_greeting(self.submission_port, b"220 ")
        self._wait_for_greeting(self.imap_port, b"* OK")

    def stop(self) -> None:
        """Stop the daemons started from this base_dir; a no-op if none run.

        Leaves alone a stack that another live process started and still holds.
        """
        if self._lock_file is None and not self._acquire_lock(wait=False):
            return
        self._stop_daemons()
        self._release_lock()

    def __enter__(self) -> MailStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def postfix_pid_file(self) -> Path:
        return self.postfix_queue_dir / "pid" / "master.pid"

    @property
    def dovecot_pid_file(self) -> Path:
        return self.dovecot_run_dir / "master.pid"

    @property
    def lmtp_socket(self) -> Path:
        return self.dovecot_run_dir / "lmtp"

    @property
    def auth_socket(self) -> Path:
        """Dovecot's SASL service for Postfix's submission port."""
        return self.dovecot_run_dir / "auth-postfix"

    @property
    def oauth2_conf(self) -> Path:
        return self.base_dir / "dovecot" / "dovecot-oauth2.conf.ext"

    # ------------------------------------------------------------------
    # helpers for tests

    def address(self, local_part: str) -> str:
        return f"{local_part}@{self.domain}"

    def users_dir_for(self, address: str) -> Path:
        """The Maildir of `address` on disk (it exists after first use)."""
        # Dovecot lower-cases user names (auth_username_format = %Lu).
        local, _, domain = address.lower().rpartition("@")
        return self.mail_dir / domain / local / "Maildir"

    def imap_login(self, address: str) -> IMAPClient:
        """A logged-in IMAP connection for `address`; the caller logs out."""
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
        client.login(address, self.password)
        return client

    def wait_for_mail(
        self, address: str, count: int = 1, timeout: float = 10, folder: str = "INBOX"
    ) -> list[bytes]:
        """Poll the folder (INBOX) until it holds `count` messages; return them all, raw.

        Fetches with BODY.PEEK[] so reading does not set \\Seen. Dovecot makes
        new mail visible a little after delivery, hence the polling.
        """
        deadline = time.monotonic() + timeout
        with _logged_out(self.imap_login(address)) as client:
            while True:
                # Re-selecting (read-only, so nothing changes) picks up new mail.
                client.select_folder(folder, readonly=True)
                uids = client.search("ALL")
                if len(uids) >= count:
                    fetched = client.fetch(uids, ["BODY.PEEK[]"])
                    return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{address}: {len(uids)} of {count} message(s) after {timeout}s\n"
                        + self.log_tail()
                    )
                time.sleep(0.1)

    def clear_mailbox(self, address: str) -> None:
        """Delete every message in the INBOX of `address`."""
        with _logged_out(self.imap_login(address)) as client:
            client.select_folder("INBOX")
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()

    def queued_message_ids(self) -> list[str]:
        """Ids of messages still in Postfix's queue, in any state."""
        ids = []
        for sub in ("incoming", "active", "deferred", "hold", "maildrop"):
            folder = self.postfix_queue_dir / sub
            if folder.is_dir():
                ids += [p.name for p in folder.rglob("*") if p.is_file()]
        return ids

    def wait_until_delivered(self, timeout: float = 120) -> None:
        """Until Postfix's queue is empty: what it accepted is in the mailboxes. Mail it
        deferred (Dovecot was down) is tried again at once (`postfix flush`), not after
        its five-minute backoff."""
        deadline = time.monotonic() + timeout
        flushed = False
        while self.queued_message_ids():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(self.queued_message_ids())} mail(s) still queued after {timeout}s\n"
                    + self.log_tail()
                )
            if not flushed:
                self._postfix("flush")
                flushed = True
            time.sleep(0.2)

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for log in (self.postfix_log, self.dovecot_log):
            try:
                tail = log.read_text(errors="replace").splitlines()[-lines:]
            except OSError as exc:
                tail = [f"(unreadable: {exc})"]
            parts.append(f"--- tail of {log} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    # ------------------------------------------------------------------
    # configuration

    def _reset_dirs(self, uid: int, gid: int) -> None:
        # Fresh state every start: an old queue or old mailboxes would make
        # test results depend on earlier runs. Only our own subdirectories
        # are removed, never base_dir itself (it may be a caller's folder).
        for sub in ("postfix", "dovecot", "mail", "log"):
            shutil.rmtree(self.base_dir / sub, ignore_errors=True)
        for path in self._own_dirs():
            path.mkdir(parents=True, exist_ok=True)
        # Postfix and the dovecot processes run unprivileged: they must be able
        # to walk down to their sockets and queue.
        for path in (self.base_dir, self.base_dir / "postfix", self.base_dir / "dovecot"):
            path.chmod(0o755)
        postfix_uid = pwd.getpwnam(POSTFIX_MAIL_OWNER).pw_uid
        os.chown(self.postfix_data_dir, postfix_uid, -1)
        # postlogd writes the log as root, but while no master runs (a restart after a kill)
        # postsuper writes its own warnings (a half-written queue file) as the mail owner:
        # a root-only log file made that a fatal error, and `postfix start` failed.
        self.postfix_log.touch()
        os.chown(self.postfix_log, postfix_uid, -1)
        # Dovecot creates each user's home below this, as the mail user.
        os.chown(self.mail_dir, uid, gid)

    def _own_dirs(self) -> list[Path]:
        return [
            self.postfix_conf_dir,
            self.postfix_queue_dir,
            self.postfix_data_dir,
            self.dovecot_run_dir,
            self.dovecot_state_dir,
            self.mail_dir,
            self.log_dir,
        ]

    def _write_dovecot_conf(self, uid: int, gid: int) -> None:
        self.oauth2_conf.write_text(
            _DOVECOT_OAUTH2_CONF.format(host=self.host, port=self.introspection_port)
        )
        self.dovecot_conf.write_text(
            _DOVECOT_CONF.format(
                base_dir=self.dovecot_run_dir,
                state_dir=self.dovecot_state_dir,
                log=self.dovecot_log,
                uid=uid,
                gid=gid,
                mail_dir=self.mail_dir,
                host=self.host,
                imap_port=self.imap_port,
                domain=self.domain,
                password=self.password,
                oauth2_conf=self.oauth2_conf,
            )
        )

    def _write_postfix_conf(self) -> None:
        settings = _postfix_main_cf(self)
        (self.postfix_conf_dir / "main.cf").write_text(
            "".join(f"{key} = {value}\n" for key, value in settings.items())
        )
        (self.postfix_conf_dir / "master.cf").write_text(
            _POSTFIX_MASTER_CF.format(
                host=self.host,
                smtp_port=self.smtp_port,
                submission_port=self.submission_port,
                auth_socket=self.auth_socket,
            )
        )
        # `postfix check` also creates the queue's subdirectories with the
        # right owners; any warning means our configuration is wrong.
        out = self._postfix("check")
        if out.strip():
            raise MailStackError(f"postfix check complained:\n{out}")

    # ------------------------------------------------------------------
    # processes

    def _start_dovecot(self) -> None:
        _run(["dovecot", "-c", str(self.dovecot_conf)], "start dovecot", self.log_tail)

    def _start_postfix(self) -> None:
        self._postfix("start")

    def _postfix(self, command: str) -> str:
        return _run(
            ["postfix", "-c", str(self.postfix_conf_dir), command],
            f"postfix {command}",
            self.log_tail,
        )

    def _stop_postfix(self) -> None:
        pid = _live_pid(self.postfix_pid_file, "master")
        if pid is None:
            return
        # Postfix's own stop, if our config is still there; else signal the
        # master directly (SIGTERM makes it stop its children too).
        if (self.postfix_conf_dir / "main.cf").exists():
            with contextlib.suppress(MailStackError):
                self._postfix("stop")
        _terminate(pid)

    def _stop_dovecot(self) -> None:
        pid = _live_pid(self.dovecot_pid_file, "dovecot")
        if pid is not None:
            # SIGTERM to the master is what `doveadm stop` does, minus its
            # one-second polling; the master then stops its children.
            _terminate(pid)

    def _acquire_lock(self, wait: bool) -> bool:
        """Take base_dir's lock (waiting up to lock_timeout if `wait`)."""
        if self._lock_file is not None:
            return True
        self.base_dir.mkdir(parents=True, exist_ok=True)
        lock_file = open(self.base_dir / "stack.lock", "a")  # noqa: SIM115 - held until stop()
        deadline = time.monotonic() + (self.lock_timeout if wait else 0)
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    lock_file.close()
                    if not wait:
                        return False
                    raise MailStackError(
                        f"another test session has held the mail stack in {self.base_dir} "
                        f"for over {self.lock_timeout}s"
                    ) from None
                time.sleep(0.5)
        self._lock_file = lock_file
        return True

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing drops the flock
            self._lock_file = None

    def _stop_daemons(self) -> None:
        self._stop_postfix()
        self._stop_dovecot()

    def _check_base_dir(self) -> None:
        # The daemons' unprivileged users must be able to walk down to the
        # queue and the LMTP socket (pytest's tmp_path parents are 0700), and
        # a unix socket path must fit in 108 bytes.
        for parent in self.base_dir.parents:
            if parent.exists() and not parent.stat().st_mode & 0o001:
                raise MailStackError(f"{parent} is not searchable by others: pick another base_dir")
        if len(os.fsencode(self.lmtp_socket)) > 100:
            raise MailStackError(f"{self.base_dir} is too long for a unix socket path")

    def _check_ports_free(self, patience: float = 10.0) -> None:
        # Patience: after a stop, a Postfix child that still holds an inherited listening
        # socket can take a moment to exit on a loaded machine.
        deadline = time.monotonic() + patience
        for port in (self.smtp_port, self.submission_port, self.imap_port):
            while True:
                with socket.socket() as sock:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        sock.bind((self.host, port))
                        break
                    except OSError as exc:
                        if time.monotonic() < deadline:
                            time.sleep(0.2)
                            continue
                        raise MailStackError(
                            f"{self.host}:{port} is taken by a process that is not from "
                            f"{self.base_dir} ({exc}); see `ss -ltnp sport = :{port}`"
                        ) from exc

    def _wait_for_greeting(self, port: int, prefix: bytes) -> None:
        deadline = time.monotonic() + self.start_timeout
        last_error: object = None
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, port), timeout=2) as sock:
                    greeting = sock.makefile("rb").readline()
                if greeting.startswith(prefix):
                    return
                last_error = greeting
            except OSError as exc:
                last_error = exc
            time.sleep(0.1)
        raise MailStackError(
            f"no {prefix!r} greeting on {self.host}:{port} within {self.start_timeout}s "
            f"(last: {last_error!r})\n{self.log_tail()}"
        )


# ----------------------------------------------------------------------
# module helpers


def _require_root() -> None:
    if os.geteuid() != 0:
        raise MailStackError("the mail stack needs root (postfix and dovecot start as root)")


def _ensure_mail_user() -> tuple[int, int]:
    """Create the system user that owns delivered mail, if it is missing."""
    try:
        pwd.getpwnam(POSTFIX_MAIL_OWNER)
        grp.getgrnam(POSTFIX_SETGID_GROUP)
    except KeyError as exc:
        raise MailStackError(f"{exc}: run tests/install-mailstack.sh first") from exc
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        useradd = "useradd --system --user-group --no-create-home --home-dir /nonexistent"
        _run([*useradd.split(), "--shell", "/usr/sbin/nologin", MAIL_USER], "useradd")
        entry = pwd.getpwnam(MAIL_USER)
    return entry.pw_uid, entry.pw_gid


def _run(argv: list[str], what: str, log_tail: Callable[[], str] | None = None) -> str:
    # Output goes through a temporary file, not a pipe: a daemon that forks
    # off keeps the inherited pipe open and we would wait for EOF forever.
    try:
        with tempfile.TemporaryFile(mode="w+") as out:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=60,
                check=False,
            )
            out.seek(0)
            output = out.read()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MailStackError(f"{what}: {exc}") from exc
    if proc.returncode != 0:
        logs = log_tail() if log_tail else ""
        raise MailStackError(f"{what} failed ({proc.returncode}): {output}\n{logs}")
    return output


def _live_pid(pid_file: Path, name: str) -> int | None:
    """The pid in `pid_file` if that process still runs and is `name`.

    Checking the command name guards against a recycled pid: we must never
    signal a process that is not ours.
    """
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    program = Path(cmdline.split(b"\0")[0].decode(errors="replace")).name
    return pid if program == name else None


def _terminate(pid: int, timeout: float = 10.0) -> None:
    """Stop a master process and wait until it and its children are gone.

    SIGTERM first (the master stops its own children), SIGKILL to the lot
    only if that did not work within `timeout`.
    """
    family = [pid, *_children(pid)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        targets = [pid] if sig == signal.SIGTERM else family
        for target in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(_alive(p) for p in family):
                return
            time.sleep(0.05)
    raise MailStackError(f"processes {family} survived SIGKILL")


def _stat_fields(pid: int | str) -> list[str]:
    """Fields of /proc/PID/stat after the command name: [state, ppid, ...]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _stat_fields(entry)[1:2] == [str(pid)]:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    state = _stat_fields(pid)[:1]
    return bool(state) and state != ["Z"]


@contextlib.contextmanager
def _logged_out(client: IMAPClient):
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.logout()


def _postfix_main_cf(stack: MailStack) -> dict[str, object]:
    blocked = "error:outbound mail disabled in tests"
    return {
        "compatibility_level": "3.6",
        # Our own instance: queue, data and log in base_dir, not /var.
        "queue_directory": stack.postfix_queue_dir,
        "data_directory": stack.postfix_data_dir,
        "mail_owner": POSTFIX_MAIL_OWNER,
        "setgid_group": POSTFIX_SETGID_GROUP,
        "maillog_file": stack.postfix_log,
        "maillog_file_prefixes": stack.log_dir,
        "myhostname": f"mx.{stack.domain}",
        "mydomain": stack.domain,
        "myorigin": stack.domain,
        "inet_interfaces": "loopback-only",
        "inet_protocols": "ipv4",
        "mynetworks": "127.0.0.0/8",
        # Nothing is local: every address we accept is in the virtual domain,
        # delivered over LMTP into Dovecot.
        "mydestination": "",
        "local_recipient_maps": "",
        "alias_maps": "",
        "alias_database": "",
        "virtual_mailbox_domains": stack.domain,
        "virtual_transport": f"lmtp:unix:{stack.lmtp_socket}",
        # Plus-addressing, as real servers do: collab+TOKEN@ reaches collab@'s INBOX.
        "recipient_delimiter": "+",
        # Mail must never leave the machine. Other domains are rejected at
        # RCPT ("Relay access denied"): even loopback clients may not relay.
        # Should anything reach the queue anyway (a bounce to an outside
        # sender), the error transport bounces it instead of sending it.
        "smtpd_relay_restrictions": "reject_unauth_destination",
        "relayhost": "",
        "relay_domains": "",
        "default_transport": blocked,
        "relay_transport": blocked,
        "local_transport": blocked,
        "smtputf8_enable": "yes",
        "message_size_limit": 50 * 1024 * 1024,
        "mailbox_size_limit": 0,
        "virtual_mailbox_limit": 0,
        # Loopback only: no DNS, no reverse lookups, no waiting.
        "smtpd_peername_lookup": "no",
        "disable_dns_lookups": "yes",
        "lmtp_host_lookup": "native",
        "smtpd_banner": "$myhostname ESMTP collabd test stack",
        "biff": "no",
        "append_dot_mydomain": "no",
    }


# chroot is "n" for every service: a chroot needs copies of /etc files and
# libraries under the queue directory, which Debian's init script would
# normally set up; we run without that script (and without systemd).
_POSTFIX_MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
{host}:{smtp_port} inet n - n - - smtpd
# Submission: only a client signed in through Dovecot's SASL may send (a password, or an
# OAuth 2.0 token by XOAUTH2/OAUTHBEARER, checked by Dovecot's oauth2 passdb), and still only
# to the test domain.
{host}:{submission_port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path={auth_socket}
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=reject_unauth_destination
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# Standalone: nothing from /etc/dovecot is included.
_DOVECOT_CONF = """\
protocols = imap lmtp
listen = {host}
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log}
instance_name = collabd-test

# Loopback tests: plaintext logins, no TLS.
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
# A refused sign-in is answered at once (the default waits 2 s): tests refuse on purpose.
auth_failure_delay = 0
# A bare "bob" logs in as bob@{domain}.
auth_default_realm = {domain}

# Any user of any domain exists, with the one test password; their mail
# belongs to the dedicated mail user and is created on first use.
first_valid_uid = {uid}
first_valid_gid = {gid}
passdb {{
  driver = static
  args = password={password}
  mechanisms = plain login
}}
# OAuth 2.0 bearer tokens, asked about at the tests' introspection endpoint.
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth2_conf}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail_dir}/%d/%n allow_all_users=yes
}}
mail_location = maildir:~/Maildir
# collab+TOKEN@{domain} is delivered to collab@{domain}'s INBOX (the reply tokens): no
# folder has a token's name, so the detail mailbox below falls back to INBOX. Only
# collab+journal@ has one: collabd creates "journal", and the journal copies of its sent
# mail are filed there, never in the INBOX it reads (daemon/service/journal.py).
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
namespace inbox {{
  inbox = yes
}}

service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# No growing delay after refused sign-ins from one address (the anvil "auth penalty", up to
# 15 s): every test signs in from 127.0.0.1, and some are refused on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  # Postfix's submission port asks Dovecot whether a SASL sign-in is good.
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
service lmtp {{
  # Postfix's lmtp client runs as user postfix.
  unix_listener lmtp {{
    mode = 0666
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@{domain}
}}
"""

# Dovecot's oauth2 passdb: RFC 7662 introspection by POST; the token is good when the answer
# says active = true, and names (username) the user who signs in.
_DOVECOT_OAUTH2_CONF = """\
introspection_mode = post
introspection_url = http://{host}:{port}/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""
