"""Speed of the batched StarCraft simulator: lockstep vs per-battle restarts, against a baseline commit.

Run:  python benchmarks/starcraft_speed.py [--baseline REV] [--maps 3m,2s3z] [--batches 1,64] [--budget 1.5]
Writes benchmarks/results/starcraft_speed.md (with the default maps and batch sizes).

Torch runs on one thread (STARCRAFT_BENCH_THREADS to change): on a small, busy machine two
intra-op threads made small-batch steps 5-20x slower. Every cell takes random legal actions and
builds obs, state and availability masks every step, and counts only *running* battles:

- lockstep: a finished battle stays frozen until the whole batch has ended (then ``reset()``,
  whose time counts); frozen rows are not counted, though they still cost work.
- autoreset: ``autoreset=True``, a finished battle restarts at once, so all B rows always run.
- baseline: lockstep on the code of commit ``--baseline`` (default: the commit before per-battle
  restarts), exported with ``git archive`` and timed in a subprocess in alternation with ours.

Optional columns from external simulators (SMAClite, JaxMARL's SMAX: measured the same way in
their own venvs, outside this project's dependencies) are read from
``benchmarks/results/reference_speed.json`` if it exists: {"smax": {"3m": {"256": steps_per_s}}, ...}.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAPS = ("3m", "8m", "2s3z", "3s5z", "MMM2", "27m_vs_30m")
BATCHES = (1, 64, 256, 1024)
BASELINE = "9005c06"
"""The last commit before per-battle restarts and the column-wise observations."""
REFERENCE = os.path.join(HERE, "results", "reference_speed.json")


def time_cell(scenario: str, batch: int, mode: str, budget_s: float) -> float:
    """Running battle-steps per second of one (map, B, mode), best of two windows of ``budget_s``."""
    import torch

    from qtran_lib.envs.starcraft import StarCraftEnv, random_actions

    kw = {"autoreset": True} if mode == "autoreset" else {}
    env = StarCraftEnv(scenario, batch_size=batch, seed=0, random_start=True, **kw)
    env.reset()
    gen = torch.Generator().manual_seed(0)

    def one_step() -> int:
        if not bool(env.active.any()):
            env.reset()
        running = int(env.active.sum())
        env.step(random_actions(env.get_avail_actions(), gen))
        env.get_obs(), env.get_state(), env.get_avail_actions()
        return running

    best = 0.0
    with torch.no_grad():
        for _ in range(3):
            one_step()
        for _ in range(2):
            steps, n, start = 0, 0, time.perf_counter()
            while n < 3 or (time.perf_counter() - start < budget_s and n < 2000):
                steps += one_step()
                n += 1
            best = max(best, steps / (time.perf_counter() - start))
    return best


def worker(cells: list, budget_s: float) -> None:
    """Subprocess entry: time the given cells with whatever ``qtran_lib`` is first on sys.path; print JSON."""
    import torch

    torch.set_num_threads(int(os.environ.get("STARCRAFT_BENCH_THREADS", "1")))
    print(json.dumps([time_cell(m, b, mode, budget_s) for m, b, mode in cells]), flush=True)


def run_cells(cells: list, budget_s: float, tree: str) -> list[float]:
    """Time ``cells`` in a fresh interpreter whose ``qtran_lib`` comes from ``tree``."""
    env = {**os.environ, "PYTHONPATH": tree, "OMP_NUM_THREADS": os.environ.get("STARCRAFT_BENCH_THREADS", "1")}
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(cells),
                          "--budget", str(budget_s)], cwd=tree, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_tree(rev: str, dest: str) -> str:
    """``qtran_lib`` of commit ``rev`` unpacked under ``dest``."""
    data = subprocess.run(["git", "-C", ROOT, "archive", rev, "qtran_lib"], check=True, capture_output=True).stdout
    path = os.path.join(dest, "tree.tar")
    with open(path, "wb") as f:
        f.write(data)
    with tarfile.open(path) as tar:
        tar.extractall(dest, filter="data")
    return dest


def machine() -> str:
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    load = f", load average {os.getloadavg()[0]:.1f} while measuring" if hasattr(os, "getloadavg") else ""
    threads = os.environ.get("STARCRAFT_BENCH_THREADS", "1")
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({threads} thread), "
            f"Python {platform.python_version()}{load}")


REFERENCE_SIMULATORS = ("smax", "smaclite")
"""Columns read from REFERENCE: {simulator: {map: {B: env steps per second}}}."""


def main(maps, batches, budget_s: float, baseline: str | None) -> str:
    refs = {}
    if os.path.exists(REFERENCE):
        with open(REFERENCE) as f:
            refs = json.load(f)
    refs = {k: v for k, v in refs.items() if k in REFERENCE_SIMULATORS}  # the file also holds notes
    sims = sorted(refs)
    head = "| map | B | baseline lockstep | lockstep | autoreset | autoreset / baseline |" + "".join(
        f" {s} | autoreset / {s} |" for s in sims)
    lines = ["# StarCraft simulator speed", "", f"Machine: {machine()}", "",
             "Env steps per second counting only running battles (random legal actions; obs, state and masks built "
             "every step; `random_start`; default config). *baseline*: lockstep on commit "
             f"`{baseline}` (before per-battle restarts), timed in a subprocess right after ours. *lockstep*: "
             "finished battles wait for the batch. *autoreset*: every battle restarts as soon as it ends. "
             "Each cell is the best of two windows of %.1f s." % budget_s, "",
             head, "|---|---|---|---|---|---|" + "---|---|" * len(sims)]
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = export_tree(baseline, tmp) if baseline else None
        for scenario in maps:
            for batch in batches:
                ours = run_cells([[scenario, batch, "lockstep"], [scenario, batch, "autoreset"]], budget_s, ROOT)
                base = run_cells([[scenario, batch, "lockstep"]], budget_s, old_tree)[0] if old_tree else float("nan")
                row = (f"| {scenario} | {batch} | {base:,.0f} | {ours[0]:,.0f} | {ours[1]:,.0f} | "
                       f"{ours[1] / base:.2f}x |")
                for s in sims:
                    ref = refs[s].get(scenario, {}).get(str(batch))
                    row += f" {ref:,.0f} | {ours[1] / ref:.2f}x |" if ref else " - | - |"
                print(row, flush=True)
                lines.append(row)
    lines += ["", "*smaclite*: SMAClite (one battle, C++ RVO2). *smax*: JaxMARL's SMAX on CPU, one thread, jit + vmap with "
              "100 steps per compiled call. Both come from `benchmarks/results/reference_speed.json` "
              "(`benchmarks/reference/`, throwaway venvs; the file says when and under what load each was measured).",
              "", "Regenerate: `python benchmarks/starcraft_speed.py` (about 5 minutes)"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--maps", default=",".join(MAPS))
    p.add_argument("--batches", default=",".join(map(str, BATCHES)))
    p.add_argument("--budget", type=float, default=1.0, help="seconds per timing window")
    p.add_argument("--baseline", default=BASELINE, help="git revision to time in lockstep ('' to skip)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(json.loads(a.worker), a.budget)
        sys.exit(0)
    sys.path.insert(0, ROOT)
    start = time.perf_counter()
    maps, batches = a.maps.split(","), [int(b) for b in a.batches.split(",")]
    table = main(maps, batches, a.budget, a.baseline or None)
    if tuple(maps) == MAPS and tuple(batches) == BATCHES:
        with open(os.path.join(HERE, "results", "starcraft_speed.md"), "w") as f:
            f.write(table)
    print(f"total {time.perf_counter() - start:.0f} s")
