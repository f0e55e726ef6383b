"""The demo's closing part runs on top of the demo's first steps and leaves an archive folder
a user can open."""

from __future__ import annotations

import openpyxl

from daemon.demo.run import Demo


def test_demo_ends_with_an_archive_folder(tmp_path, capsys):
    lines: list[str] = []
    demo = Demo(tmp_path, out=lines.append)
    demo.run()  # the closing part runs inside the tour, at its end
    (folder,) = (tmp_path / "archive").iterdir()
    printed = "\n".join(lines) + capsys.readouterr().out

    assert folder.name == "2026-11-产品V2.0版本研发协作"
    assert (
        (folder / "deliverables" / "1" / "需求文档V2.0.md")
        .read_text("utf-8")
        .startswith("# 需求文档 V2.0")
    )
    assert (folder / "deliverables" / "1" / "round-1" / "需求文档V2.0-初稿.md").exists()
    html = (folder / "record.html").read_text("utf-8")
    assert "缺少可选功能列表" in html and "每周五的进度同步会让问题提早暴露" in html
    assert "第2版 已发布" in html and "published" not in html  # the minutes' version, in words
    book = openpyxl.load_workbook(folder / "record.xlsx")
    verdicts = [r[5] for r in book["成果验收"].iter_rows(min_row=2, values_only=True)]
    # #6, done in the toolkit part, is not accepted yet
    assert verdicts == ["不通过", "通过", "待验收"]
    assert "请验收 #1 输出需求文档V2.0" in printed  # 张伟's request, shown in the demo
    assert "#1 验收不通过：输出需求文档V2.0" in printed and "[reply] #1 accepted" in printed
    assert "#3：本协作已归档，记录不再变更" in printed
    assert "still has open work" in printed and "--force" in printed  # refused, then forced
    assert f"Open the archive: {folder / 'record.html'}" in printed
    assert (tmp_path / "跟进台账.xlsx").exists()
