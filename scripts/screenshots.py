"""Screenshot every page of the built book with headless Chromium, for a visual check of the layout.

Usage (after ``make book``)::

    python scripts/screenshots.py                 # all pages in _toc.yml -> docs/screenshots/*.png
    python scripts/screenshots.py --height 4000   # taller captures

It serves ``_build/html`` on a local port and runs ``chromium --headless --screenshot`` once per
page (Debian: ``apt-get install chromium``; set CHROMIUM=/path/to/binary for another browser).

Offline caveat: MathJax and the ipywidgets manager load from CDNs. On a machine without internet
access the screenshots show raw TeX (``$\\Qjt$``) and no widgets; online readers see rendered math.
That is expected, not a bug in the book.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
OUT = ROOT / "docs" / "screenshots"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no access log
        pass


def pages() -> list[str]:
    """The book's pages in table-of-contents order (root first), as paths relative to _build/html."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return [f + ".html" for f in files]


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    sys.exit("no Chromium found: apt-get install chromium (or set CHROMIUM=/path/to/chrome)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2400)
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = ap.parse_args()
    if not (HTML / "index.html").exists():
        sys.exit(f"{HTML / 'index.html'} not found: run `make book` first")
    OUT.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = chromium()
    try:
        for page in pages():
            name = Path(page).stem
            png = OUT / f"{name}.png"
            with tempfile.TemporaryDirectory() as profile:
                cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                       "--disable-background-networking", "--disable-component-update", "--disable-sync",
                       "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={args.width},{args.height}",
                       "--virtual-time-budget=5000", f"--screenshot={png}",
                       f"http://127.0.0.1:{server.server_port}/{page}"]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
            print(f"{page} -> {png.relative_to(ROOT)}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
