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
    """The argparse parser of `python -m qtran_lib` (train, eval, sweep); every config field becomes an option."""
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
    t.add_argument("--resume", help="run folder whose checkpoint.pt to continue from (with --steps N: extend it to N "
                                    "steps; --algo/--env/--seed must match the saved run)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run that --out already holds (without it such a folder is refused)")
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
    s.add_argument("--overwrite", action="store_true",
                   help="retrain every cell from scratch (default: skip finished cells, resume partial ones)")
    s.add_argument("--backend", choices=("process", "ray"), default="process",
                   help="process: --workers local processes (default); ray: one Ray task per cell (pip install "
                        "'qtran_lib[ray]')")
    s.add_argument("--address", help="with --backend ray: the cluster to use (auto, ray://HOST:10001); default: a "
                                     "local Ray with --workers CPUs. Its nodes must see --out at the same path")
    s.add_argument("--cpus-per-cell", type=float, default=1.0, help="with --backend ray: CPUs each cell reserves")
    s.add_argument("--gpus-per-cell", type=float, default=0.0,
                   help="with --backend ray: GPUs each cell reserves (e.g. 0.5 puts two cells on one GPU)")
    s.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides for every run")
    return p


def parse_overrides(items: list[str]) -> dict:
    """Turn `key=value` words into a dict of YAML-parsed values; a word without `=` is an error that names it."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"expected key=value, got {item!r}")
        out[key.strip()] = value
    return out


def config_from_args(args) -> object:
    """Preset (or --config), then options, then key=value overrides: the one place the CLI builds a TrainConfig."""
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


RESUME_FIXED = ("algo", "env", "seed")
"""Options that name the run: on --resume they must match the checkpoint (the generators continue its streams)."""


def resume_config(args, saved: dict, t_env: int):
    """The config a resumed run continues with: the checkpoint's, plus --steps (extends t_max), --device,
    --tensorboard and key=value overrides; --algo/--env/--seed must match and --config is refused."""
    if args.config:
        raise ValueError("--config cannot be combined with --resume: the run's settings come from its checkpoint; "
                         "give key=value overrides (e.g. t_max=...) or train the new config into a new --out")
    for key in RESUME_FIXED:
        given = getattr(args, key, None)
        if given is not None and given != saved.get(key):
            raise ValueError(f"--{key} {given} differs from the resumed run's {key}={saved.get(key)!r}: --resume "
                             f"continues that run; drop --{key}, or train {key}={given} into a new --out")
    values = dict(saved)
    if args.device is not None:
        values["device"] = args.device
    if args.tensorboard:
        values["tensorboard"] = True
    if args.steps is not None:
        if args.steps <= t_env:
            raise ValueError(f"--steps {args.steps} does not extend the run, which is already at t_env={t_env}; "
                             f"give --steps > {t_env}")
        values["t_max"], values["max_updates"] = args.steps, 0
    return make_config(values, **parse_overrides(args.overrides))


def cmd_train(args) -> int:
    """`train`: a new run into --out (refusing a folder that holds a run unless --overwrite), or --resume one."""
    from .train import train

    if args.resume:
        from .checkpoint import load_checkpoint

        ckpt = load_checkpoint(args.resume)
        t_env, n_updates = int(ckpt["counters"]["t_env"]), int(ckpt["learner"].get("n_updates", 0))
        cfg = resume_config(args, ckpt["config"], t_env)
        del ckpt
        if t_env >= cfg.t_max or 0 < cfg.max_updates <= n_updates:
            print(f"note: the run in {args.resume} had already finished (t_env={t_env}, {n_updates} updates); "
                  f"extend it with --steps N (N > {t_env})")
        out = args.out or args.resume
        result = train(cfg, out=out, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    else:
        cfg = config_from_args(args)
        result = train(cfg, out=args.out, progress=not args.no_progress, overwrite=args.overwrite)
    final = result.final
    shown = {k: round(v, 4) for k, v in final.items() if isinstance(v, float)}
    print(f"finished {cfg.algo} on {cfg.env} (seed {cfg.seed}): t_env={final.get('t_env')} {shown}")
    if result.out is not None:
        print(f"run written to {result.out}")
        if (result.out / "q_tables.json").exists():
            print_q_tables(json.loads((result.out / "q_tables.json").read_text()))
    return 0


Q_TABLE_KEYS = ("payoff", "q_i", "q_jt", "q_sum", "v_jt", "gap", "greedy_action", "greedy_payoff")


def print_q_tables(t: dict, source: str = "q_tables.json") -> None:
    """Print a saved q_tables.json: the greedy joint action, its payoff and every table, as `eval` shows them."""
    import torch

    from .analysis import format_table

    missing = [k for k in Q_TABLE_KEYS if not isinstance(t, dict) or k not in t]
    if missing:
        raise ValueError(f"{source} is incomplete (missing {', '.join(missing)}); rerun the training to rewrite it")

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
    """`eval`: print a run folder's Q tables (one-step games, from q_tables.json), else its last metrics row."""
    run = Path(args.run)
    if not run.is_dir():
        raise FileNotFoundError(f"no run folder at {run}")
    qt = run / "q_tables.json"
    if qt.exists():
        try:
            tables = json.loads(qt.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"{qt} is not valid JSON; rerun the training to rewrite it") from None
        print_q_tables(tables, str(qt))
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
    """`sweep`: seeds x algorithms in parallel, skipping finished cells and resuming partial ones."""
    from .sweep import parse_seeds, run_grid

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
    options = {}
    if args.backend == "ray":
        options = {"address": args.address, "cpus_per_cell": args.cpus_per_cell, "gpus_per_cell": args.gpus_per_cell}
    elif args.address is not None:
        raise ValueError("--address needs --backend ray")
    summary = run_grid(base, algos, parse_seeds(args.seeds), args.out, workers=args.workers, overwrite=args.overwrite,
                       backend=args.backend, backend_options=options)
    print(summary.table)
    if summary.failed:
        print(f"{parser_prog()}: error: {len(summary.failed)} of {summary.cells} cells failed "
              f"(see the status column of {Path(args.out) / 'results.csv'}); fix the cause and rerun: finished cells "
              "are kept", file=sys.stderr)
        return 1
    return 0


def parser_prog() -> str:
    """The program name the parser and error messages use."""
    return "python -m qtran_lib"


def _interrupted_hint(args) -> str:
    if args.command == "sweep":
        return (f"finished cells are kept in {args.out}; rerun the same sweep command to skip them and resume the "
                "others from their checkpoints")
    out = getattr(args, "out", None) or getattr(args, "resume", None)
    if args.command == "train" and out:
        return f"the last checkpoint in {out} is kept; continue with --resume {out}"
    return "nothing was saved"


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m qtran_lib` and `qtran`: runs a command and turns known errors into a message and exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": cmd_train, "eval": cmd_eval, "sweep": cmd_sweep}[args.command](args)
    except KeyboardInterrupt:
        print(f"\n{parser.prog}: interrupted: {_interrupted_hint(args)}", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, KeyError, RuntimeError, TypeError, ImportError, OSError) as e:
        from .checkpoint import CheckpointError

        kind = "checkpoint error" if isinstance(e, CheckpointError) else "error"
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError):
            msg = f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
            print(f"{parser.prog}: {kind}: {msg} (is the disk full or the folder read-only?)", file=sys.stderr)
        else:
            print(f"{parser.prog}: {kind}: {e}", file=sys.stderr)
        return 2
