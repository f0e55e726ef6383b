"""Regenerate the pictures of collabd's main mails for the docs (docs/images/mail-*.png).

Runs the demo in a temporary directory, takes the HTML part of one real mail of each main
kind from its outbox (the bytes collabd sent, inline pictures put back in place of their
cid: links) and photographs it with headless Chromium at desktop width (1024 px) and at a
phone's (375 px). Needs Debian `chromium` and `fonts-noto-cjk`. Not part of the test suite:

    .venv/bin/python tools/render_mail_pictures.py
"""

from __future__ import annotations

import base64
import email
import email.policy
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The same Chromium, flags and folder as the archive's pictures.
from render_archive_pictures import CHROMIUM_FLAGS, IMAGES, REPO

from daemon.demo.gallery import demo_mails

# (kind, recipient, picture name, height at desktop width, height at phone width)
MAILS = [
    ("collab_kickoff", "li.na@example.com", "kickoff", 900, 1500),
    ("items_assigned", "li.na@example.com", "assignment", 700, 1200),
    ("reminder", "li.na@example.com", "reminder", 700, 1200),
    ("escalation", "zhang.wei@example.com", "escalation", 700, 1100),
    ("meeting_invite", "li.na@example.com", "invitation", 900, 1500),
    ("minutes_published", "li.na@example.com", "minutes-published", 1300, 2300),
    ("weekly_digest", "zhang.wei@example.com", "digest", 1500, 2000),
]
WIDTHS = {"desktop": 1024, "phone": 375}


def html_of(raw: bytes) -> str:
    """The HTML part as a mail client shows it: cid: pictures inlined as data: URIs."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    markup = message.get_body(("html",)).get_content()
    for part in message.walk():
        content_id = part["Content-ID"]
        if content_id and part.get_content_maintype() == "image":
            data = base64.b64encode(part.get_payload(decode=True)).decode("ascii")
            markup = markup.replace(
                f"cid:{content_id.strip('<>')}", f"data:{part.get_content_type()};base64,{data}"
            )
    # A phone's mail app fits the page to the screen, as this viewport line asks.
    return markup.replace(
        "<head>", '<head><meta name="viewport" content="width=device-width, initial-scale=1">', 1
    )


def shoot(browser: str, page: Path, target: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={target}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )


def main() -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs Chromium: apt-get install chromium fonts-noto-cjk")
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "demo"
        demo_mails(directory)
        ledger = sqlite3.connect(directory / "collabd.sqlite3")
        for kind, recipient, name, desktop, phone in MAILS:
            row = ledger.execute(
                "SELECT raw FROM outbox WHERE kind = ? AND recipients = ? ORDER BY id LIMIT 1",
                (kind, recipient),
            ).fetchone()
            if row is None:
                raise SystemExit(f"the demo sent no {kind} to {recipient}")
            page = Path(scratch) / f"{name}.html"
            page.write_text(html_of(row[0]), "utf-8")
            for label, height in (("desktop", desktop), ("phone", phone)):
                target = IMAGES / f"mail-{name}-{label}.png"
                shoot(browser, page, target, WIDTHS[label], height)
                print(f"wrote {target.relative_to(REPO)}")


if __name__ == "__main__":
    main()
