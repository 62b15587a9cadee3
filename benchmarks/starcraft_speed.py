"""Speed of the batched StarCraft simulator against a per-battle Python/NumPy loop.

Run:  python benchmarks/starcraft_speed.py   (about a minute on 2 CPU cores)
Torch runs on one thread (STARCRAFT_BENCH_THREADS to change): on a small, busy machine two
intra-op threads made small-batch steps 5-20x slower.
Writes benchmarks/results/starcraft_speed.md.

Both sides take random legal actions and build obs, state and availability masks every
step. "env-steps/s" counts battle-steps (B per batched step; finished battles of a batch
stay frozen until the whole batch is done and still count, as in SMAX's benchmark);
"agent-steps/s" multiplies by the number of agents. The NumPy loop's speed does not depend
on B (it steps battles one after another), so it is timed on 4 battles x 40 steps, in
alternation with the batched env's timing windows, and its per-battle-step rate is the
baseline for every B.
"""
from __future__ import annotations

import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from starcraft_numpy_reference import run_loop  # noqa: E402

from qtran_lib.envs.starcraft import StarCraftEnv, random_actions  # noqa: E402

MAPS = ("3m", "MMM2")
BATCHES = (1, 64, 1024, 8192)


def time_pair(scenario: str, batch: int, device: str, budget_s: float = 1.5) -> tuple[float, float]:
    """(batched, NumPy loop) battle-steps per second, timed in alternating windows, best of two each,
    so both see the same background load on a shared machine."""
    env = StarCraftEnv(scenario, batch_size=batch, device=device, seed=0, random_start=True)
    env.reset()

    def one_step():
        if not bool(env.active.any()):
            env.reset()
        env.step(random_actions(env.get_avail_actions(), env.generator))
        env.get_obs()
        env.get_state()

    fast = slow = 0.0
    with torch.no_grad():
        for _ in range(3):
            one_step()
        for rep in range(2):
            if device == "cuda":
                torch.cuda.synchronize()
            steps, start = 0, time.perf_counter()
            while steps < 3 or (time.perf_counter() - start < budget_s and steps < 300):
                one_step()
                steps += 1
            if device == "cuda":
                torch.cuda.synchronize()
            fast = max(fast, batch * steps / (time.perf_counter() - start))
            slow = max(slow, time_numpy(scenario, seed=rep))
    return fast, slow


def time_numpy(scenario: str, battles: int = 4, steps: int = 40, seed: int = 0) -> float:
    """Battle-steps per second of the per-battle loop."""
    start = time.perf_counter()
    n = run_loop(scenario, battles, steps, seed=seed)
    return n / (time.perf_counter() - start)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    load = f", load average {os.getloadavg()[0]:.1f} while measuring" if hasattr(os, "getloadavg") else ""
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}{gpu}{load}")


def main() -> str:
    torch.set_num_threads(int(os.environ.get("STARCRAFT_BENCH_THREADS", "1")))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    lines = ["# StarCraft simulator speed", "", f"Machine: {machine()}", "",
             "Random legal actions; obs, state and masks built every step; default config "
             "(4 ticks of 2 game loops per step). NumPy loop: per-battle Python/NumPy implementation of the same "
             "rules (`benchmarks/starcraft_numpy_reference.py`), timed on 4 battles x 40 steps right next to each "
             "batched window; its rate does not "
             "depend on B. Both are timed twice in alternation (best of two each) so they see the same background load.", "",
             "| map | device | B | env-steps/s | agent-steps/s | ms per batched step | NumPy loop env-steps/s | speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for scenario in MAPS:
        n_agents = StarCraftEnv(scenario).n_agents
        for device in devices:
            for batch in BATCHES:
                rate, ref = time_pair(scenario, batch, device)
                row = (f"| {scenario} | {device} | {batch} | {rate:,.0f} | {rate * n_agents:,.0f} | "
                       f"{1000 * batch / rate:.2f} | {ref:,.0f} | {rate / ref:,.1f}x |")
                print(row, flush=True)
                lines.append(row)
    lines += ["", "Regenerate: `python benchmarks/starcraft_speed.py`"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    start = time.perf_counter()
    table = main()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "starcraft_speed.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(table)
    print(table)
    print(f"total {time.perf_counter() - start:.0f} s; wrote {out}")
