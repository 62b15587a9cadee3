"""Write book/status.md: each chapter's run time under nbval, with the machine and the torch version.

Usage (from the repository root, with the project's virtual environment)::

    nice .venv/bin/python scripts/chapter_status.py                 # every numbered chapter
    nice .venv/bin/python scripts/chapter_status.py book/04_qtran.ipynb book/07_after_qtran.ipynb   # check only

For each chapter it runs ``python -m pytest --nbval -q <chapter>`` in a fresh process (the reader's
check, stored outputs compared), records the wall time and whether it passed, and then writes
book/status.md with the date, the CPU model, the number of cores, the Python and torch versions and
torch's CPU capability. Named chapters are only timed and printed: the page lists every chapter measured in one
run, so only a run over all of them rewrites it. Run it on an otherwise idle machine: the times are wall-clock times.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "status.md"
DEFAULT = sorted(p for p in (ROOT / "book").glob("0[1-9]_*.ipynb"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torch_info() -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__); "
                          "print(torch.backends.cpu.get_cpu_capability())"],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1]


def run_chapter(path: Path) -> tuple[float, str, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-q", "-p", "no:cacheprovider", str(path)],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "no output"
    summary = re.sub(r"\s+in [\d.]+s.*$", "", summary.strip("= "))
    return wall, ("passed" if proc.returncode == 0 else "FAILED"), summary


def load_note(load: float) -> str:
    """Say how busy the machine was when the timing started (1-minute load average)."""
    busy = load > 0.5 * (os.cpu_count() or 1)
    return (f"load average {load:.1f} at the start: other jobs shared the cores, so the times are upper bounds"
            if busy else f"load average {load:.1f} at the start: otherwise idle")


def title(path: Path) -> str:
    import json

    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chapters", nargs="*", type=Path, default=DEFAULT)
    args = ap.parse_args()
    version, capability = torch_info()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for path in args.chapters:
        path = path.resolve()
        wall, verdict, summary = run_chapter(path)
        print(f"{path.name}: {verdict} in {wall:.0f} s ({summary})", flush=True)
        cells = re.search(r"(\d+) passed", summary)
        detail = f"{cells.group(1)} cells" if verdict == "passed" and cells else summary
        rows.append(f"| [{title(path)}]({path.name}) | {wall:.0f} s | {verdict} | {detail} |")
    if sorted(p.resolve() for p in args.chapters) != DEFAULT:
        print(f"not all chapters were run: {PAGE.relative_to(ROOT)} left as it is")
        return
    env = os.environ.get("ATEN_CPU_CAPABILITY")
    PAGE.write_text(f"""# Status

How long each chapter takes to run under nbval (`pytest --nbval book/<chapter>.ipynb`: every cell re-run, the
stored outputs compared), and on what. Chapters that train load their long runs from committed results, so
these times are what a reader waits for, not what the experiments cost.

| chapter | wall time | nbval | checked |
|---|---|---|---|
{chr(10).join(rows)}

Measured on {datetime.date.today().isoformat()}: {cpu_model()}, {os.cpu_count()} logical cores
({load_note(load)}), Python {platform.python_version()},
torch {version} (CPU capability `{env or capability}`), one chapter at a time.

This page is written by a script. To regenerate it on your machine, from the repository root:

```bash
nice .venv/bin/python scripts/chapter_status.py   # every chapter, or name the notebooks
```
""")
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
