"""The minutes part of the demo runs clean after the main demo and shows the whole record:
the request, the items, the verdicts, the correction."""

from __future__ import annotations

import email
import email.policy

from daemon.demo.run import Demo


def test_minutes_demo(tmp_path, capsys):
    lines: list[str] = []
    demo = Demo(tmp_path, out=lines.append)
    demo.run()  # the minutes part runs inside the tour, after the meeting part
    printed = capsys.readouterr().out  # what the real commands printed
    out = "\n".join(lines) + "\n" + printed
    assert "tick: minutes request: meeting 1 «V2.0 进度同步会» → chen.jing@example.com" in out
    assert "【行动项清单】" in out and "- 市场部 李娜（接受）" in out  # her Accept, from Outlook
    assert "applied 1, ignored 0, duplicates 0, failed 0, quarantined 0" in out
    assert "applied 2, ignored 0, duplicates 0, failed 0, quarantined 0" in out
    assert "v2-launch#5" in out and "v2-launch#7" in out  # after the collaboration's #1..#4
    assert "published minutes v2 of meeting 1 (V2.0 进度同步会): new items none, changed " in out
    # the table of the last `minutes show`: up to the first blank line after its heading
    final = printed.split("\nconfirmations\n")[-1].split("\n\n")[0].splitlines()
    (li_na,) = [line for line in final if "<li.na@example.com>" in line]
    assert li_na.split()[2:4] == ["confirmed", "carried"]  # not affected by the correction
    (wang,) = [line for line in final if "<wang.qiang@example.com>" in line]
    assert wang.split()[2] == "pending"  # he objected: asked again
    inbox = tmp_path / "maildir" / "wang.qiang@example.com" / "new"
    subjects = {
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]
        for p in inbox.iterdir()
    }
    assert "[协作 v2-launch] 会议纪要（更正第2版）请确认：V2.0 进度同步会" in subjects
