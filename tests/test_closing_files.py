"""Which parts of a reply are deliverables, and what they may be called on disk."""

from __future__ import annotations

import hashlib
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from daemon.closing.files import attached_files, safe_filename, unique_name
from daemon.mail.reply import decode

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\li\\报告.docx", "报告.docx"),
        ("需求 文档:v1?.docx", "需求 文档_v1_.docx"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("...", "attachment-1.bin"),
        ("", "attachment-1.bin"),
        ("a\x00b\x1f.pdf", "a_b_.pdf"),
        (".hidden", "hidden"),
    ],
)
def test_file_names_are_made_safe(sent, kept):
    assert safe_filename(sent, "attachment-1.bin") == kept


def test_long_names_keep_their_extension_and_fit_a_filesystem():
    name = safe_filename("季度报告" * 100 + ".xlsx", "x")
    assert name.endswith(".xlsx") and len(name.encode("utf-8")) <= 150


def test_same_name_twice_gets_a_number():
    assert unique_name("报告.pdf", {"报告.pdf"}) == "报告-2.pdf"
    assert unique_name("报告.pdf", {"报告.pdf", "报告-2.pdf"}) == "报告-3.pdf"


def test_attachments_but_not_signature_pictures_or_the_text():
    mail = MIMEMultipart("mixed")
    body = MIMEMultipart("related")
    body.attach(MIMEText("<p>#1 完成</p><img src='cid:logo'>", "html", "utf-8"))
    logo = MIMEImage(PNG, "png")
    logo.add_header("Content-ID", "<logo>")
    logo.add_header("Content-Disposition", "inline", filename="image001.png")
    body.attach(logo)
    mail.attach(body)
    report = MIMEApplication(b"%PDF-1.7 report", "pdf")
    # Foxmail and older Outlook name files with RFC 2047 words in GB18030
    report.add_header("Content-Disposition", "attachment", filename="=?GB18030?B?sai45i5wZGY=?=")
    mail.attach(report)
    nameless = MIMEApplication(b"data")
    nameless.add_header("Content-Disposition", "attachment")
    mail.attach(nameless)

    found = attached_files(decode.load(mail.as_bytes()))
    assert [(f.filename, f.content) for f in found] == [
        ("报告.pdf", b"%PDF-1.7 report"),
        ("", b"data"),
    ]
    assert found[0].sha256 == hashlib.sha256(b"%PDF-1.7 report").hexdigest()
