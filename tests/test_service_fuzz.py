"""Malformed mail, a few thousand of it, into the collabd mailbox while `collabd run`
watches: broken MIME, wrong and unknown charsets, huge parts, binary junk, header injection
attempts, some of it addressed with a valid reply token so it reaches the reply reader.
No crash: every mail ends up logged (ignored or applied) or quarantined and filed out of
the INBOX, and the daemon keeps serving (a good reply afterwards is applied and answered).
The mails are generated with hypothesis; one example of a few thousand mails."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service_harness import Daemon, Workload, _Login, running, wait_until, write_config

pytestmark = pytest.mark.slow

MAILS = 2000
FAST = {"claim_lease": "5s", "journal_grace": "3s", "send_every": "1s", "tick_every": "2s"}

HEADER_NAMES = [
    "From", "To", "Subject", "Message-ID", "In-Reply-To", "References", "Content-Type",
    "Content-Transfer-Encoding", "MIME-Version", "Date", "Reply-To", "Auto-Submitted",
    "X-Collabd-Loop", "Bcc",
]  # fmt: skip
CHARSETS = ["utf-8", "gbk", "gb2312", "big5", "x-unknown-charset", "utf-7", "", "utf-16", "'"]
CONTENT_TYPES = [
    "text/plain; charset={cs}",
    "text/html; charset={cs}",
    'multipart/mixed; boundary="{b}"',
    "multipart/alternative; boundary={b}",
    "multipart/mixed",  # no boundary at all
    "message/rfc822",
    "application/octet-stream",
    "text/calendar; method=REQUEST; charset={cs}",
    "text/plain; charset",
]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus"]
weird_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@st.composite
def header_value(draw) -> bytes:
    choice = draw(st.integers(0, 5))
    if choice == 0:  # header injection: a line break and a second header in the value
        return f"x\r\nBcc: victim@example.com\r\n{draw(weird_text)}".encode()
    if choice == 1:  # raw 8-bit bytes where only ASCII belongs
        return draw(st.binary(max_size=60)).replace(b"\r", b"").replace(b"\n", b"")
    if choice == 2:  # a broken encoded word
        return f"=?{draw(st.sampled_from(CHARSETS))}?B?{draw(weird_text)}?=".encode()
    return draw(weird_text).encode("utf-8", "surrogateescape").replace(b"\n", b" ")


@st.composite
def malformed_mail(draw, reply_address: str, owner: str, n: int) -> bytes:
    if draw(st.integers(0, 9)) == 0:  # pure junk, no headers at all
        return b"%d " % n + draw(st.binary(min_size=0, max_size=3000))
    lines = [b"X-Fuzz-Seq: %d" % n]
    if draw(st.booleans()):  # aim at the reply reader
        lines += [f"From: {owner}".encode(), f"To: {reply_address}".encode()]
    for _ in range(draw(st.integers(0, 8))):
        lines.append(draw(st.sampled_from(HEADER_NAMES)).encode() + b": " + draw(header_value()))
    charset = draw(st.sampled_from(CHARSETS))
    boundary = draw(st.sampled_from(["b1", "", "=_?", "b1" * 40]))
    content_type = draw(st.sampled_from(CONTENT_TYPES)).format(cs=charset, b=boundary)
    lines.append(b"Content-Type: " + content_type.encode())
    lines.append(b"Content-Transfer-Encoding: " + draw(st.sampled_from(ENCODINGS)).encode())
    body = draw(
        st.one_of(
            st.binary(max_size=2000),
            weird_text.map(
                lambda t: (
                    f"#1 完成\n{t}".encode(charset or "utf-8", "replace")
                    if charset in ("utf-8", "gbk", "big5")
                    else t.encode()
                )
            ),
            st.just(f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n#1 完成\r\n".encode()),
            st.just(f"--{boundary}\r\n" * 300 + b"no end"),
        )
    )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def extremes(n: int) -> list[bytes]:
    """Hand-made cases hypothesis will not reach in one example."""
    huge = b"A" * (8 * 1024 * 1024)
    return [
        b"Subject: huge\r\nMessage-ID: <huge-%d@fuzz>\r\n\r\n" % n + huge,
        b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
        + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 500,
        b"\x00\x01\x02binary junk\xff\xfe" * 1000,
        b"From: =?utf-8?q?=E4=B8=AD?= <a@b>\r\nSubject: =?gb2312?B?1tDOxA==?=\r\n\r\n\xd6\xd0",
    ]


@settings(
    max_examples=1,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_malformed_mail_never_stops_the_daemon(mailstack, tmp_path_factory, data):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp_path / 'collabd.sqlite3'}"
    work = Workload(mailstack, url, tmp_path / "data", owners=3, items=3)
    work.seed(tmp_path, notifications=0)
    good_reply = work.replies(1)  # kept for the end
    good_id = work.reply_ids.pop()
    token_address = work.app.tokens.reply_address(
        work.app.tokens.issue(work.person_ids[work.owner(0)], work.collab_id, work.app.clock.now())
    )
    mails = [
        data.draw(malformed_mail(token_address, work.owner(0), n), label=f"mail {n}")
        for n in range(MAILS)
    ] + extremes(MAILS)
    appended = 0
    with contextlib.closing(_Login(mailstack, work.address)) as login:
        for raw in mails:
            try:
                login.client.append("INBOX", raw)
                appended += 1
            except Exception:  # the IMAP server itself refused it: never reaches collabd
                pass
    assert appended >= MAILS * 0.9
    config = write_config(
        tmp_path / "collabd.toml", mailstack, url, tmp_path / "data", work.address, **FAST
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    with running(daemon):
        wait_until(lambda: work.collab_inbox_count() == 0, 240, "the INBOX emptied", every=1)
        assert daemon.alive()
        filed = folder_counts(mailstack, work.address)
        inbound = work.inbound()
        assert filed["collabd/quarantine"] == sum(1 for s in inbound.values() if s == "quarantined")
        assert filed["collabd/processed"] + filed["collabd/quarantine"] >= appended
        # Still serving: a good reply is applied and answered.
        work.append(good_reply)
        work.reply_ids.append(good_id)
        wait_until(lambda: work.replies_done(), 60, "the good reply applied")
        assert work.inbound()[work.reply_ids[0]] == "applied"
        code, _ = daemon.stop()
    assert code == 0
    log = daemon.log()
    assert "main loop failed" not in log and "stopped by an error" not in log
    assert all(len(line) < 20000 for line in log.splitlines())  # one event per line, bounded
    work.close()


def folder_counts(stack, address: str) -> dict[str, int]:
    with contextlib.closing(_Login(stack, address)) as login:
        counts = {}
        delimiter = (login.client.list_folders()[0][1] or b"/").decode()
        for folder in ("collabd/processed", "collabd/quarantine"):
            name = folder.replace("/", delimiter)
            counts[folder] = (
                login.client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
                if login.client.folder_exists(name)
                else 0
            )
        return counts
