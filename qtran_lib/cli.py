"""Command line: ``python -m qtran_lib train|eval|sweep ...``. Every config field is also an option."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import ALGORITHMS, FIELDS, field_docs, load_yaml, make_config


def _preset_for(env: str) -> str | None:
    family = env.partition(":")[0]
    return {"matrix": "matrix", "gaussian_squeeze": "gaussian_squeeze", "predator_prey": "predator_prey",
            "starcraft": "starcraft"}.get(family)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m qtran_lib", description="Train and inspect QTRAN, VDN, QMIX and IQL.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one algorithm on one environment",
                       description="Train one run. Settings come from (lowest first): the environment's preset in "
                                   "qtran_lib/configs or, in its place, --config FILE; then the options below and "
                                   "key=value overrides.")
    t.add_argument("--algo", choices=ALGORITHMS, help="algorithm to train (default: qtran_base)")
    t.add_argument("--env", help="environment, e.g. matrix:paper, 'matrix:8,-12,-12;-12,0,0;-12,0,0', "
                                 "matrix:climbing, matrix:penalty:k=-50, gaussian_squeeze, predator_prey, starcraft:3m")
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    t.add_argument("--steps", type=int, help="environment steps to train for (t_max); default from the env's preset")
    t.add_argument("--config", help="YAML file (or preset name) used instead of the environment's preset")
    t.add_argument("--out", help="run folder for config.yaml, metrics.csv, checkpoint.pt (and q_tables.json)")
    t.add_argument("--resume", help="run folder whose checkpoint.pt to continue from")
    t.add_argument("--device", help="cpu, cuda or auto (default auto)")
    t.add_argument("--tensorboard", action="store_true", help="also write TensorBoard logs to OUT/tensorboard")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    docs = field_docs()
    t.add_argument("overrides", nargs="*", metavar="key=value",
                   help="any config field; known keys: " + "; ".join(f"{k}: {docs.get(k, '')}" for k in FIELDS))

    e = sub.add_parser("eval", help="print the greedy result and Q tables of a finished run")
    e.add_argument("run", help="run folder written by train --out")

    s = sub.add_parser("sweep", help="train a grid of algorithms x seeds in parallel processes")
    s.add_argument("--algos", required=True, help="comma-separated algorithms, e.g. vdn,qmix,qtran_base")
    s.add_argument("--env", required=True, help="environment name")
    s.add_argument("--seeds", default="0-2", help="seed range like 0-4 or a list like 0,3,7")
    s.add_argument("--out", required=True, help="folder for one run per (algo, seed) and results.csv")
    s.add_argument("--config", help="YAML file or preset used for every run instead of the environment's preset")
    s.add_argument("--steps", type=int, help="t_max for every run")
    s.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    s.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides for every run")
    return p


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"expected key=value, got {item!r}")
        out[key.strip()] = value
    return out


def config_from_args(args) -> object:
    values: dict = {}
    env = args.env
    if args.config:
        values.update(load_yaml(args.config))
        env = env or values.get("env")
    preset = _preset_for(env or "matrix:paper")
    base = load_yaml(preset) if preset and not args.config else {}
    base.update(values)
    for key in ("algo", "env", "seed", "device"):
        if getattr(args, key, None) is not None:
            base[key] = getattr(args, key)
    if getattr(args, "steps", None) is not None:
        if args.steps <= 0:
            raise ValueError(f"--steps must be positive, got {args.steps}")
        base["t_max"] = args.steps
        base["max_updates"] = 0
    if getattr(args, "tensorboard", False):
        base["tensorboard"] = True
    base.update(parse_overrides(args.overrides))
    return make_config(base)


def cmd_train(args) -> int:
    from .train import train

    if args.resume:
        from .checkpoint import load_checkpoint

        saved = load_checkpoint(args.resume)["config"]
        cfg = make_config(saved, **parse_overrides(args.overrides))
        out = args.out or args.resume
        result = train(cfg, out=out, resume=args.resume, progress=not args.no_progress)
    else:
        cfg = config_from_args(args)
        result = train(cfg, out=args.out, progress=not args.no_progress)
    final = result.final
    shown = {k: round(v, 4) for k, v in final.items() if isinstance(v, float)}
    print(f"finished {cfg.algo} on {cfg.env} (seed {cfg.seed}): t_env={final.get('t_env')} {shown}")
    if result.out is not None:
        print(f"run written to {result.out}")
        if (result.out / "q_tables.json").exists():
            print_q_tables(json.loads((result.out / "q_tables.json").read_text()))
    return 0


def print_q_tables(t: dict) -> None:
    import torch

    from .analysis import format_table

    letters = "ABCDEFGHIJKLMNOPQRSTU"
    ga = t["greedy_action"]
    print(f"greedy joint action: ({', '.join(letters[a] for a in ga)}) = {tuple(ga)}, payoff {t['greedy_payoff']:.4g}")
    for i, qi in enumerate(t["q_i"]):
        print(f"Q_{i + 1}: " + ", ".join(f"{letters[a]}={v:.2f}" for a, v in enumerate(qi)))
    print(f"V_jt: {t['v_jt']:.4f}")
    for key, title in (("payoff", "payoff"), ("q_jt", "Q_jt"), ("q_sum", "Q'_jt = sum_i Q_i"),
                       ("gap", "Q'_jt - Q_jt + V_jt")):
        print(f"{title}:")
        print(format_table(torch.tensor(t[key])))


def cmd_eval(args) -> int:
    run = Path(args.run)
    if not run.is_dir():
        raise FileNotFoundError(f"no run folder at {run}")
    qt = run / "q_tables.json"
    if qt.exists():
        print_q_tables(json.loads(qt.read_text()))
        return 0
    import csv

    metrics = run / "metrics.csv"
    if not metrics.exists():
        raise FileNotFoundError(f"{run} has neither q_tables.json nor metrics.csv: is it a run folder?")
    rows = list(csv.DictReader(metrics.open()))
    last = rows[-1] if rows else {}
    print(f"{run}: " + ", ".join(f"{k}={v}" for k, v in last.items() if v != ""))
    return 0


def cmd_sweep(args) -> int:
    from .sweep import parse_seeds, run_sweep

    base = load_yaml(args.config) if args.config else (load_yaml(_preset_for(args.env)) if _preset_for(args.env) else {})
    base.update(parse_overrides(args.overrides))
    base["env"] = args.env
    if args.steps is not None:
        base["t_max"] = args.steps
        base["max_updates"] = 0
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    for a in algos:
        if a not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {a!r}; choose from {', '.join(ALGORITHMS)}")
    table = run_sweep(base, algos, parse_seeds(args.seeds), args.out, workers=args.workers)
    print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": cmd_train, "eval": cmd_eval, "sweep": cmd_sweep}[args.command](args)
    except (ValueError, FileNotFoundError, KeyError, RuntimeError, TypeError) as e:
        from .checkpoint import CheckpointError

        kind = "checkpoint error" if isinstance(e, CheckpointError) else "error"
        print(f"{parser.prog}: {kind}: {e}", file=sys.stderr)
        return 2
