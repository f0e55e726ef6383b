"""What only the Graph calendar backend does (calendar.backend = "graph"), at the HTTP level.
The scenarios both Exchange backends share run once on each in
tests/test_calendar_exchange.py; here: the files go onto the event before anyone is
invited (Graph creates the event, then attaches, then adds the attendees), so a crash in
between is finished by the next try, and a file over 3 MB goes by upload session.

NO MICROSOFT 365 TENANT IS INVOLVED: collabd talks over TLS to tests/graph_server.py, a
loopback HTTPS server answering with bodies shaped like Microsoft's documented Graph
responses — a protocol-level fixture, not a live service.
"""

from __future__ import annotations

import base64

import pytest

from daemon.calendar import graph
from daemon.mail.transport import TemporaryFailure
from daemon.store.models import Meeting
from tests.test_calendar_exchange import GraphCalendar, add_meeting, file_row, make_app, send


@pytest.fixture
def calendar_app(tmp_path, db_url, graph_server):
    app = make_app(tmp_path, db_url, GraphCalendar(graph_server))
    yield app
    app.close()


def _send(app, meeting_id) -> tuple[str, str]:
    return send(app, graph, meeting_id)


def test_a_crash_before_the_invitations_is_finished_by_the_next_try(calendar_app, graph_server):
    tenant = graph_server.tenant
    meeting_id = add_meeting(calendar_app)
    tenant.fail_next(503, "/attachments", method="POST", retry_after=60)
    with pytest.raises(TemporaryFailure):
        _send(calendar_app, meeting_id)
    (event,) = tenant.events.values()
    assert event["attendees"] == [] and tenant.invitations == []  # nobody invited yet
    event_id, _ = _send(calendar_app, meeting_id)
    assert event_id == event["id"] and len(tenant.events) == 1
    (invitation,) = tenant.invitations
    assert invitation.attachments == ["背景材料.txt"] and len(invitation.attendees) == 3


def test_a_file_over_3_mb_goes_onto_the_event_by_upload_session(calendar_app, graph_server):
    # Graph refuses a file over 3 MB sent whole (it used to be a permanent failure here).
    tenant = graph_server.tenant
    big = bytes(range(256)) * (7 * 1024 * 1024 // 256 + 11)  # 7 MB and a bit: 3 chunks
    path = calendar_app.settings.data_dir / "meetings" / "演示录像.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(big)
    meeting_id = add_meeting(calendar_app)
    with calendar_app.db.transaction() as session:
        meeting = session.get(Meeting, meeting_id)
        meeting.attachments.append(file_row("演示录像.mp4", "video/mp4", big, "演示录像.mp4"))
    event_id, _ = _send(calendar_app, meeting_id)
    files = {a["name"]: a for a in tenant.attachments[event_id]}
    assert set(files) == {"背景材料.txt", "演示录像.mp4"}
    assert base64.b64decode(files["演示录像.mp4"]["contentBytes"]) == big
    assert [put["auth"] for put in tenant.upload_puts] == [None, None, None]
    assert tenant.upload_puts[0]["range"] == f"bytes 0-3276799/{len(big)}"
    (invitation,) = tenant.invitations  # one invitation round, and it carried both files
    assert sorted(invitation.attachments) == ["演示录像.mp4", "背景材料.txt"]
