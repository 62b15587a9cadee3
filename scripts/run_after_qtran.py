"""Regenerate results/after_qtran/matrix/: QPLEX, CW-QMIX and OW-QMIX next to QTRAN-base on the 3x3 games.

Used by book/07_after_qtran; tests/test_after_qtran.py re-trains a few of its cells (marked slow).
Every cell is one ``train`` run of the ``matrix`` preset (the paper's uniform full-batch protocol) with
3000 updates, as QTRAN's 10-seed result in tests/test_reproduction.py, plus the method's own settings
from ``METHODS``: ``qplex_authors`` is QPLEX (``--algo qplex``) with the authors' matrix-game setting.
The run's value tables (payoff, Q_i, Q_tot, and for weighted QMIX the central critic Q^*) go to
``tables.json``; one row per run to ``results.csv``, whose ``algo`` column holds the method's name.

    python scripts/run_after_qtran.py --algos qplex,cw_qmix,ow_qmix,qplex_authors --seeds 0-9  # the committed grid
    python scripts/run_after_qtran.py --algos qtran_base --seeds 0                # QTRAN-base's tables, for comparison
    python scripts/run_after_qtran.py --seeds 10-14 --out /tmp/check    # more seeds, not committed
    ATEN_CPU_CAPABILITY=default python scripts/run_after_qtran.py --out /tmp/check_default

New cells are merged into the results already in ``--out``. ``--workers`` processes train the cells in
parallel (2 by default), one thread each.
"""
from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "results" / "after_qtran" / "matrix"
ALGOS = ("qplex", "qplex_authors", "cw_qmix", "ow_qmix", "qtran_base")
# method -> (the algorithm trained, its overrides of the matrix preset); a method absent here is its algorithm as is.
METHODS = {
    # QPLEX with the authors' matrix-game setting (github:wjh720/QPLEX, pymarl-master/src/config/algs/qplex.yaml,
    # default.yaml and README): 10 attention heads with two hidden layers per extractor (adv_hypernet_layers 3),
    # RMSprop at a constant lr 5e-4, minibatches of 32 episodes from a 5000-episode buffer of uniform exploration
    # (32 new episodes per update), target copies every 200 updates.
    "qplex_authors": ("qplex", {"qplex_heads": 10, "qplex_attention_layers": 2, "optimizer": "rmsprop",
                                "lr_final_fraction": 1.0, "full_batch": False, "batch_size": 32,
                                "buffer_size": 5000, "target_update_interval": 200}),
}
ENVS = ("matrix:paper", "matrix:climbing")
UPDATES = int(__import__("os").environ.get("AFTER_QTRAN_UPDATES", 3000))
COLUMNS = ["env", "algo", "seed", "greedy_action", "greedy_payoff", "optimum", "found_optimum", "max_abs_error",
           "q_tot_at_optimum"]


def run_cell(job: tuple[str, str, int]) -> tuple[dict, dict]:
    """Train one (env, method, seed) cell; return its results row and its tables."""
    env_name, method, seed = job
    algo, overrides = METHODS.get(method, (method, {}))
    import torch

    torch.set_num_threads(1)
    from qtran_lib.analysis import q_tables
    from qtran_lib.config import load_yaml, make_config
    from qtran_lib.envs.base import joint_actions
    from qtran_lib.train import train

    cfg = make_config(load_yaml("matrix"), algo=algo, env=env_name, seed=seed, max_updates=UPDATES, **overrides)
    result = train(cfg, progress=False)
    t = q_tables(result.learner, result.env)
    tables = t.to_json()
    learner, info = result.learner, result.env.env_info()
    if hasattr(learner, "central_q"):  # weighted QMIX: the central critic Q^* at every joint action
        n, a = info.n_agents, info.n_actions
        joint = joint_actions(n, a, learner.device)  # [A^N, N]
        x = learner.inputs(torch.ones(len(joint), n, info.obs_dim), None)  # [A^N, N, in]
        q_star = learner.central_q(x, joint, torch.ones(len(joint), info.state_dim)) / learner.reward_scale
        tables["q_star"] = torch.round(q_star.reshape((a,) * n) * 1e4).div(1e4).tolist()
    optimum = tuple(int(i) for i in torch.unravel_index(t.payoff.argmax(), t.payoff.shape))
    row = {"env": env_name, "algo": method, "seed": seed, "greedy_action": "-".join(map(str, t.greedy_action)),
           "greedy_payoff": t.greedy_payoff, "optimum": "-".join(map(str, optimum)),
           "found_optimum": int(t.greedy_action == optimum),
           "max_abs_error": round(float((t.q_jt - t.payoff).abs().max()), 4),
           "q_tot_at_optimum": round(float(t.q_jt[optimum]), 4)}
    return row, tables


def merge(out: Path, rows: list[dict], tables: dict) -> tuple[list[dict], dict]:
    """Add the new cells to the results already in ``out`` (a cell trained again replaces its old row)."""
    key = lambda r: (r["env"], r["algo"], int(r["seed"]))  # noqa: E731
    old_rows, old_tables = [], {}
    if (out / "results.csv").exists():
        with open(out / "results.csv", newline="") as f:
            old_rows = list(csv.DictReader(f))
        old_tables = json.loads((out / "tables.json").read_text())
    new_keys = {key(r) for r in rows}
    merged = [r for r in old_rows if key(r) not in new_keys] + rows
    order = {e: i for i, e in enumerate(ENVS)} | {a: i for i, a in enumerate(ALGOS)}
    merged.sort(key=lambda r: (order.get(r["env"], 99), r["env"], order.get(r["algo"], 99), int(r["seed"])))
    return merged, {**old_tables, **tables}


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algos", default=",".join(ALGOS))
    p.add_argument("--envs", default=",".join(ENVS))
    p.add_argument("--seeds", default="0-9")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    jobs = [(e, a, s) for e in args.envs.split(",") for a in args.algos.split(",") for s in parse_seeds(args.seeds)]
    rows, tables = [], {}
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for row, tab in tqdm(pool.imap(run_cell, jobs), total=len(jobs), desc="matrix cells"):
            rows.append(row)
            tables[f"{row['env']}|{row['algo']}|{row['seed']}"] = tab
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, tables = merge(out, rows, tables)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    (out / "tables.json").write_text(json.dumps(tables, indent=1) + "\n")
    for e in dict.fromkeys(r["env"] for r in rows):
        for a in dict.fromkeys(r["algo"] for r in rows):
            cell = [r for r in rows if r["env"] == e and r["algo"] == a]
            if cell:
                print(f"{e:16s} {a:13s} optimum in {sum(int(r['found_optimum']) for r in cell)}/{len(cell)} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
