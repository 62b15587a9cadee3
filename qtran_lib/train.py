"""``train(config)``: the one training loop for one-step games and episodic tasks alike.

Collect B episodes with epsilon-greedy agents (a lockstep batch, or with ``runner: autoreset`` the next B to
complete) -> store them -> sample a batch -> one update of the learner; every so often evaluate greedily, log a
row of metrics, and checkpoint. Resuming restores
every random generator, so a resumed run continues bit-exactly.
"""
from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from .checkpoint import CheckpointError, check_compatible, clean_stale_temporaries, load_checkpoint, save_checkpoint
from .config import TEST_SEED_OFFSET, TrainConfig, make_config
from .envs import make_env
from .exploration import episode_epsilons, linear_epsilon
from .learners import Learner, make_learner
from .replay_buffer import EpisodeBuffer
from .runner import AutoresetRunner, run_episodes

METRIC_COLUMNS = ["t_env", "episodes", "updates", "epsilon", "return_mean", "return_std", "test_return_mean",
                  "test_return_std", "test_won_mean", "loss", "td", "opt", "nopt", "grad_norm", "wall_time"]


def resolve_device(name: str) -> torch.device:
    """`auto` means CUDA when available, else CPU; asking for CUDA where there is none is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
    return dev


@dataclass
class TrainResult:
    """What `train` returns: the config, the trained learner, its env, the metrics rows and the run folder (if any)."""
    config: TrainConfig
    learner: Learner
    env: object
    metrics: list[dict] = field(default_factory=list)
    out: Path | None = None

    @property
    def final(self) -> dict:
        return self.metrics[-1] if self.metrics else {}


def evaluate(env, learner, episodes: int) -> dict[str, float]:
    """Greedy (epsilon = 0) return over at least ``episodes`` episodes of ``env``."""
    returns, won = [], []
    while sum(len(r) for r in returns) < episodes:
        _, stats = run_episodes(env, learner, epsilon=0.0)
        returns.append(stats["return"].cpu())
        if "battle_won" in stats:
            won.append(stats["battle_won"].cpu())
    r = torch.cat(returns)[:episodes]
    out = {"test_return_mean": float(r.mean()), "test_return_std": float(r.std(unbiased=False))}
    if won:
        out["test_won_mean"] = float(torch.cat(won)[:episodes].mean())
    return out


def _write_metrics(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: row.get(k, "") for k in METRIC_COLUMNS})
    tmp.replace(path)


RUN_FILES = ("config.yaml", "metrics.csv", "checkpoint.pt", "q_tables.json", "tensorboard")
"""What a run folder holds; a folder with any of them holds a run."""


class RunFolderError(ValueError):
    """The run folder (``--out``) cannot be used: it holds another run, names a file, or is not writable."""


def run_files(folder: str | Path) -> list[str]:
    """The names of RUN_FILES present in ``folder`` (empty if it does not exist)."""
    folder = Path(folder)
    return [name for name in RUN_FILES if (folder / name).exists()] if folder.is_dir() else []


def prepare_run_folder(out: str | Path, resume: str | Path | None = None, overwrite: bool = False) -> Path:
    """Create ``out`` for a run, or refuse: a folder holding another run is continued only with ``resume``
    (naming that folder) and replaced only with ``overwrite`` (which deletes its run files first)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} names a file, not a folder; choose a folder path for the run")
    resume_dir = None if resume is None else (Path(resume) if Path(resume).is_dir() else Path(resume).parent)
    continuing = resume_dir is not None and out.exists() and resume_dir.resolve() == out.resolve()
    if continuing and overwrite:
        raise RunFolderError(f"--overwrite would delete the run in {out} that --resume continues; give one of them")
    present = run_files(out)
    if present and not continuing:
        if not overwrite:
            raise RunFolderError(f"{out} already holds a run ({', '.join(present)}); pass --resume {out} to continue "
                                 "it, --overwrite to replace it, or choose another --out")
        for name in present:
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):  # the one reliable test of writability (root ignores mode bits)
            pass
    except OSError as e:
        raise RunFolderError(f"cannot write the run folder {out}: {e.strerror or e}; choose a writable --out") from None
    clean_stale_temporaries(out)
    return out


def train(config: TrainConfig | dict, out: str | Path | None = None, resume: str | Path | None = None,
          progress: bool = True, stop_after_iterations: int | None = None, overwrite: bool = False) -> TrainResult:
    """Train ``config`` and return the learner and its metrics; with ``out`` also write a run folder.

    ``resume`` names a run folder (or checkpoint file) to continue from; a folder that already holds a
    run is refused unless ``resume`` continues it or ``overwrite`` replaces it. ``stop_after_iterations``
    ends the loop early (used to test resuming).
    """
    cfg = config if isinstance(config, TrainConfig) else make_config(config)
    cfg.validate()
    if cfg.tensorboard:
        _check_tensorboard(out)
    ckpt = None
    if resume is not None:
        ckpt = load_checkpoint(resume)
        check_compatible(ckpt["config"], cfg.to_dict())
    out_dir = prepare_run_folder(out, resume, overwrite) if out is not None else None
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    autoreset = {"autoreset": True} if cfg.runner == "autoreset" else {}
    env = make_env(cfg.env, batch_size=cfg.batch_size_run, device=device, seed=cfg.seed, **autoreset, **cfg.env_args)
    test_env = make_env(cfg.env, batch_size=cfg.test_episodes, device=device, seed=cfg.seed + TEST_SEED_OFFSET, **cfg.env_args)
    if ckpt is not None and ckpt.get("env_rules_version", 1) != env.rules_version:
        raise CheckpointError(
            f"{resume} was trained under version {ckpt.get('env_rules_version', 1)} of {cfg.env}'s rules; this library "
            f"has version {env.rules_version}, whose episodes differ, so the run cannot continue: retrain it (--overwrite), "
            "or resume it with the library version that made it")
    info = env.env_info()
    learner = make_learner(cfg, info, device)
    learner.reward_scale = resolve_reward_scale(cfg, env)
    buffer = EpisodeBuffer(info, cfg.buffer_size, device)
    runner = AutoresetRunner(env) if cfg.runner == "autoreset" else None
    explore_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    sample_gen = torch.Generator().manual_seed(cfg.seed + 2)
    counters = {"t_env": 0, "episodes": 0, "iteration": 0, "last_log": 0, "last_test": 0, "last_save": 0, "wall": 0.0}
    metrics: list[dict] = []
    if ckpt is not None:
        learner.load_state_dict(ckpt["learner"])
        buffer.load_state_dict(ckpt["buffer"])
        for gen, key in ((env.generator, "env_rng"), (test_env.generator, "test_env_rng"),
                         (explore_gen, "explore_rng"), (sample_gen, "sample_rng")):
            gen.set_state(ckpt[key].to(gen.device) if gen.device.type != "cpu" else ckpt[key])
        counters.update(ckpt["counters"])
        if runner is not None and ckpt.get("runner") is not None:
            runner.load_state_dict(ckpt["runner"])
        metrics = list(ckpt["metrics"])

    if out_dir is not None:
        (out_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    writer = _tensorboard(out_dir) if cfg.tensorboard else None

    def checkpoint():
        if out_dir is None:
            return
        save_checkpoint({
            "config": cfg.to_dict(), "learner": learner.state_dict(), "buffer": buffer.state_dict(),
            "env_rng": env.generator.get_state(), "test_env_rng": test_env.generator.get_state(),
            "explore_rng": explore_gen.get_state(), "sample_rng": sample_gen.get_state(),
            "counters": dict(counters), "metrics": metrics,
            "runner": runner.state_dict() if runner is not None else None,  # autoreset: the episodes in progress
            "env_rules_version": env.rules_version,
            # the partial averages of the next metrics row, so a resumed run logs the same numbers
            "recent_returns": list(recent_returns), "recent_terms": list(recent_terms),
        }, out_dir / "checkpoint.pt")

    from tqdm.auto import tqdm

    by_updates = cfg.max_updates > 0  # show progress in the unit that ends the run
    total = cfg.max_updates if by_updates else cfg.t_max
    bar = tqdm(total=total, initial=min(learner.n_updates if by_updates else counters["t_env"], total),
               disable=not progress, desc=f"{cfg.algo} on {cfg.env}", unit="update" if by_updates else "step")
    recent_returns, recent_terms = [], []
    if ckpt is not None:
        recent_returns, recent_terms = list(ckpt.get("recent_returns", [])), list(ckpt.get("recent_terms", []))
    start = time.perf_counter() - counters["wall"]
    iterations_here = 0
    full = _full_batch(cfg, env)

    def finished() -> bool:
        return counters["t_env"] >= cfg.t_max or 0 < cfg.max_updates <= learner.n_updates

    while not finished():
        eps = linear_epsilon(counters["t_env"], cfg.epsilon_start, cfg.epsilon_finish, cfg.epsilon_anneal_time)
        if full is not None:  # the exact uniform-exploration batch of a one-step game
            episodes, stats = full, {"return": full["reward"][:, 0]}
        else:
            per_episode = episode_epsilons(eps, env.batch_size, cfg.epsilon_uniform_fraction, env.device)  # float or [B]
            if runner is None:
                episodes, stats = run_episodes(env, learner, per_episode, explore_gen)
            else:  # B episodes as they complete; the ones still running continue next iteration
                episodes, stats = runner.collect(learner, per_episode, explore_gen)
            buffer.insert(episodes)
        steps = stats["steps"] if "steps" in stats else int(episodes["filled"].sum())  # env steps taken
        counters["t_env"] += steps
        counters["episodes"] += episodes["filled"].shape[0]
        counters["iteration"] += 1
        iterations_here += 1
        recent_returns.append(stats["return"].cpu())
        set_learning_rate(learner, cfg, counters["t_env"])
        if full is not None:
            recent_terms.append(learner.train_step(full))
        elif buffer.can_sample(cfg.batch_size):
            for _ in range(cfg.updates_per_iteration):
                recent_terms.append(learner.train_step(buffer.sample(cfg.batch_size, sample_gen)))
        bar.update(min((learner.n_updates if by_updates else counters["t_env"]) - bar.n, total - bar.n))
        done = finished()
        if done or counters["t_env"] - counters["last_log"] >= cfg.log_interval:
            counters["last_log"] = counters["t_env"]
            counters["wall"] = time.perf_counter() - start
            rets = torch.cat(recent_returns)
            row = {"t_env": counters["t_env"], "episodes": counters["episodes"], "updates": learner.n_updates,
                   "epsilon": eps, "return_mean": float(rets.mean()), "return_std": float(rets.std(unbiased=False)),
                   "wall_time": round(counters["wall"], 3)}
            if recent_terms:
                for k in recent_terms[0]:
                    row[k] = sum(t[k] for t in recent_terms) / len(recent_terms)
            test_due = cfg.test_interval > 0 and counters["t_env"] - counters["last_test"] >= cfg.test_interval
            if done or test_due:
                counters["last_test"] = counters["t_env"]
                row.update(evaluate(test_env, learner, cfg.test_episodes))
            metrics.append(row)
            recent_returns, recent_terms = [], []
            bar.set_postfix({k: round(row[k], 3) for k in ("return_mean", "test_return_mean", "loss") if k in row})
            if writer is not None:
                for k, v in row.items():
                    if k != "t_env":
                        writer.add_scalar(k, v, row["t_env"])
            if out_dir is not None:
                _write_metrics(out_dir / "metrics.csv", metrics)
        if not done and checkpoint_due(cfg, counters, learner.n_updates):  # the final checkpoint follows a finished run
            counters["wall"] = time.perf_counter() - start
            checkpoint()
        if stop_after_iterations is not None and iterations_here >= stop_after_iterations:
            break
    bar.close()
    if out_dir is not None and info.episode_limit == 1 and hasattr(env, "payoff"):
        from .analysis import q_tables  # before the final checkpoint, which marks the run folder complete

        tables = q_tables(learner, env)
        (out_dir / "q_tables.json").write_text(json.dumps(tables.to_json(), indent=1))
    counters["wall"] = time.perf_counter() - start
    checkpoint()
    if writer is not None:
        writer.close()
    return TrainResult(cfg, learner, env, metrics, out_dir)


def resolve_reward_scale(cfg: TrainConfig, env) -> float:
    """reward_scale=0 means auto: shrink matrix payoffs beyond +-30 to that range (Adam then fits them in the same time)."""
    if cfg.reward_scale > 0:
        return cfg.reward_scale
    peak = float(env.payoff.abs().max()) if hasattr(env, "payoff") else 0.0
    return 30.0 / peak if peak > 30.0 else 1.0


def checkpoint_due(cfg: TrainConfig, counters: dict, n_updates: int) -> bool:
    """Is a periodic checkpoint due? Every ``save_interval`` env steps; with 0 (auto) at each tenth of the run, measured
    in the unit that ends it (env steps, or updates under max_updates); -1: only the final checkpoint. Updates
    ``counters`` when due. Checkpoints read no random numbers, so the interval never changes a run's trajectory."""
    if cfg.save_interval > 0:
        due = counters["t_env"] - counters["last_save"] >= cfg.save_interval
    elif cfg.save_interval == 0:
        progress = n_updates / cfg.max_updates if cfg.max_updates > 0 else counters["t_env"] / cfg.t_max
        tenth = min(int(10 * progress), 10)
        due = tenth > counters.get("last_save_tenth", 0)
        if due:
            counters["last_save_tenth"] = tenth
    else:
        due = False
    if due:
        counters["last_save"] = counters["t_env"]
    return due


def scheduled_lr(cfg: TrainConfig, t_env: int, n_updates: int) -> float:
    """Linear annealing from lr to lr * lr_final_fraction over the run (by updates or env steps)."""
    progress = n_updates / cfg.max_updates if cfg.max_updates > 0 else t_env / cfg.t_max
    return cfg.lr * (1.0 - (1.0 - cfg.lr_final_fraction) * min(progress, 1.0))


def set_learning_rate(learner: Learner, cfg: TrainConfig, t_env: int) -> None:
    """Apply the linear learning-rate anneal (`lr_final_fraction`) for the current step; a no-op when it is 1."""
    if cfg.lr_final_fraction == 1.0:
        return
    lr = scheduled_lr(cfg, t_env, learner.n_updates)
    for group in learner.optimizer.param_groups:
        group["lr"] = lr


def _full_batch(cfg: TrainConfig, env):
    if not cfg.full_batch:
        return None
    if not hasattr(env, "payoff") or env.env_info().episode_limit != 1:
        raise ValueError(f"full_batch=true needs a one-step matrix game, not {cfg.env!r}")
    from .envs.matrix_game import joint_action_episodes

    return joint_action_episodes(env)


def _check_tensorboard(out_dir) -> None:
    """Fail before training starts when --tensorboard cannot work."""
    if out_dir is None:
        raise ValueError("--tensorboard needs an output folder (--out)")
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard (or drop --tensorboard)")


def _tensorboard(out_dir):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(out_dir / "tensorboard"))
