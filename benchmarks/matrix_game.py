"""Wall time to convergence on the paper's matrix game, for every algorithm and two data protocols.

Protocols (same networks, optimiser and learning rate):
- full batch: every update sees each joint action once (the `matrix` preset; exact uniform exploration),
- sampled (baseline): every update sees 32 fresh uniformly random one-step episodes via the runner.

Converged means: the greedy joint action has not changed over the last 500 updates, and for
QTRAN also max |Q_jt - payoff| < 0.5. Run: `python benchmarks/matrix_game.py [--seeds 3]`.
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

CHECK_EVERY = 50
STABLE = 500


def time_to_converge(algo: str, protocol: str, seed: int, max_updates: int) -> dict:
    cfg = make_config(load_yaml("matrix"), algo=algo, seed=seed)
    torch.manual_seed(seed)
    env = make_env("matrix:paper", batch_size=32, seed=seed)
    learner = make_learner(cfg, env.env_info())
    full = joint_action_episodes(env)
    gen = torch.Generator().manual_seed(seed + 1)
    history, start, elapsed = [], time.perf_counter(), 0.0
    for update in range(1, max_updates + 1):
        batch = full if protocol == "full batch" else run_episodes(env, learner, 1.0, gen)[0]
        learner.train_step(batch)
        if update % CHECK_EVERY == 0:
            elapsed = time.perf_counter() - start
            t = q_tables(learner, env)
            fit = float((t.q_jt - t.payoff).abs().max())
            history.append((update, elapsed, t.greedy_action, fit))
            start = time.perf_counter() - elapsed  # q_tables is not part of training time
            window = [h for h in history if h[0] > update - STABLE]
            if update >= STABLE and len({h[2] for h in window}) == 1:
                if not algo.startswith("qtran") or all(h[3] < 0.5 for h in window[-1:]):
                    first = window[0]
                    return {"updates": first[0], "seconds": first[1], "greedy": first[2], "fit": fit,
                            "ms_per_update": 1000 * elapsed / update}
    last = history[-1]
    return {"updates": None, "seconds": None, "greedy": last[2], "fit": last[3], "ms_per_update": 1000 * last[1] / last[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--max-updates", type=int, default=6000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "matrix_game.md"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    letters = "ABC"
    lines = [
        "# Wall time to convergence on the paper's 3x3 matrix game",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread, "
        f"torch {torch.__version__}, Python {platform.python_version()}. Seeds 0..{args.seeds - 1}; mean over seeds "
        f"of the first update after which the greedy action stays fixed for {STABLE} updates "
        "(QTRAN: and max |Q_jt - payoff| < 0.5). 'never' = not within the budget.",
        "",
        "| algorithm | protocol | converged seeds | updates | seconds | ms/update | greedy action | payoff | max abs(Q_jt - payoff) |",
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
