"""Run a grid of (algorithm x seed) training runs in parallel processes and tabulate the results.

Introduced in book/05_paper_experiments. Every cell gets its own run folder ``OUT/ALGO/seed_S``
(config.yaml, metrics.csv, checkpoint.pt) and one row in ``OUT/results.csv``. Rerunning a sweep (after a
crash, a kill or Ctrl-C) skips the finished cells and resumes the partial ones from their checkpoints. Workers are
separate ``spawn`` processes, each pinned to one intra-op thread, so a 2-core machine runs two
cells side by side without the threads fighting over cores.
"""
from __future__ import annotations

import csv
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
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


# Fields a rerun may change without making a finished cell stale (t_max/max_updates: a longer budget resumes it).
RERUN_MAY_CHANGE = ("device", "tensorboard", "t_max", "max_updates")


def cell_plan(cfg_dict: dict, out: str | Path, overwrite: bool = False) -> tuple[str, dict | None]:
    """What a (re)run does with a cell's folder: ("new" | "restart" | "resume" | "done" | "stale", checkpoint).

    new: empty folder; restart: ``overwrite``, or run files without a readable checkpoint (killed before its
    first one: nothing to continue); resume: a checkpoint of this config short of its budget; done: a checkpoint
    of this config that reached it (the final checkpoint is written last, so it marks a finished cell); stale:
    a checkpoint of another config (refused: ``--overwrite`` retrains it).
    """
    from .checkpoint import CheckpointError, load_checkpoint
    from .train import run_files

    out = Path(out)
    if not run_files(out):
        return "new", None
    if overwrite or not (out / "checkpoint.pt").exists():
        return "restart", None
    try:
        ckpt = load_checkpoint(out)
    except CheckpointError:
        return "restart", None
    saved = ckpt["config"]
    diffs = [k for k in cfg_dict if k not in RERUN_MAY_CHANGE and saved.get(k) != cfg_dict[k]]
    if diffs:
        return "stale", {"diffs": {k: (saved.get(k), cfg_dict[k]) for k in diffs}}
    t_env, updates = int(ckpt["counters"]["t_env"]), int(ckpt["learner"]["n_updates"])
    t_max, max_updates = int(cfg_dict["t_max"]), int(cfg_dict["max_updates"])
    done = t_env >= t_max or 0 < max_updates <= updates
    return ("done" if done else "resume"), ckpt


def result_row(cfg_dict: dict, out: str, metrics: list[dict]) -> dict:
    """One results.csv row from a cell's metrics rows (the same for a fresh, resumed or skipped cell)."""
    tests = [m["test_return_mean"] for m in metrics if "test_return_mean" in m]
    final = metrics[-1] if metrics else {}
    return {"algo": cfg_dict["algo"], "seed": cfg_dict["seed"], "env": cfg_dict.get("env", ""), "run_dir": out,
            "t_env": final.get("t_env"), "episodes": final.get("episodes"), "updates": final.get("updates"),
            "final_test_return": final.get("test_return_mean"), "final_test_std": final.get("test_return_std"),
            "best_test_return": max(tests) if tests else None, "wall_time": final.get("wall_time"), "status": "ok"}


def _run_cell(job: tuple) -> dict:
    """Train one cell (in a worker process or in this one); never raises: a failure becomes a row with status=error.

    A finished cell is not retrained (its row comes from its checkpoint); a partial one continues from its
    checkpoint bit-exactly. The row's ``action`` says which happened (not written to results.csv).
    """
    cfg_dict, out = job[0], job[1]
    overwrite = bool(job[2]) if len(job) > 2 else False
    import torch

    torch.set_num_threads(1)
    from .train import train

    start = time.perf_counter()
    row = {"algo": cfg_dict["algo"], "seed": cfg_dict["seed"], "env": cfg_dict.get("env", ""), "run_dir": out}
    try:
        action, ckpt = cell_plan(cfg_dict, out, overwrite)
        if action == "done":
            return {**result_row(cfg_dict, out, ckpt["metrics"]), "action": "skipped (finished)"}
        if action == "stale":
            changed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in ckpt["diffs"].items())
            row.update(status=f"error: {out} holds a run of another config ({changed}); rerun with --overwrite to "
                              "retrain it, or sweep into another --out", action="refused")
            return row
        del ckpt
        result = train(cfg_dict, out=out, progress=False, resume=out if action == "resume" else None,
                       overwrite=action == "restart")
    except Exception as e:  # report and keep the rest of the sweep going
        row.update(status=f"error: {type(e).__name__}: {e}", wall_time=round(time.perf_counter() - start, 2),
                   action="failed")
        return row
    return {**result_row(cfg_dict, out, result.metrics), "action": {"resume": "resumed"}.get(action, "trained")}


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C reaches every process of the terminal's group; only the parent handles it (it
    terminates the workers), so the workers print no KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def write_results(path: str | Path, rows: list[dict]) -> None:
    """Write the table to a temporary file, fsync, rename: a reader or a kill never sees half a table."""
    path = Path(path)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in sorted(rows, key=lambda r: (str(r["algo"]), int(r["seed"]))):
            w.writerow({k: ("" if r.get(k) is None else r.get(k, "")) for k in RESULT_COLUMNS})
        f.flush()
        os.fsync(f.fileno())
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
    """Turn SIGTERM into SystemExit while the workers run, so that leaving ``imap_processes`` terminates them.
    Without it, ``kill PID`` (or ``pkill -f "qtran_lib sweep"``) stops only the parent, and the orphaned workers
    keep training and writing into the run folders."""

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


@dataclass
class SweepSummary:
    """What a sweep did: every cell's row (with its ``action``), the markdown table, and the failed rows."""

    rows: list[dict]
    table: str

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] != "ok"]

    @property
    def cells(self) -> int:
        return len(self.rows)


def run_grid(base_cfg: dict, algos: list[str], seeds: list[int], out: str | Path, workers: int = 2,
             overwrite: bool = False, log=None, backend: str = "process", backend_options: dict | None = None
             ) -> SweepSummary:
    """Train every (algo, seed) cell of ``base_cfg`` and write ``out/results.csv`` after each cell.

    Rerunning the same sweep skips finished cells and resumes partial ones from their checkpoints;
    ``overwrite`` retrains every cell. ``backend`` runs the cells: ``process`` in ``workers`` local processes
    (1: in this process), ``ray`` as Ray tasks (``backend_options``: ``address``, ``cpus_per_cell``,
    ``gpus_per_cell``). ``log`` (default: print to stderr) receives one line per cell.
    """
    from .config import make_config

    if not algos or not seeds:
        raise ValueError("a sweep needs at least one algorithm and one seed")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} names a file, not a folder; choose a folder for the sweep")
    jobs = []
    for algo in algos:
        for seed in seeds:
            cfg = make_config(base_cfg, algo=algo, seed=seed)  # validates every cell before any starts
            jobs.append((cfg.to_dict(), str(out / algo / f"seed_{seed}"), overwrite))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the sweep folder {out}: {e.strerror or e}; choose a writable --out") from None
    rows: list[dict] = []

    def record(row: dict) -> None:
        rows.append(row)
        write_results(out / "results.csv", rows)  # partial results survive an interrupted sweep
        log(f"{row['algo']} seed {row['seed']}: {row.get('action', '')}"
            + ("" if row["status"] == "ok" else f": {row['status']}"))

    if backend not in BACKENDS:
        raise ValueError(f"unknown sweep backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    BACKENDS[backend](jobs, workers, record, **(backend_options or {}))
    failed = [r for r in rows if r["status"] != "ok"]
    table = format_results(rows)
    if failed:
        table += f"\n{len(failed)} of {len(rows)} runs failed; see the status column of {out / 'results.csv'}"
    return SweepSummary(rows, table)


def run_in_processes(jobs: list[tuple], workers: int, record) -> None:
    """The ``process`` backend: cells in ``workers`` spawned processes (1: one after another in this process)."""
    if workers == 1:
        for job in jobs:
            record(_run_cell(job))
        return
    for row in imap_processes(_run_cell, jobs, workers, lost=_lost_cell_row, initializer=_ignore_sigint):
        record(row)


def _lost_cell_row(job: tuple, why: str) -> dict:
    cfg_dict, out, _ = job
    return {"algo": cfg_dict["algo"], "seed": cfg_dict["seed"], "env": cfg_dict["env"], "run_dir": out,
            "status": f"error: {why}; rerun the sweep to resume it from its last checkpoint"}


def _worker_loop(conn, fn, initializer) -> None:
    """A worker of ``imap_processes``: receive a job, send back ``fn(job)``, until it receives None."""
    if initializer is not None:
        initializer()
    while (job := conn.recv()) is not None:
        try:
            conn.send((True, fn(job)))
        except Exception as e:
            conn.send((False, f"{type(e).__name__}: {e}"))


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
        hint = " (killed by the OS: out of memory? see dmesg)" if -exitcode == signal.SIGKILL else ""
        return f"its worker process died from signal {name}{hint}"
    return f"its worker process exited with code {exitcode} without a result"


def imap_processes(fn, jobs: list, workers: int, lost, initializer=None):
    """Yield ``fn(job)`` for every job as each finishes, run in ``workers`` spawned worker processes.

    ``multiprocessing.Pool`` replaces a worker that dies (killed by the OS, say for memory) and waits forever for
    the job it held. Here every worker has its own pipe, so the parent knows which job a dead worker held: it yields
    ``lost(job, why)`` for it, starts a new worker for the remaining jobs, and goes on. An exception inside ``fn``
    also yields ``lost``. Leaving the generator early (an error, Ctrl-C, SIGTERM) terminates every worker.
    """
    ctx = mp.get_context("spawn")
    pending, busy = list(jobs), {}  # busy: parent's connection -> (process, job)

    def start():
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_worker_loop, args=(there, fn, initializer), daemon=True)
        proc.start()
        there.close()  # the worker's end lives in the worker only: its death makes ours readable (EOF)
        return here, proc

    def hand_out(conn, proc):
        job = pending.pop(0)
        conn.send(job)
        busy[conn] = (proc, job)

    with _terminate_workers_on_sigterm():
        try:
            for _ in range(min(workers, len(pending))):
                hand_out(*start())
            while busy:
                for conn in wait(list(busy)):
                    proc, job = busy.pop(conn)
                    try:
                        ok, value = conn.recv()
                    except (EOFError, ConnectionError):
                        conn.close()
                        proc.join()
                        yield lost(job, _death(proc.exitcode))
                        if pending:
                            hand_out(*start())
                        continue
                    yield value if ok else lost(job, value)
                    if pending:
                        hand_out(conn, proc)
                    else:
                        conn.send(None)
                        proc.join()
        finally:
            for proc, _ in busy.values():
                proc.terminate()
            for proc, _ in busy.values():
                proc.join()


def run_on_ray(jobs: list[tuple], workers: int, record, address: str | None = None, cpus_per_cell: float = 1.0,
               gpus_per_cell: float = 0.0) -> None:
    """The ``ray`` backend: one Ray task per cell, each reserving ``cpus_per_cell`` CPUs and ``gpus_per_cell`` GPUs.

    Without ``address`` a local Ray with ``workers`` CPUs is started for the sweep and shut down after it;
    with one (``auto`` or ``ray://host:10001``) the cells run on that cluster, whose nodes must see ``OUT`` at
    the same path (a shared file system), as the cells write their run folders there.
    """
    try:
        import ray
    except ImportError:
        raise ImportError("--backend ray needs Ray: pip install 'qtran_lib[ray]' (or pip install ray)") from None
    if cpus_per_cell <= 0 or gpus_per_cell < 0:
        raise ValueError(f"need cpus_per_cell > 0 and gpus_per_cell >= 0, got {cpus_per_cell} and {gpus_per_cell}")
    started = not ray.is_initialized()
    if started:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    task = ray.remote(num_cpus=cpus_per_cell, num_gpus=gpus_per_cell, max_retries=0)(_run_cell)
    pending = [task.remote(job) for job in jobs]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            record(ray.get(done[0]))
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


BACKENDS = {"process": run_in_processes, "ray": run_on_ray}
"""Sweep backend name -> ``runner(jobs, workers, record, **options)``: calls ``record(row)`` as each cell ends."""


def run_sweep(base_cfg: dict, algos: list[str], seeds: list[int], out: str | Path, workers: int = 2,
              overwrite: bool = False) -> str:
    """``run_grid`` returning only its markdown table (a failed cell is a row, never an exception)."""
    return run_grid(base_cfg, algos, seeds, out, workers, overwrite).table
