"""Throughput of the episodic training stack: environment steps/s and gradient updates/s.

For B = 1, 8, 32, 128 parallel episodes of predator-prey (2 predators, 5x5, 100-step limit) this
times (a) collecting one batch of B episodes with epsilon-greedy recurrent agents (`run_episodes`)
and (b) one QTRAN-base gradient update on a batch of B stored episodes (`Learner.train_step`).
Prints a markdown table and writes benchmarks/results/train_throughput.md.

    OMP_NUM_THREADS=1 python benchmarks/train_throughput.py [--device cpu|cuda|all] [--seconds 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from qtran_lib import make_config, make_env
from qtran_lib.learners import make_learner
from qtran_lib.replay_buffer import EpisodeBuffer
from qtran_lib.runner import run_episodes

SIZES = (1, 8, 32, 128)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(batch: int, device: torch.device, algo: str, agent: str, seconds: float) -> dict:
    cfg = make_config(env="predator_prey", algo=algo, agent=agent, batch_size_run=batch, batch_size=batch,
                      buffer_size=max(batch, 32), device=str(device), seed=0)
    env = make_env(cfg.env, batch_size=batch, device=device, seed=0)
    learner = make_learner(cfg, env.env_info(), device)
    gen = torch.Generator(device=device).manual_seed(0)
    buffer = EpisodeBuffer(env.env_info(), cfg.buffer_size, device)
    data, _ = run_episodes(env, learner, 1.0, gen)  # warm-up
    buffer.insert(data)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        data, _ = run_episodes(env, learner, 1.0, gen)
        steps += int(data["filled"].sum())
    _sync(device)
    env_rate = steps / (time.perf_counter() - t0)
    sample_gen = torch.Generator().manual_seed(0)
    learner.train_step(buffer.sample(batch, sample_gen))  # warm-up
    updates, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        learner.train_step(buffer.sample(batch, sample_gen))
        updates += 1
    _sync(device)
    return {"B": batch, "device": device.type, "env_steps_per_s": env_rate,
            "updates_per_s": updates / (time.perf_counter() - t0),
            "transitions_per_update": int(buffer.sample(batch, sample_gen)["filled"].sum())}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} intra-op thread(s), GPU: {gpu}, 1-min load average at start {load:.1f}")


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="all", help="cpu, cuda or all (cpu, plus cuda when available)")
    p.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    p.add_argument("--algo", default="qtran_base")
    p.add_argument("--agent", default="rnn")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_throughput.md"))
    args = p.parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d != "cuda" or torch.cuda.is_available()]
    header = machine()
    rows = [measure(b, torch.device(d), args.algo, args.agent, args.seconds) for d in devices for b in SIZES]
    lines = [f"# Episodic training throughput ({args.algo}, {args.agent} agents, predator-prey 5x5, 100-step limit)", "",
             f"Machine: {header}.", "",
             "| device | B (parallel episodes) | env steps/s | gradient updates/s (batch of B episodes) "
             "| transitions per update |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['device']} | {r['B']} | {r['env_steps_per_s']:.0f} | {r['updates_per_s']:.2f} | "
                     f"{r['transitions_per_update']} |")
    lines += ["", "Regenerate: `OMP_NUM_THREADS=1 python benchmarks/train_throughput.py`"]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
