"""Wall time to convergence on the paper's matrix game, for every algorithm and two data protocols.

Protocols (same networks, optimiser and learning rate):
- full batch: every update sees each joint action once (the `matrix` preset; exact uniform exploration),
- sampled (baseline): every update sees 32 fresh uniformly random one-step episodes via the runner.

Converged at the first check (every 50 updates) from which, until the end of the budget, the greedy
joint action equals the final one and, for QTRAN, max |Q_jt - payoff| < 0.5. Run: `python benchmarks/matrix_game.py [--seeds 3]`.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from qtran_lib.analysis import q_tables
from qtran_lib.config import ALGORITHMS, load_yaml, make_config
from qtran_lib.envs import make_env
from qtran_lib.envs.matrix_game import joint_action_episodes
from qtran_lib.learners import make_learner
from qtran_lib.runner import run_episodes
from qtran_lib.train import set_learning_rate

CHECK_EVERY = 50


def time_to_converge(algo: str, protocol: str, seed: int, max_updates: int) -> dict:
    """Train for the whole budget, then find the first check from which the run never changes its mind."""
    cfg = make_config(load_yaml("matrix"), algo=algo, seed=seed, max_updates=max_updates)
    torch.manual_seed(seed)
    env = make_env("matrix:paper", batch_size=32, seed=seed)
    learner = make_learner(cfg, env.env_info())
    full = joint_action_episodes(env)
    gen = torch.Generator().manual_seed(seed + 1)
    history, train_time = [], 0.0
    for update in range(1, max_updates + 1):
        tic = time.perf_counter()
        batch = full if protocol == "full batch" else run_episodes(env, learner, 1.0, gen)[0]
        set_learning_rate(learner, cfg, 0)  # the preset's annealing over max_updates
        learner.train_step(batch)
        train_time += time.perf_counter() - tic
        if update % CHECK_EVERY == 0:  # q_tables is not counted as training time
            t = q_tables(learner, env)
            history.append((update, train_time, t.greedy_action, float((t.q_jt - t.payoff).abs().max())))
    final = history[-1][2]
    ok = [h[2] == final and (not algo.startswith("qtran") or h[3] < 0.5) for h in history]
    first = next((i for i in range(len(ok)) if all(ok[i:])), None)
    hit = history[first] if first is not None else None
    return {"updates": hit[0] if hit else None, "seconds": hit[1] if hit else None, "greedy": final,
            "fit": history[-1][3], "ms_per_update": 1000 * train_time / max_updates}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--max-updates", type=int, default=3000, help="the matrix preset's budget")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "matrix_game.md"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    letters = "ABC"
    lines = [
        "# Wall time to convergence on the paper's 3x3 matrix game",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread, "
        f"torch {torch.__version__}, Python {platform.python_version()}. Seeds 0..{args.seeds - 1}; mean over seeds "
        "of the first update from which the greedy action stays at its final value "
        "(QTRAN: and max |Q_jt - payoff| < 0.5) until the end of the budget. 'never' = not within the budget.",
        "",
        "| algorithm | protocol | converged seeds | updates | seconds | ms/update | greedy action | payoff "
        "| max abs(Q_jt - payoff) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    payoff = make_env("matrix:paper").payoff
    for algo in ALGORITHMS:
        for protocol in ("full batch", "sampled"):
            runs = [time_to_converge(algo, protocol, s, args.max_updates) for s in range(args.seeds)]
            ok = [r for r in runs if r["updates"] is not None]
            upd = f"{sum(r['updates'] for r in ok) / len(ok):.0f}" if ok else "never"
            sec = f"{sum(r['seconds'] for r in ok) / len(ok):.1f}" if ok else "never"
            ms = sum(r["ms_per_update"] for r in runs) / len(runs)
            greedy = sorted({"(" + ",".join(letters[a] for a in r["greedy"]) + ")" for r in runs})
            pay = sorted({float(payoff[r["greedy"]]) for r in runs})
            fit = max(r["fit"] for r in runs)
            line = (f"| {algo} | {protocol} | {len(ok)}/{len(runs)} | {upd} | {sec} | {ms:.2f} | {' '.join(greedy)} | "
                    f"{' '.join(f'{p:g}' for p in pay)} | {fit:.3f} |")
            print(line, flush=True)
            lines.append(line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
