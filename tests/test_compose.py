"""The bytes collabd puts on the wire, read back the way a mail client reads them: the email
package's parser with its strict policy, which raises on any defect it finds."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

from daemon.mail.compose import Attachment, CalendarPart, InlineImage, compose, header_line
from daemon.mail.render import RenderedMail

SUBJECT = (
    "[协作 v2] 您负责的行动项：#3 整理客户沟通话术，另附一段足够长的说明文字用来测试主题的折行"
)
TEXT = "王强，您好：\n\n#3 → 已完成 ✓\n\n—— collabd 协作助手（自动邮件）\n"
HTML = "<p>王强，您好：</p>\n<p>#3 → 已完成 ✓</p>\n"
REFERENCES = " ".join(f"<thread-{n}.0123456789abcdef@mail.example.com>" for n in range(12))
LONG_NAME = "2026年第四季度跨部门协作项目计划表（市场部、研发部、客服部联合修订版）最终确认稿.xlsx"


def read(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.strict)


def shape(message) -> list[str]:
    return [
        part.get_content_type()
        + (f" ({part.get_content_disposition()})" * bool(part["Content-Disposition"]))
        for part in message.walk()
    ]


def answer(**overrides) -> bytes:
    arguments = dict(
        sender_name="collabd 协作助手",
        sender_address="collab@example.com",
        to=[("王强", "wang.qiang@example.com"), ("Bob Smith", "bob@example.com")],
        message_id="<answer.1@example.com>",
        date=datetime(2026, 11, 21, 2, 0, tzinfo=UTC),
        kind="reply_answer",
        reply_to="collab+TOKEN@example.com",
        extra_headers={"In-Reply-To": "<reply.9@example.com>", "References": REFERENCES},
    )
    arguments.update(overrides)
    return compose(RenderedMail(SUBJECT, TEXT, HTML), **arguments)


def test_an_answer_reads_back_exactly_with_every_header_decoded():
    raw = answer()
    message = read(raw)
    assert shape(message) == ["multipart/alternative", "text/plain", "text/html"]
    assert message["Subject"] == SUBJECT
    assert message["From"].addresses[0].display_name == "collabd 协作助手"
    assert [a.display_name for a in message["To"].addresses] == ["王强", "Bob Smith"]
    assert message["Reply-To"].addresses[0].addr_spec == "collab+TOKEN@example.com"
    assert message["Message-ID"] == "<answer.1@example.com>"
    assert message["Date"].datetime == datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Collabd-Loop"] == "collab@example.com"
    assert message["X-Collabd-Kind"] == "reply_answer"
    assert message["MIME-Version"] == "1.0"
    # A long References header is folded at spaces and unfolds to the very same ids.
    assert message["References"].split() == REFERENCES.split()
    assert message.get_body(("plain",)).get_content() == TEXT
    assert message.get_body(("html",)).get_content() == HTML
    for part in message.walk():
        assert not part.defects, part.defects


def test_lines_are_crlf_and_short_and_the_same_mail_composes_to_the_same_bytes():
    raw = answer()
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare LF anywhere
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert raw == answer()  # boundaries come from the Message-ID, not from chance
    assert answer(message_id="<answer.2@example.com>") != raw


def test_invitation_with_files_and_a_picture_has_the_outlook_shape():
    ics = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    plan = bytes(range(256)) * 40
    raw = answer(
        calendar=CalendarPart(ics, "REQUEST"),
        attachments=[
            Attachment(LONG_NAME, plan),
            Attachment("minutes.pdf", b"%PDF-1.7"),
            InlineImage("gantt", "gantt.png", b"\x89PNG\r\n\x1a\n"),
        ],
    )
    message = read(raw)
    assert shape(message) == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png (inline)",
        "text/calendar",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet (attachment)",
        "application/pdf (attachment)",
    ]
    calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST" and calendar.get_content_charset() == "utf-8"
    assert calendar.get_payload(decode=True) == ics and calendar["Content-Disposition"] is None
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<gantt>" and image.get_filename() == "gantt.png"
    files = list(message.iter_attachments())
    assert [(f.get_filename(), f.get_content()) for f in files] == [
        (LONG_NAME, plan),
        ("minutes.pdf", b"%PDF-1.7"),
    ]
    # A long Chinese file name is continued over lines (RFC 2231) rather than one long line;
    # the only line over 78 is a content type that has no space to fold at.
    assert [line for line in raw.split(b"\r\n") if len(line) > 78] == [
        b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;"
    ]
    for part in message.walk():
        assert not part.defects, part.defects


def test_header_lines_fold_at_spaces_and_encode_what_is_not_ascii():
    assert header_line("In-Reply-To", "<a@b>") == "In-Reply-To: <a@b>\r\n"
    folded = header_line("References", REFERENCES)
    assert all(len(line) <= 78 for line in folded.split("\r\n"))
    assert folded.replace("\r\n ", " ") == f"References: {REFERENCES}\r\n"
    encoded = header_line("Subject", SUBJECT)
    assert encoded.isascii() and "=?utf-8?" in encoded
    assert str(email.header.make_header(email.header.decode_header(encoded[9:]))) == SUBJECT


def test_a_chinese_file_name_is_on_content_type_too_for_clients_that_read_only_name():
    # QQ Mail, Lotus Notes and Outlook over IMAP read `name=` on Content-Type (RFC 2047
    # inside the quotes, as Outlook and Thunderbird write it), not RFC 2231's filename*.
    raw = answer(
        attachments=[
            Attachment(LONG_NAME, b"plan"),
            Attachment("计划.txt", b"short"),
            Attachment("minutes.pdf", b"%PDF-1.7"),
            InlineImage("gantt", "甘特图.png", b"\x89PNG\r\n\x1a\n"),
        ]
    )
    message = read(raw)
    named = {
        part["Content-Type"].params.get("name"): part.get_filename()
        for part in message.walk()
        if part.get_content_maintype() != "multipart" and part["Content-Disposition"]
    }
    assert named == {
        LONG_NAME: LONG_NAME,
        "计划.txt": "计划.txt",
        "minutes.pdf": "minutes.pdf",
        "甘特图.png": "甘特图.png",
    }
    # The compat32 parser (what older code and clients do) sees the encoded words as written.
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    names = [p.get_param("name") for p in legacy.walk() if p.get_param("name")]
    decoded = [str(email.header.make_header(email.header.decode_header(n))) for n in names]
    assert decoded == ["甘特图.png", LONG_NAME, "计划.txt", "minutes.pdf"]
    assert all(len(line) <= 78 for line in raw.split(b"\r\n") if not line.endswith(b"sheet;"))
    for part in message.walk():
        assert not part.defects, part.defects


def test_a_file_name_reaches_the_reader_without_bidi_overrides_or_zero_widths():
    # Attacker re-run N3: `meeting schedule --attach` sent `报价\u202efdp.exe`, which a client
    # shows as "报价exe.pdf". Whatever the name came from, the mail carries what it looks like.
    raw = answer(
        attachments=[Attachment("报价\u202efdp.exe", b"MZ"), Attachment("a\u200bb.txt", b"x")]
    )
    names = [p.get_filename() for p in read(raw).walk() if p["Content-Disposition"]]
    assert names == ["报价fdp.exe", "ab.txt"]
