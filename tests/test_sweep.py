"""Seed parsing and a tiny (algo x seed) sweep through the CLI with two worker processes."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qtran_lib.sweep import format_results, parse_seeds, run_sweep

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(env="gaussian_squeeze:n_agents=3", agent="mlp", obs_last_action=False, hidden_dim=16, qtran_embed_dim=16,
            t_max=256, batch_size_run=32, batch_size=32, buffer_size=64, test_interval=128, test_episodes=32,
            log_interval=128, device="cpu")


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("1-2,5") == [1, 2, 5]
    assert parse_seeds(3) == [3]
    for bad in ("", "a-b", "4-1", "1,1", "0-"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_run_sweep_in_process_writes_one_folder_per_cell(tmp_path):
    table = run_sweep(TINY, ["vdn", "qtran_base"], [0, 1], tmp_path, workers=1)
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [(r["algo"], r["seed"]) for r in rows] == [("qtran_base", "0"), ("qtran_base", "1"), ("vdn", "0"), ("vdn", "1")]
    assert all(r["status"] == "ok" and float(r["t_env"]) >= 256 for r in rows)
    for r in rows:
        assert (Path(r["run_dir"]) / "metrics.csv").exists()
    assert "| vdn | 1 |" in table


def test_failed_cell_is_reported_not_raised(tmp_path):
    from qtran_lib.sweep import _run_cell

    row = _run_cell(({**TINY, "algo": "vdn", "seed": 0, "env": "gaussian_squeeze:bogus"}, str(tmp_path / "x")))
    assert row["status"].startswith("error: ValueError")
    assert "error" in format_results([row])


def test_bad_sweep_arguments():
    with pytest.raises(ValueError):
        run_sweep(TINY, [], [0], "unused")
    with pytest.raises(ValueError, match="unknown algorithm"):
        run_sweep(TINY, ["nope"], [0], "unused")


def test_cli_sweep_with_two_workers(tmp_path):
    out = tmp_path / "sweep"
    overrides = [f"{k}={v}" for k, v in TINY.items() if k != "env"]
    proc = subprocess.run([sys.executable, "-m", "qtran_lib", "sweep", "--algos", "vdn,qmix", "--env", TINY["env"],
                           "--seeds", "0-1", "--workers", "2", "--out", str(out), *overrides],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 4 and {r["algo"] for r in rows} == {"vdn", "qmix"}
    assert all(r["status"] == "ok" for r in rows)
    assert (out / "qmix" / "seed_1" / "metrics.csv").exists()


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has finished
    except FileNotFoundError:
        return False


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids.update(int(k) for k in (task / "children").read_text().split())
    return kids


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads worker pids from Linux /proc")
def test_sigterm_to_the_sweep_stops_its_workers(tmp_path):
    import signal
    import time

    long_run = {**TINY, "t_max": 10_000_000}  # would take hours: only the signal can end it
    overrides = [f"{k}={v}" for k, v in long_run.items() if k != "env"]
    proc = subprocess.Popen([sys.executable, "-m", "qtran_lib", "sweep", "--algos", "vdn", "--env", TINY["env"],
                             "--seeds", "0-1", "--workers", "2", "--out", str(tmp_path / "sweep"), *overrides],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not all((tmp_path / "sweep" / "vdn" / f"seed_{s}" / "metrics.csv").exists() for s in (0, 1)):
            assert proc.poll() is None and time.time() < deadline, "the sweep did not start both runs"
            time.sleep(0.5)
        workers = _children(proc.pid)
        assert workers, "no worker processes found"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        time.sleep(1.0)
        alive = [w for w in workers if _running(w)]
        assert not alive, f"workers {alive} outlived the sweep"
    finally:
        if proc.poll() is None:
            proc.kill()


KILL_CELLS = dict(env="matrix:paper", agent="mlp", hidden_dim=8, qtran_embed_dim=8, t_max=32 * 400, max_updates=0,
                  full_batch=False, batch_size_run=32, batch_size=32, buffer_size=64, test_interval=32 * 200,
                  log_interval=32 * 100, test_episodes=32, device="cpu")


def _table(path: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("wall_time", "run_dir")} for r in csv.DictReader(open(path))]


def test_killed_sweep_reruns_to_the_uninterrupted_table(tmp_path):
    """SIGKILL a sweep after its first cell, mid-way through the second; the rerun skips the first (its files are
    untouched), resumes the second from its checkpoint and trains the rest: the table equals an uninterrupted sweep's."""
    import os
    import signal
    import time

    from qtran_lib.checkpoint import load_checkpoint
    from qtran_lib.config import load_yaml
    from qtran_lib.sweep import run_grid

    algos, seeds = ["vdn", "qtran_base"], [0, 1]
    killed = tmp_path / "killed"
    overrides = [f"{k}={v}" for k, v in KILL_CELLS.items() if k != "env"]
    proc = subprocess.Popen([sys.executable, "-m", "qtran_lib", "sweep", "--algos", ",".join(algos), "--env",
                             KILL_CELLS["env"], "--seeds", "0-1", "--workers", "1", "--out", str(killed), *overrides],
                            cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    second = killed / "vdn" / "seed_1"
    try:
        deadline = time.time() + 180
        while not ((killed / "results.csv").exists() and (second / "checkpoint.pt").exists()):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.time() < deadline, "the second cell never wrote a checkpoint"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = [(r["algo"], r["seed"]) for r in csv.DictReader(open(killed / "results.csv"))]
    assert done == [("vdn", "0")], done
    assert load_checkpoint(second)["counters"]["t_env"] < KILL_CELLS["t_max"], "the second cell was not partial"
    first = killed / "vdn" / "seed_0"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in first.iterdir()}

    cells = {**load_yaml("matrix"), **KILL_CELLS}  # what the CLI ran: the env's preset, then the overrides
    rerun = run_grid(cells, algos, seeds, killed, workers=1, log=lambda msg: None)
    actions = {(r["algo"], r["seed"]): r["action"] for r in rerun.rows}
    assert actions == {("vdn", 0): "skipped (finished)", ("vdn", 1): "resumed", ("qtran_base", 0): "trained",
                       ("qtran_base", 1): "trained"}
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in first.iterdir()} == before  # not retrained

    whole = run_grid(cells, algos, seeds, tmp_path / "whole", workers=1, log=lambda msg: None)
    assert not whole.failed and not rerun.failed
    assert _table(killed / "results.csv") == _table(tmp_path / "whole" / "results.csv")
    for algo in algos:
        for seed in seeds:
            a, b = (load_checkpoint(d / algo / f"seed_{seed}")["learner"]["agent"] for d in (killed, tmp_path / "whole"))
            assert all(torch.equal(a[k], b[k]) for k in a), f"{algo} seed {seed}: weights differ"
    again = run_grid(cells, algos, seeds, killed, workers=1, log=lambda msg: None)  # a third run trains nothing
    assert {r["action"] for r in again.rows} == {"skipped (finished)"}
    assert _table(killed / "results.csv") == _table(tmp_path / "whole" / "results.csv")


def test_ray_backend_gives_the_process_pool_table(tmp_path, monkeypatch):
    """Two cells as Ray tasks on a local Ray: the same results.csv as the process pool (skipped without ray)."""
    pytest.importorskip("ray")
    # Ray's memory monitor kills tasks when the *machine* is above 95 % memory, whoever uses it: on a CI machine shared
    # with training runs it killed these two small cells. The test checks the table, so the local Ray it starts runs
    # without the monitor (the kernel's OOM killer still guards the machine).
    monkeypatch.setenv("RAY_memory_monitor_refresh_ms", "0")
    from qtran_lib.config import load_yaml
    from qtran_lib.sweep import run_grid

    cells = {**load_yaml("matrix"), **KILL_CELLS, "t_max": 32 * 100}
    pool = run_grid(cells, ["vdn", "qtran_base"], [0], tmp_path / "pool", workers=2, log=lambda msg: None)
    ray_run = run_grid(cells, ["vdn", "qtran_base"], [0], tmp_path / "ray", workers=2, log=lambda msg: None,
                       backend="ray")
    assert not pool.failed and not ray_run.failed
    assert _table(tmp_path / "ray" / "results.csv") == _table(tmp_path / "pool" / "results.csv")
    assert (tmp_path / "ray" / "qtran_base" / "seed_0" / "checkpoint.pt").exists()
    again = run_grid(cells, ["vdn", "qtran_base"], [0], tmp_path / "ray", workers=2, log=lambda msg: None,
                     backend="ray")  # skip/resume works the same on Ray
    assert {r["action"] for r in again.rows} == {"skipped (finished)"}


def test_ray_backend_without_ray_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    from qtran_lib.config import load_yaml
    from qtran_lib.sweep import run_grid

    real = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"pip install 'qtran_lib\[ray\]'"):
        run_grid({**load_yaml("matrix"), "max_updates": 2}, ["vdn"], [0], tmp_path, workers=1, backend="ray")
    with pytest.raises(ValueError, match="unknown sweep backend 'dask'"):
        run_grid({**load_yaml("matrix"), "max_updates": 2}, ["vdn"], [0], tmp_path, workers=1, backend="dask")


def _square_or_die(x: int) -> int:
    """A job for imap_processes: 3 kills its own worker (as the OS's out-of-memory killer would), 5 raises."""
    import os
    import signal

    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 5:
        raise ValueError("five")
    return x * x


def test_a_killed_worker_is_reported_and_the_other_jobs_finish():
    """multiprocessing.Pool waits forever for the job of a worker the OS killed (a StarCraft grid hung that way after
    an out-of-memory kill); imap_processes reports that job, replaces the worker and finishes the others."""
    from qtran_lib.sweep import imap_processes

    out = list(imap_processes(_square_or_die, list(range(7)), 2, lost=lambda job, why: (job, why)))
    assert sorted(v for v in out if isinstance(v, int)) == [0, 1, 4, 16, 36]
    lost = dict(v for v in out if isinstance(v, tuple))
    assert set(lost) == {3, 5}
    assert "signal SIGKILL" in lost[3] and "out of memory" in lost[3] and lost[5] == "ValueError: five"
