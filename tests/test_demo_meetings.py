"""The meetings part of `collabd demo`: scheduled from the CLI, accepted from Outlook."""

from __future__ import annotations

from daemon.demo.run import Demo


def test_demo_schedules_a_meeting_and_shows_the_accepted_rsvp(tmp_path, capsys):
    Demo(tmp_path, out=print).run()
    text = capsys.readouterr().out
    assert "meeting 1 scheduled: V2.0 进度同步会" in text
    assert "li.na@example.com needs_action → accepted" in text  # the REPLY was applied
    shown = text[text.rindex("$ collabd --at 2026-11-24T09:13 meeting show 1") :]
    rows = {line.split()[1]: line for line in shown.splitlines() if "@example.com " in line}
    li_na, wang_qiang = rows["li.na@example.com"], rows["wang.qiang@example.com"]
    assert "接受" in li_na and "accepted" not in li_na
    assert "未答复" in wang_qiang and "needs" not in wang_qiang


def test_demo_shows_a_weekly_outlook_series_registered_and_cancelled(tmp_path, capsys):
    Demo(tmp_path, out=print).run()
    text = capsys.readouterr().out
    assert "4 occurrence(s) registered" in text
    listed = text[text.index("$ collabd --at 2026-11-24T09:21 meeting list") :]
    listed = listed[: listed.index("The team settles")]
    assert [line.split()[1] for line in listed.splitlines() if "周例会" in line] == [
        "2026-12-02",
        "2026-12-09",
        "2026-12-16",
        "2026-12-23",
    ]
    after = text[text.index("$ collabd --at 2026-11-24T17:41 meeting list") :]
    after = after[: after.index("\n\n5. ")] if "\n\n5. " in after else after[:600]
    assert "周例会" not in after and "V2.0 进度同步会" in after
