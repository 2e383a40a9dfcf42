"""Screenshot a ``capacity.html`` or ``report.html`` with a headless browser (Playwright driving the system chromium).

    .venv/bin/python tools/capacity_screenshot.py RUN_DIR/capacity.html docs/img/capacity.png
    .venv/bin/python tools/capacity_screenshot.py RUN_DIR/report.html docs/img/report-top.png --top 520

Used for the pictures in docs/capacity.md and docs/reports.md (``--top HEIGHT``: only the top of
the page, its headline). ``OSIRIS_CHROMIUM`` names another chromium binary.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


def chromium() -> str | None:
    for candidate in (os.environ.get("OSIRIS_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1150)
    parser.add_argument("--top", type=int, metavar="HEIGHT", help="only the top HEIGHT pixels (default: all)")
    args = parser.parse_args(argv)
    binary = chromium()
    if binary is None:
        print("no chromium found: install it or set OSIRIS_CHROMIUM", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.top or 900})
        page.goto(args.html.resolve().as_uri())
        args.png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.png), full_page=args.top is None)
        browser.close()
    print(f"Wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
