"""Regenerate results/starcraft/: train the (algorithm x map x seed) grid, then tabulate and plot it.

Used by book/06_starcraft. Every cell is one ``train`` run of the map's preset
(``qtran_lib/configs/starcraft_<map>.yaml`` when it exists, else ``starcraft.yaml``) written to
``results/starcraft/<folder>/<algo>/seed_<s>/`` (config.yaml, metrics.csv; checkpoint.pt stays out of git), where
``<folder>`` is ``final/<map>`` for the book's protocol and ``log/<experiment>/<map>`` for the experiment log.
A cell whose metrics.csv already reaches t_max is skipped; one with a checkpoint continues from it
(bit-exactly: a run extended from 60k to 120k steps trains exactly as a fresh 120k run; only its test
battles after 60k draw other random starts, because the shorter run's final evaluation advanced the test
environment's generator).

    python scripts/run_starcraft.py                          # the grid below, then the report
    python scripts/run_starcraft.py --maps 3m --algos qmix --seeds 0-4
    python scripts/run_starcraft.py --config starcraft_tuned --maps 5m_vs_6m --algos qmix,qtran_base
    python scripts/run_starcraft.py --report-only            # table, figures and README from metrics.csv

The report (``summary.csv``, ``summary.md``, ``log_summary.md``, ``<folder>/win_rate.png``, ``README.md``) is built only from
the metrics.csv files on disk: every number in it comes from a committed run.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qtran_lib.config import ALGORITHMS, PRESET_DIR, load_yaml, make_config  # noqa: E402
from qtran_lib.plotting import bootstrap_ci, final_values, load_sweep, plot_learning_curves  # noqa: E402
from qtran_lib.sweep import parse_seeds  # noqa: E402

OUT = ROOT / "results" / "starcraft"
# The grid in order of priority: (folder, map, algorithms, seeds, config overrides, continue_from).
# Folders: ``final/<map>`` holds the book's protocol (the recipe qtran_lib/configs/starcraft_tuned.yaml as it
# is, 400k steps, every algorithm); ``log/<experiment>/<map>`` the way there (the preset's short runs, other
# QTRAN loss weights, longer runs, learning-rate decay, larger batches), described in book/appendix_experiment_log.
# A row with continue_from copies that folder's finished runs (checkpoints included) and trains them on
# to the larger t_max: train's resume is bit-exact, so the training equals longer runs from scratch (the test
# battles after the old t_max draw other starts: the shorter run's final evaluation advanced the test env's RNG).
# TUNED: the recipe's differences from the map's preset (start jitter 0.25, TD(lambda = 0.6), target copies
# every 200 updates, 400k steps, 64 test battles, QTRAN weights lambda_opt = 0.01 and lambda_nopt = 1e-4).
TUNED = {k: v for k, v in load_yaml("starcraft_tuned").items() if k != "env" and load_yaml("starcraft").get(k) != v}
AUTHORS = {**TUNED, "lambda_opt": 1.0, "lambda_nopt": 1.0}  # the QTRAN authors' loss weights
PYMARL = {**TUNED, "lambda_opt": 1.0, "lambda_nopt": 0.1}  # pymarl's
X10 = {**TUNED, "lambda_opt": 0.1, "lambda_nopt": 0.01}  # ten times the recipe's (DI-engine's) weights
ALL = ("iql", "vdn", "qmix", "qtran_base", "qtran_alt")
SMAC_MAPS = ("3m", "8m", "2s3z", "3s5z", "5m_vs_6m", "MMM2")  # the scenarios the book reports
GRID = [
    # the final protocol: the recipe as it is, every algorithm on every map
    *[(f"final/{m}", m, ALL, "0-2", TUNED, None) for m in SMAC_MAPS],
    # the log: the preset's short runs (start jitter 1.0, 120k steps), QMIX continued to 200k
    ("log/preset_120k/3m", "3m", ALL, "0-2", {}, None),
    ("log/preset_200k/3m", "3m", ("qmix",), "0-2", {"t_max": 200_000}, "log/preset_120k/3m"),
    # QTRAN-base with the recipe and other loss weights: the authors' (1, 1), pymarl's (1, 0.1), ten times the recipe's
    ("log/qtran_weights_1_1/3m", "3m", ("qtran_base",), "0-2", AUTHORS, None),
    ("log/qtran_weights_1_0.1/3m", "3m", ("qtran_base",), "0-2", PYMARL, None),
    *[(f"log/qtran_weights_0.1_0.01/{m}", m, ("qtran_base",), "0-2", X10, None) for m in SMAC_MAPS if m != "3m"],
    ("log/qtran_weights_0.1_0.01_600k/8m", "8m", ("qtran_base",), "0-2", {**X10, "t_max": 600_000},
     "log/qtran_weights_0.1_0.01/8m"),
    ("log/qtran_weights_0.1_0.01_800k/8m", "8m", ("qtran_base",), "0-2", {**X10, "t_max": 800_000},
     "log/qtran_weights_0.1_0.01_600k/8m"),
    ("log/qtran_weights_0.1_0.01_800k/2s3z", "2s3z", ("qtran_base",), "0-2", {**X10, "t_max": 800_000},
     "log/qtran_weights_0.1_0.01/2s3z"),
    # longer runs of the recipe
    ("log/steps_800k/3m", "3m", ("qtran_base",), "0-2", {**TUNED, "t_max": 800_000}, "final/3m"),
    ("log/steps_800k/2s3z", "2s3z", ("qmix",), "0-2", {**TUNED, "t_max": 800_000}, "final/2s3z"),
    ("log/steps_600k/8m", "8m", ("qmix",), "0-2", {**TUNED, "t_max": 600_000}, "final/8m"),
    # the learning rate annealed linearly to a tenth over 600k steps (late win rates swung by ~0.1)
    ("log/lr_decay/8m", "8m", ("qmix",), "0-2", {**TUNED, "t_max": 600_000, "lr_final_fraction": 0.1}, None),
    ("log/qtran_weights_0.1_0.01_lr_decay/8m", "8m", ("qtran_base",), "0-2",
     {**X10, "t_max": 600_000, "lr_final_fraction": 0.1}, None),
    # QMIX on 64 instead of 32 episodes per update (every battle is replayed ~16 times instead of ~8)
    ("log/batch64/8m", "8m", ("qmix",), "0-2", {**TUNED, "batch_size": 64}, None),
    ("log/batch64_600k/8m", "8m", ("qmix",), "0-2", {**TUNED, "batch_size": 64, "t_max": 600_000}, "log/batch64/8m"),
]
LAST = 3  # the final win rate of a seed averages its last 3 evaluations (3 x 32 or, tuned, 3 x 64 test battles)
ORDER = {a: i for i, a in enumerate(("iql", "vdn", "qmix", "qtran_base", "qtran_alt"))}


def preset_for(map_name: str) -> dict:
    name = f"starcraft_{map_name}"
    values = load_yaml(name if (PRESET_DIR / f"{name}.yaml").exists() else "starcraft")
    values["env"] = f"starcraft:{map_name}"
    return values


def is_complete(run: Path, t_max: int) -> bool:
    m = run / "metrics.csv"
    if not m.exists():
        return False
    with open(m, newline="") as f:
        rows = list(csv.DictReader(f))
    return bool(rows) and int(rows[-1]["t_env"]) >= t_max and rows[-1]["test_won_mean"] != ""


def _cell(job: tuple[dict, str]) -> str:
    """Train one cell in a worker process (one torch thread); continue from its checkpoint if it has one."""
    cfg_dict, out = job
    import torch

    torch.set_num_threads(1)
    from qtran_lib.train import train

    ckpt = Path(out) / "checkpoint.pt"
    start = time.perf_counter()
    try:  # a checkpoint of the same run with a smaller t_max continues bit-exactly (train's resume)
        train(cfg_dict, out=out, resume=ckpt if ckpt.exists() else None, progress=False)
    except Exception as e:  # keep the other cells going
        return f"{out}: error {type(e).__name__}: {e}"
    return f"{out}: done in {time.perf_counter() - start:.0f} s"


def train_cells(folder: str, map_name: str, algos, seeds, workers: int, overrides: dict,
                continue_from: str | None = None) -> None:
    """Train every (algo, seed) cell of one grid row whose metrics.csv does not reach t_max yet."""
    import multiprocessing as mp
    import shutil

    jobs = []
    for algo in algos:
        for seed in seeds:
            cfg = make_config({**preset_for(map_name), **overrides}, algo=algo, seed=seed)
            out = OUT / folder / algo / f"seed_{seed}"
            if is_complete(out, cfg.t_max):
                continue
            src = OUT / str(continue_from) / algo / f"seed_{seed}"
            if continue_from and not out.exists() and (src / "checkpoint.pt").exists():
                shutil.copytree(src, out)
            jobs.append((cfg.to_dict(), str(out)))
    print(f"[{time.strftime('%H:%M:%S')}] {folder}: {len(jobs)} of {len(algos) * len(seeds)} cells to train",
          flush=True)
    if not jobs:
        return
    with mp.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
        for msg in pool.imap_unordered(_cell, jobs):
            print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def report() -> list[dict]:
    """summary.csv, summary.md, one win-rate figure per map and README.md from the metrics on disk."""
    import matplotlib
    import yaml

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, unfinished = [], []
    # every folder that holds ALGO/seed_S/metrics.csv, named by its path under results/starcraft (final/3m, log/...)
    maps = sorted({str(m.parents[2].relative_to(OUT)) for m in OUT.glob("**/seed_*/metrics.csv")},
                  key=lambda f: (not f.startswith("final/"), f))
    for map_name in maps:
        sweep = load_sweep(OUT / map_name)
        for algo in list(sweep):  # only finished runs enter the table (an interrupted one is listed as such)
            for seed in list(sweep[algo]):
                run = OUT / map_name / algo / f"seed_{seed}"
                if not is_complete(run, int(yaml.safe_load((run / "config.yaml").read_text())["t_max"])):
                    unfinished.append(f"{map_name}/{algo}/seed_{seed}")
                    del sweep[algo][seed]
            if not sweep[algo]:
                del sweep[algo]
        if not sweep:
            continue
        sweep = {a: sweep[a] for a in sorted(sweep, key=lambda a: ORDER.get(a, 99))}
        for algo, runs in sweep.items():
            won = final_values(runs, "test_won_mean", last=LAST)  # per seed: mean of the last evaluations
            ret = final_values(runs, "test_return_mean", last=LAST)
            mean, low, high = bootstrap_ci(won)
            walls = [m["wall_time"][-1] for m in runs.values()]
            first = OUT / map_name / algo / f"seed_{min(runs)}" / "config.yaml"
            scenario = yaml.safe_load(first.read_text())["env"].removeprefix("starcraft:")
            rows.append({"folder": map_name, "scenario": scenario, "algo": algo, "seeds": " ".join(str(s) for s in sorted(runs)),
                         "n": len(runs), "t_env": int(min(m["t_env"][-1] for m in runs.values())),
                         "final_win_rate": round(float(mean), 4), "ci_low": round(float(low), 4),
                         "ci_high": round(float(high), 4), "per_seed": " ".join(f"{w:.4f}" for w in won),
                         "final_test_return": round(float(ret.mean()), 4),
                         "wall_time_s": round(float(sum(walls) / len(walls)), 1)})
        fig, ax = plt.subplots(figsize=(5, 3.5))
        plot_learning_curves(sweep, key="test_won_mean", ax=ax, title=map_name)
        ax.set_ylabel("test win rate")
        ax.set_ylim(-0.02, 1.02)
        fig.tight_layout()
        fig.savefig(OUT / map_name / "win_rate.png", dpi=120)
        plt.close(fig)
    with open(OUT / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    table = ["| folder | algorithm | final test win rate, mean [95 % CI] | per seed | final test return | seeds | "
             "env steps | wall time per run (s) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['folder']} | {r['algo']} | {r['final_win_rate']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
                     f" | {r['per_seed']} | {r['final_test_return']:.2f} | {r['n']} | {r['t_env']} | "
                     f"{r['wall_time_s']:.0f} |")
    (OUT / "summary.md").write_text("\n".join(table) + "\n")
    # the appendix's compact view of the log: folder, algorithm, win rate, steps (book/appendix_experiment_log)
    log = ["| folder | algorithm | final win rate [95 % CI] | env steps |", "|---|---|---|---|"]
    log += [f"| `{r['folder'].removeprefix('log/')}` | {r['algo']} | {r['final_win_rate']:.2f} [{r['ci_low']:.2f}, "
            f"{r['ci_high']:.2f}] | {r['t_env'] // 1000}k |" for r in rows if r["folder"].startswith("log/")]
    (OUT / "log_summary.md").write_text("\n".join(log) + "\n")
    ran = {(r["folder"], r["algo"]) for r in rows}
    planned = [(folder, a) for folder, _, algos, *_ in GRID for a in algos]
    not_run = [f"{a} on {m}" for m, a in planned if (m, a) not in ran]
    scenario_algos = {(r["scenario"], r["algo"]) for r in rows}
    untried = [f"{a} on {m}" for m in SMAC_MAPS for a in ORDER if (m, a) not in scenario_algos]
    figures = "\n".join(f"![{m}]({m}/win_rate.png)" for m in dict.fromkeys(r["folder"] for r in rows))
    (OUT / "README.md").write_text(README.format(table="\n".join(table), figures=figures,
                                                  not_run=", ".join(not_run) or "none",
                                                  untried=", ".join(untried) or "none",
                                                  unfinished=", ".join(unfinished) or "none"))
    return rows


README = """# StarCraft-like micromanagement results

Generated by `scripts/run_starcraft.py` (do not edit by hand; rerun the script). `final/` is read by
`book/06_starcraft.ipynb`, `log/` by the book's appendix "Experiment log".

## Regenerate

```bash
python scripts/run_starcraft.py --workers 3     # train every missing cell of the grid, then the report
python scripts/run_starcraft.py --report-only   # summary.csv, summary.md, log_summary.md, figures, this README
```

One cell is the CLI run
`python -m qtran_lib train --config starcraft_tuned --algo qmix --env starcraft:8m --seed 0 --out DIR`
plus the overrides of its row in the script's `GRID`. Folders (`<folder>/<algo>/seed_<s>/`, with
`config.yaml` and `metrics.csv`; `run_dir`-like paths inside a run's files record where it was first written):

- `final/<map>`: the book's protocol, the recipe `qtran_lib/configs/starcraft_tuned.yaml` as it is (start
  jitter 0.25, TD(lambda = 0.6) targets, target copies every 200 updates, 400k steps, 64 test battles per
  evaluation, QTRAN weights lambda_opt = 0.01 and lambda_nopt = 1e-4). The IQL, VDN and QMIX runs of `final/3m`
  were started with the QTRAN weights set to 1 and 1, which they do not read. QTRAN-base with the recipe was not
  run on 3s5z, 5m_vs_6m and MMM2 (see `log/qtran_weights_0.1_0.01/`).
- `log/preset_120k/3m`, `log/preset_200k/3m`: the preset `starcraft.yaml` (start jitter 1.0, one-step targets,
  120k steps), QMIX continued to 200k from its checkpoints.
- `log/qtran_weights_<opt>_<nopt>[_<suffix>]/<map>`: QTRAN-base with the recipe and other loss weights (the
  authors' 1 and 1, pymarl's 1 and 0.1, ten times the recipe's 0.1 and 0.01), some trained on to 600k/800k steps
  or with the learning rate annealed to a tenth over 600k steps (`_lr_decay`).
- `log/steps_600k`, `log/steps_800k`: runs of `final/` trained on to more steps (resume is bit-exact; only the
  test battles after the shorter run's end draw other starts). Wall times include the first 400k steps.
- `log/lr_decay/8m`: QMIX with `lr_final_fraction: 0.1` over 600k steps; `log/batch64/8m`: QMIX on 64 instead
  of 32 episodes per update.

The script ran one to three cells at a time in separate processes with one torch thread each, on a
shared 2-core CPU machine; the wall times below were measured there with other jobs competing for the cores.

## Protocol

- Batched simulator `starcraft:<map>` with randomised starts (`random_start: true`): formations jittered by up
  to `start_jitter` units, sides swapped with probability 1/2. Enemy: the simulator's scripted AI. With the
  recipe's jitter 0.25 the scripted focus-fire heuristic wins about 97 % of 3m battles (as from SMAC's fixed
  starts), with the preset's 1.0 about 65 % (0.68 over 1,000 battles in tests/starcraft/test_win_rates.py).
- RNN agents (GRU, hidden 64) with last action and agent id; 32 battles per iteration, 8 updates of 32
  episodes each per iteration, Adam 5e-4, epsilon 1 -> 0.05 over 15k steps.
- Final test win rate of a seed: greedy policy, mean over its last 3 evaluations (every 6k steps; 64 test
  battles each with the recipe, 32 with the preset); the table gives the mean over seeds with a 95 %
  percentile-bootstrap CI over seeds (`qtran_lib.plotting.bootstrap_ci`). With 3 seeds the CI is coarse.
- These are **not** SMAC numbers: the simulator re-creates SMAC's interface and unit stats, not the
  SC2 engine, and training is 2.5-17x shorter than SMAC's 2M steps.

## Final test win rates

{table}

Planned in the script's grid but not (yet) run: {not_run}.
(Algorithm, scenario) pairs with no run in any folder: {untried}.
Interrupted before t_max, left out of the table: {unfinished}.

## Learning curves (test win rate, mean and 95 % bootstrap band over seeds)

{figures}
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--maps", help="comma-separated maps (default: the grid in this file)")
    p.add_argument("--algos", help=f"comma-separated algorithms from {', '.join(ALGORITHMS)}")
    p.add_argument("--seeds", help="seed range like 0-2 or a list like 0,3 (with --only: those seeds of the rows)")
    p.add_argument("--config", help="with --maps: preset for every cell instead of the map's own, e.g. starcraft_tuned")
    p.add_argument("--only", help="comma-separated result folders of GRID rows to train, e.g. log/preset_200k/3m")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--report-only", action="store_true", help="only rebuild the table, figures and README")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides for every cell")
    args = p.parse_args(argv)
    if not args.report_only:
        overrides = dict(o.split("=", 1) for o in args.overrides)
        if args.maps or args.algos or (args.seeds and not args.only):
            # --config's values replace the map's preset (all but the map itself); GRID rows keep their own
            base = {k: v for k, v in load_yaml(args.config).items() if k != "env"} if args.config else {}
            grid = [(m, m, tuple((args.algos or "qmix,qtran_base").split(",")), args.seeds or "0-2", base, None)
                    for m in (args.maps or "3m").split(",")]
        elif args.config:
            p.error("--config applies to --maps/--algos/--seeds runs; GRID rows carry their own settings")
        else:
            grid = [row for row in GRID if not args.only or row[0] in args.only.split(",")]
            if args.seeds:  # --only ROW --seeds 1: some seeds of a GRID row (e.g. a pilot before the others)
                grid = [(*row[:3], args.seeds, *row[4:]) for row in grid]
        for folder, map_name, algos, seeds, row_overrides, continue_from in grid:
            train_cells(folder, map_name, algos, parse_seeds(seeds), args.workers, {**row_overrides, **overrides},
                        continue_from)
    for r in report():
        print(f"{r['folder']:>5} {r['algo']:>10}: win {r['final_win_rate']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
              f" (n={r['n']}), {r['wall_time_s']:.0f} s per run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
