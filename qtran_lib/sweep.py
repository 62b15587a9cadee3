"""Run a grid of (algorithm x seed) training runs in parallel processes and tabulate the results.

Introduced in book/05_paper_experiments. Every cell gets its own run folder ``OUT/ALGO/seed_S``
(config.yaml, metrics.csv, checkpoint.pt) and one row in ``OUT/results.csv``. Workers are
separate ``spawn`` processes, each pinned to one intra-op thread, so a 2-core machine runs two
cells side by side without the threads fighting over cores.
"""
from __future__ import annotations

import csv
import multiprocessing as mp
import signal
import threading
import time
from pathlib import Path

RESULT_COLUMNS = ["algo", "seed", "env", "t_env", "episodes", "updates", "final_test_return", "final_test_std",
                  "best_test_return", "wall_time", "run_dir", "status"]


def parse_seeds(text: str | int) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"`` -> [0, 3, 7]; ``"1-2,5"`` -> [1, 2, 5]; ``3`` -> [3]."""
    if isinstance(text, int):
        return [text]
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        try:
            if dash:
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"cannot read seeds {text!r}: use a range like 0-4 or a list like 0,3,7") from None
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat in {text!r}")
    return seeds


def _run_cell(job: tuple[dict, str]) -> dict:
    """Train one cell in a worker process; never raises (a failure becomes a row with status=error)."""
    cfg_dict, out = job
    import torch

    torch.set_num_threads(1)
    from .train import train

    start = time.perf_counter()
    row = {"algo": cfg_dict["algo"], "seed": cfg_dict["seed"], "env": cfg_dict.get("env", ""), "run_dir": out}
    try:
        result = train(cfg_dict, out=out, progress=False)
    except Exception as e:  # report and keep the rest of the sweep going
        row.update(status=f"error: {type(e).__name__}: {e}", wall_time=round(time.perf_counter() - start, 2))
        return row
    tests = [m["test_return_mean"] for m in result.metrics if "test_return_mean" in m]
    final = result.final
    row.update(t_env=final.get("t_env"), episodes=final.get("episodes"), updates=final.get("updates"),
               final_test_return=final.get("test_return_mean"), final_test_std=final.get("test_return_std"),
               best_test_return=max(tests) if tests else None,
               wall_time=round(time.perf_counter() - start, 2), status="ok")
    return row


def write_results(path: str | Path, rows: list[dict]) -> None:
    path = Path(path)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in sorted(rows, key=lambda r: (str(r["algo"]), int(r["seed"]))):
            w.writerow({k: r.get(k, "") for k in RESULT_COLUMNS})
    tmp.replace(path)


def format_results(rows: list[dict]) -> str:
    """A markdown table of the sweep's rows."""
    lines = ["| algo | seed | final test return | best test return | wall time (s) | status |",
             "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (str(r["algo"]), int(r["seed"]))):
        f = r.get("final_test_return")
        b = r.get("best_test_return")
        lines.append(f"| {r['algo']} | {r['seed']} | {'' if f is None else f'{f:.4f}'} | "
                     f"{'' if b is None else f'{b:.4f}'} | {r.get('wall_time', '')} | {r.get('status', '')} |")
    return "\n".join(lines)


class _terminate_workers_on_sigterm:
    """Turn SIGTERM into SystemExit while the pool runs, so that leaving the ``with Pool`` block terminates the
    workers. Without it, ``kill PID`` (or ``pkill -f "qtran_lib sweep"``) stops only the parent, and the
    orphaned workers keep training and writing into the run folders."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():  # signal handlers live on the main thread only
            self.previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def run_sweep(base_cfg: dict, algos: list[str], seeds: list[int], out: str | Path, workers: int = 2) -> str:
    """Train every (algo, seed) cell of ``base_cfg`` and write ``out/results.csv``; returns a markdown table.

    ``workers`` processes run cells side by side (1: in this process, no multiprocessing).
    """
    from .config import make_config

    if not algos or not seeds:
        raise ValueError("a sweep needs at least one algorithm and one seed")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out = Path(out)
    jobs = []
    for algo in algos:
        for seed in seeds:
            cfg = make_config(base_cfg, algo=algo, seed=seed)  # validates every cell before any starts
            jobs.append((cfg.to_dict(), str(out / algo / f"seed_{seed}")))
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    if workers == 1:
        for job in jobs:
            rows.append(_run_cell(job))
            write_results(out / "results.csv", rows)
    else:
        ctx = mp.get_context("spawn")
        with _terminate_workers_on_sigterm(), ctx.Pool(min(workers, len(jobs))) as pool:
            for row in pool.imap_unordered(_run_cell, jobs):
                rows.append(row)
                write_results(out / "results.csv", rows)  # partial results survive an interrupted sweep
    failed = [r for r in rows if r["status"] != "ok"]
    table = format_results(rows)
    if failed:
        table += f"\n{len(failed)} of {len(rows)} runs failed; see the status column of {out / 'results.csv'}"
    return table
