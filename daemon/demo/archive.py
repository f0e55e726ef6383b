"""Demo part: closing the loop. 李娜 delivers a file with `#1 完成`, 张伟 rejects it, she
delivers again, he accepts; the coordinator closes the collaboration, 王强 answers the
retrospective, and `collabd archive` leaves a folder to open (record.html, record.xlsx, the
files). A reply after that is answered "archived" and changes nothing.

Runs after the demo's first steps (people, v2-launch, 李娜's first reply), on the same
simulated clock, with real `collabd` commands.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

from .tour import DEMO_ADDRESS, Guide

DRAFT = """# 需求文档 V2.0（初稿）

## 核心功能
1. 个性化首页
2. 批量导出
"""
FINAL = """# 需求文档 V2.0

## 核心功能
1. 个性化首页
2. 批量导出

## 可选功能
1. 个性化推荐（延后至 V2.1，已与重点客户沟通）
2. 深色模式
"""


def show(demo: Guide) -> None:
    root = demo.directory / "maildir"
    demo.section("Closing the loop: deliverables, acceptance, retrospective, archive")

    demo.out("\n李娜 replies `#1 完成` with the requirements attached:")
    _reply(
        root,
        "li.na@example.com",
        "李娜",
        "您负责的行动项",
        "#1 完成",
        1,
        {"需求文档V2.0-初稿.md": DRAFT},
    )
    demo.collabd("ingest", at="2026-12-10T10:00")
    demo.collabd("outbox", "send", at="2026-12-10T10:01")
    demo.out("\n张伟 (the initiator) receives the acceptance request, the file attached:")
    demo.show_latest("zhang.wei@example.com")

    demo.out("\n张伟 replies: 不通过：缺少可选功能列表")
    _reply(root, "zhang.wei@example.com", "张伟", "请验收 #1", "不通过：缺少可选功能列表", 2)
    demo.collabd("ingest", at="2026-12-10T15:00")
    demo.collabd("outbox", "send", at="2026-12-10T15:01")
    demo.out("\n李娜 is told why, and #1 is back in progress:")
    demo.show_latest("li.na@example.com")

    demo.out("\n李娜 answers that mail with the corrected file; 张伟 accepts it:")
    _reply(
        root, "li.na@example.com", "李娜", "验收不通过", "#1 完成", 3, {"需求文档V2.0.md": FINAL}
    )
    demo.collabd("ingest", at="2026-12-11T11:00")
    demo.collabd("outbox", "send", at="2026-12-11T11:01")
    _reply(root, "zhang.wei@example.com", "张伟", "请验收 #1", "通过，内容完整", 4)
    demo.collabd("ingest", at="2026-12-11T16:00")
    demo.collabd("outbox", "send", at="2026-12-11T16:01")
    demo.collabd("items", "show", "v2-launch#1", at="2026-12-11T16:05")

    demo.out("\nThe coordinator closes the collaboration: everyone is asked to look back.")
    demo.collabd("collab", "close", "v2-launch", at="2026-12-16T09:00")
    demo.collabd("outbox", "send", at="2026-12-16T09:01")
    _reply(
        root,
        "wang.qiang@example.com",
        "王强",
        "请复盘",
        "亮点：每周五的进度同步会让问题提早暴露\n不足：销售话术准备晚了一周\n"
        "改进建议：下次在启动会上就确认各部门需要的素材",
        5,
    )
    demo.collabd("ingest", at="2026-12-16T14:00")

    out = demo.directory / "archive"
    demo.out("\nArchiving with work still open is refused, and the open work is listed:")
    demo.collabd("archive", "v2-launch", "--out", str(out), at="2026-12-18T10:00", expect=65)
    demo.out("The coordinator decides to archive anyway:")
    demo.collabd("archive", "v2-launch", "--out", str(out), "--force", at="2026-12-18T10:00")
    demo.collabd(
        "export",
        "--format",
        "xlsx",
        "--out",
        str(demo.directory / "跟进台账.xlsx"),
        at="2026-12-18T10:00",
    )

    demo.out("\nA reply after archiving changes nothing, and says so:")
    _reply(root, "zhao.min@example.com", "赵敏", "您负责的行动项", "#3 完成", 6)
    demo.collabd("ingest", at="2026-12-18T11:00")
    demo.collabd("outbox", "send", at="2026-12-18T11:01")
    demo.show_latest("zhao.min@example.com")

    folder = next(out.iterdir())
    demo.out(f"\nOpen the archive: {folder / 'record.html'}")
    demo.out(f"                  {folder / 'record.xlsx'}")


def _reply(
    root: Path,
    sender: str,
    name: str,
    subject_part: str,
    typed: str,
    number: int,
    files: dict[str, str] | None = None,
) -> None:
    """Put `sender`'s reply to their newest mail about `subject_part` into collabd's inbox,
    as a mail client writes it: typed text on top, the original quoted below."""
    messages = [
        email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
        for m in mailbox.Maildir(root / sender, create=False)
    ]
    original = max(
        (m for m in messages if subject_part in str(m["Subject"])),
        key=lambda m: (m["Date"].datetime, str(m["Message-ID"])),
    )
    quoted = "\n".join(
        "> " + line for line in original.get_body(("plain",)).get_content().splitlines()
    )
    reply = EmailMessage()
    reply["From"] = formataddr((name, sender))
    reply["To"] = original["Reply-To"]
    reply["Subject"] = f"回复: {original['Subject']}"
    reply["Date"] = original["Date"]
    reply["Message-ID"] = f"<closing-demo-{number}@example.com>"
    reply["In-Reply-To"] = reply["References"] = original["Message-ID"]
    reply.set_content(f"{typed}\n\n{original['From']} 写道：\n{quoted}\n")
    for filename, text in (files or {}).items():
        reply.add_attachment(
            text.encode("utf-8"), maintype="text", subtype="markdown", filename=filename
        )
    mailbox.Maildir(root / DEMO_ADDRESS, create=True).add(reply.as_bytes())
