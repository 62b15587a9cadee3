"""Memory of writing and reading a checkpoint: the process's anonymous memory above the payload it saves or loads.

A StarCraft run's checkpoint holds its replay buffer (3.3 GB on MMM2), so every copy the checkpoint code makes is
that much more memory at each checkpoint and at each resume; two such copies on top of two training runs were
enough to get one of them killed by the kernel on a 24 GB machine. This times and measures, for payloads of
several sizes, ``qtran_lib.checkpoint`` (serialise to a temporary file, seal it through a memory map; read the
sealed payload through a memory map) against the in-memory baseline it replaced (serialise into ``io.BytesIO``,
seal that; read the file, copy the payload to ``bytes``, parse it from ``io.BytesIO``), in the same run.
Peaks are sampled from /proc/self/status (RssAnon) every 2 ms, so this runs on Linux only. Prints a markdown
table and writes benchmarks/results/checkpoint_memory.md.

    python benchmarks/checkpoint_memory.py [--sizes-mb 64,256,1024]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from qtran_lib.checkpoint import FORMAT, REQUIRED, load_checkpoint, save_checkpoint

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import machine  # noqa: E402  (the benchmarks' shared machine line)


def anon_mib() -> float:
    """Resident anonymous memory of this process (heap and anonymous maps, not file-backed pages)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def peak_above(fn) -> tuple[float, float, object]:
    """(peak anonymous MiB above the level at the call, seconds, fn's result), sampled every 2 ms."""
    base, peak, done = anon_mib(), [0.0], threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], anon_mib())
            time.sleep(0.002)

    watcher = threading.Thread(target=poll)
    watcher.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        seconds = time.perf_counter() - t0
        done.set()
        watcher.join()
    return max(peak[0], anon_mib()) - base, seconds, out


def baseline_save(payload: dict, path: Path) -> None:
    """The replaced writer: the serialised payload in memory, sealed from there (same file format)."""
    inner = io.BytesIO()
    torch.save(payload, inner)
    data = inner.getbuffer()
    outer = {"format": FORMAT, "sha256": hashlib.sha256(data).hexdigest(),
             "payload": torch.frombuffer(data, dtype=torch.uint8)}
    with open(path, "wb") as f:
        torch.save(outer, f)


def baseline_load(path: Path) -> dict:
    """The replaced reader: the whole file in memory, the payload copied to bytes, parsed from there."""
    outer = torch.load(path, map_location="cpu", weights_only=True)
    data = outer["payload"].numpy().tobytes()
    assert hashlib.sha256(data).hexdigest() == outer["sha256"]
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def measure(size_mb: int, folder: Path) -> list[dict]:
    payload = {k: 0 for k in REQUIRED}
    payload["buffer"] = torch.arange(size_mb * 2**18, dtype=torch.float32)  # size_mb MiB, like a replay buffer
    rows = []
    for name, save, load in (("in-memory baseline", baseline_save, baseline_load),
                             ("qtran_lib.checkpoint", save_checkpoint, load_checkpoint)):
        path = folder / f"{name.split()[0]}.pt"
        save_mib, save_s, _ = peak_above(lambda save=save, path=path: save(payload, path))
        load_mib, load_s, state = peak_above(lambda load=load, path=path: load(path))
        assert torch.equal(state["buffer"], payload["buffer"])
        del state
        path.unlink()
        rows.append({"size": size_mb, "code": name, "save_mib": save_mib, "save_s": save_s,
                     "load_mib": load_mib - size_mb, "load_s": load_s})  # a load must hold the payload once
    return rows


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes-mb", default="64,256,1024", help="comma-separated payload sizes in MiB")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "checkpoint_memory.md"))
    args = p.parse_args(argv)
    if not Path("/proc/self/status").exists():
        sys.exit("checkpoint_memory.py reads /proc/self/status: run it on Linux")
    try:
        sizes = [int(s) for s in args.sizes_mb.split(",")]
    except ValueError:
        sys.exit(f"--sizes-mb takes comma-separated whole MiB, e.g. 64,256; got {args.sizes_mb!r}")
    header = machine()
    with tempfile.TemporaryDirectory(dir=Path(args.out).parent) as folder:
        rows = [r for s in sizes for r in measure(s, Path(folder))]
    lines = ["# Checkpoint memory: anonymous memory above the payload, writing and reading", "",
             f"Machine: {header}. Memory does not depend on the load; times do (the disk writes dominate).", "",
             "Payload: one float32 tensor of the given size (a replay buffer) and the "
             "other required keys. Save: peak above the level before the call (the payload already in memory). Load: "
             "peak above the level before the call, minus the payload itself (the loaded state must hold it once). "
             "Files on the same local disk; seconds include the SHA-256 digest.", "",
             "| payload (MiB) | code | save: extra MiB | save s | load: extra MiB | load s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['code']} | {r['save_mib']:.0f} | {r['save_s']:.2f} | {r['load_mib']:.0f} | "
                     f"{r['load_s']:.2f} |")
    lines += ["", "Regenerate: `python benchmarks/checkpoint_memory.py`"]
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
