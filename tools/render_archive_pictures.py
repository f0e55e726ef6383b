"""Regenerate the pictures of an archive for the docs (docs/images/archive-*.png).

Runs the demo (with its closing part) in a temporary directory, then renders
  * record.html with headless Chromium (Debian package `chromium`), and
  * record.xlsx with LibreOffice (`libreoffice --headless --convert-to pdf`, Debian
    `libreoffice-calc-nogui`) and poppler's `pdftoppm`, one picture per sheet asked for.
Fonts: `fonts-noto-cjk`. Not part of the test suite:

    .venv/bin/python tools/render_archive_pictures.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"
sys.path.insert(0, str(REPO))

from daemon.demo.archive import show  # noqa: E402
from daemon.demo.run import Demo  # noqa: E402

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
DPI = 160
SHEETS = {"协作概况": "overview", "行动项": "items", "成果验收": "acceptance"}


def run(command: list[str], **kwargs) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=180, **kwargs)


def render_html(record: Path, target: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs Chromium: apt-get install chromium fonts-noto-cjk")
    with tempfile.TemporaryDirectory() as profile:
        run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--window-size=1360,1900",
                f"--screenshot={target}",
                record.as_uri(),
            ]
        )


def render_xlsx(workbook: Path, work: Path) -> list[Path]:
    """One PNG per sheet in SHEETS: each sheet alone in a copy, converted to PDF."""
    import openpyxl

    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None or shutil.which("pdftoppm") is None:
        raise SystemExit("needs libreoffice-calc-nogui and poppler-utils")
    made = []
    for sheet, slug in SHEETS.items():
        book = openpyxl.load_workbook(workbook)
        for name in book.sheetnames:
            if name != sheet:
                del book[name]
        single = work / f"{slug}.xlsx"
        book.save(single)
        run(
            [office, "--headless", "--convert-to", "pdf", "--outdir", str(work), str(single)],
            env={"HOME": str(work), "PATH": "/usr/bin:/bin"},
        )
        pdf = work / f"{slug}.pdf"
        x, y, w, h = _content_box(pdf, work / slug)
        target = IMAGES / f"archive-xlsx-{slug}"
        crop = ["-x", str(x), "-y", str(y), "-W", str(w), "-H", str(h)]
        page = ["-r", str(DPI), "-f", "1", "-l", "1", "-singlefile"]
        run(["pdftoppm", "-png", *page, *crop, str(pdf), str(target)])
        made.append(target.with_suffix(".png"))
    return made


def _content_box(pdf: Path, stem: Path, margin: int = 12) -> tuple[int, int, int, int]:
    """The printed page is mostly paper: find where the table is (a raw PPM is easy to read
    without an imaging library) and crop the picture to it."""
    run(["pdftoppm", "-r", str(DPI), "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)])
    data = stem.with_suffix(".ppm").read_bytes()
    magic, width, height, _maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P6", magic
    width, height = int(width), int(height)
    stride = width * 3
    rows = [i for i in range(height) if pixels[i * stride : (i + 1) * stride].count(255) < stride]
    columns = [
        x
        for x in range(0, width, 2)
        if any(
            pixels[(y * width + x) * 3 : (y * width + x) * 3 + 3] != b"\xff\xff\xff"
            for y in range(rows[0], rows[-1] + 1, 3)
        )
    ]
    left, right = max(columns[0] - margin, 0), min(columns[-1] + margin, width)
    top, bottom = max(rows[0] - margin, 0), min(rows[-1] + margin, height)
    return left, top, right - left, bottom - top


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="collabd-pictures-") as temp:
        directory = Path(temp) / "demo"
        directory.mkdir()
        demo = Demo(directory, out=lambda *_: None)
        demo.run()
        show(demo)
        (folder,) = (directory / "archive").iterdir()
        html_png = IMAGES / "archive-record-html.png"
        render_html(folder / "record.html", html_png)
        made = [html_png, *render_xlsx(folder / "record.xlsx", Path(temp))]
    for path in made:
        print(path.relative_to(REPO))


if __name__ == "__main__":
    main()
