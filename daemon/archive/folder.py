"""`collabd archive`: write a collaboration's folder `YYYY-MM-主题` (record.xlsx, record.html,
the deliverable files) and make the collaboration read-only.

The folder is written beside its final name and renamed into place, so a reader never sees
half an archive; archiving again rewrites it from the ledger (the ledger stays the source of
truth), but never over a folder collabd did not write.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib.resources import files as package_files
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import DataError
from ..ledger.collaborations import find_collaboration
from ..ledger.history import Origin, record_on
from ..mail.render import visible
from ..store.models import (
    AcceptanceRequest,
    Collaboration,
    CollabStatus,
    OutboxMessage,
    OutboxStatus,
)
from . import record as records
from .open_work import open_work
from .xlsx import fill_for, write_workbook

if TYPE_CHECKING:
    from ..app import App

MARKER = "record.xlsx"  # a folder holding this is one collabd wrote


@dataclass(frozen=True)
class ArchivedFile:
    number: int
    path: str  # relative to the archive folder
    size: int
    sha256: str

    @property
    def href(self) -> str:
        return quote(self.path)


class OpenWork(DataError):
    """Archiving would close a collaboration with work still open; --force does it anyway."""

    def __init__(self, collab: Collaboration, lines: list[str]) -> None:
        listed = "\n".join(f"  {line}" for line in lines)
        super().__init__(
            f"collaboration {collab.code} ({collab.theme}) still has open work; archiving "
            f"makes it read-only and stops every reminder:\n{listed}\n"
            "nothing was archived; finish these first, or run again with --force"
        )
        self.lines = lines


def write_archive(
    session: Session,
    app: App,
    code: str,
    out_dir: Path | None,
    origin: Origin,
    *,
    force: bool = False,
) -> Path:
    collab = find_collaboration(session, code)
    if collab.status is CollabStatus.ACTIVE and not force:
        lines = open_work(session, collab, app.clock.now())
        if lines:
            raise OpenWork(collab, lines)
    out_dir = (out_dir or app.settings.archive_root).expanduser()
    folder = out_dir / records.folder_name(collab, app)
    if folder.exists() and not (folder / MARKER).exists():
        raise DataError(
            f"{folder} exists and was not written by collabd (no {MARKER}); "
            "move it away or choose another --out"
        )
    now = app.clock.now()
    # A cancelled collaboration is archived as cancelled: its status says why it ended.
    if collab.status is CollabStatus.ACTIVE:
        collab.status = CollabStatus.ARCHIVED
        collab.archived_at = now
        record_on(
            session,
            origin,
            now,
            collab,
            action="archived",
            new=str(folder),
            note="archived with open work (--force)" if force else "",
        )
        _withdraw_pending(session, collab)
    why = "（协作已取消）" if collab.status is CollabStatus.CANCELLED else ""
    at = records.local(app, collab.archived_at)
    note = (
        f"{at:%Y-%m-%d %H:%M} 归档至“{folder.name}”{why}："
        "record.xlsx（表格）、record.html（网页）、deliverables/（成果文件）；"
        "归档后协作只读，不再接受更新"
    )
    data = records.build(session, app, collab, archive_note=note)
    staging = out_dir / f".{folder.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        copied = _copy_deliverables(session, app, collab, staging)
        write_workbook(data.sheets, staging / "record.xlsx", f"{collab.theme} 协作记录")
        (staging / "record.html").write_text(render_html(app, data, copied), encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    return folder


def _withdraw_pending(session: Session, collab: Collaboration) -> None:
    """Reminders, chases and invitations queued (e.g. held back by quiet hours) and not sent
    yet would reach people about a collaboration that is closed: they are withdrawn, and
    the outbox row says why."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.collaboration_id == collab.id,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.rule_id.is_not(None),
        )
        .values(
            status=OutboxStatus.CANCELLED, last_error="withdrawn: the collaboration was archived"
        )
        .execution_options(synchronize_session=False)
    )


# What a browser runs when record.html's link opens it from the archive folder (file:// has
# no Content-Disposition): a participant's `x.html` with a script (outside attack F13).
ACTIVE_SUFFIXES = frozenset(
    {".html", ".htm", ".xhtml", ".shtml", ".svg", ".svgz", ".xml", ".xsl", ".mht", ".mhtml"}
)


def inert_name(filename: str) -> str:
    """The name a delivered file is archived under: `报告.html` → `报告.html.txt`, which every
    browser shows as text; other names unchanged."""
    return filename + ".txt" if Path(filename).suffix.lower() in ACTIVE_SUFFIXES else filename


def _copy_deliverables(
    session: Session, app: App, collab: Collaboration, target: Path
) -> list[ArchivedFile]:
    """The latest round's files under deliverables/N/, earlier rounds under
    deliverables/N/round-R/; each checked against the sha256 the ledger recorded."""

    requests = session.scalars(
        select(AcceptanceRequest)
        .where(AcceptanceRequest.collaboration_id == collab.id)
        .order_by(AcceptanceRequest.item_id, AcceptanceRequest.round)
    ).all()
    latest = {}
    for request in requests:
        latest[request.item_id] = request.round
    copied = []
    for request in requests:
        number = request.item.number
        folder = f"deliverables/{number}"
        if request.round != latest[request.item_id]:
            folder += f"/round-{request.round}"
        for deliverable in request.deliverables:
            source = app.settings.data_dir / deliverable.path
            try:
                content = source.read_bytes()
            except OSError as exc:
                raise DataError(
                    f"deliverable #{number} {deliverable.filename}: cannot read {source}: "
                    f"{exc.strerror}"
                ) from None
            if hashlib.sha256(content).hexdigest() != deliverable.sha256:
                raise DataError(
                    f"deliverable #{number} {deliverable.filename}: {source} no longer matches "
                    f"the sha256 recorded when it arrived ({deliverable.sha256[:12]}…); "
                    "restore it before archiving"
                )
            relative = f"{folder}/{inert_name(deliverable.filename)}"
            (target / folder).mkdir(parents=True, exist_ok=True)
            (target / relative).write_bytes(content)
            copied.append(ArchivedFile(number, relative, len(content), deliverable.sha256))
    return copied


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(package_files("daemon.templates"))),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=visible,
    )


def show(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_html(app: App, data: records.Record, copied: list[ArchivedFile]) -> str:
    template = _environment().get_template("archive/record.html.j2")
    return template.render(
        record=data,
        files=copied,
        generated=show(records.local(app, data.generated_at)),
        fill=fill_for,
        show=show,
        local=lambda instant: records.local(app, instant),
    )
