"""Why QTRAN-base stays on MGS's wide bump: probe the trained networks around the narrow peak.

Writes results/gaussian_squeeze/diagnosis/probe.md, used by book/05_paper_experiments. For each training variant this trains
QTRAN-base on the multi-domain Gaussian squeeze (seed 0), then, on 4,096 fresh test episodes, compares

- the greedy joint action ū = (argmax_a Q_i): its reward G, Q_jt(ū) and Q'_jt(ū) = Σ_i Q_i(ū_i) + V_jt;
- uniformly random joint actions: how well Q_jt fits G there (MSE and correlation);
- joint actions that hit the global peak (load ξ within reach of 8.02, G > 7; the best of 64 random
  joint actions per episode): G, Q_jt and Q'_jt there.

If Q_jt(peak) ≈ G(peak) but Q'_jt(peak) < Q'_jt(ū), the joint network has found the peak and the
individual utilities have not followed it (L_nopt only sees the rare sampled peak actions).

    python scripts/probe_squeeze.py                 # every variant (~15 min on one core)
    python scripts/probe_squeeze.py --variants preset --out -
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qtran_lib import make_config, make_env, train  # noqa: E402
from qtran_lib.config import load_yaml  # noqa: E402
from qtran_lib.envs.gaussian_squeeze import squeeze_reward  # noqa: E402

# name -> (env spec, config overrides) on top of the preset qtran_lib/configs/gaussian_squeeze.yaml
# (full observation, replay of 10,000 one-step episodes = the last ~310 updates, 3,000 updates)
VARIANTS: dict[str, tuple[str, dict]] = {
    "preset": ("gaussian_squeeze", {}),
    # ego observation, replay holding the whole run, 10k updates
    "ego_long": (
        "gaussian_squeeze:obs_mode=ego",
        dict(buffer_size=320_000, t_max=320_000, epsilon_anneal_time=144_000, test_interval=16_000,
             log_interval=16_000)),
    # ego observation, replay holding the whole run, uniform random exploration throughout, 6k updates
    "ego_uniform": (
        "gaussian_squeeze:obs_mode=ego",
        dict(buffer_size=192_000, t_max=192_000, epsilon_finish=1.0, test_interval=9_600, log_interval=9_600)),
}

DESCRIPTIONS = {
    "preset": "the preset: full observation, replay of the last 10,000 episodes (~310 updates), 3,000 updates",
    "ego_long": "obs_mode=ego, replay holding the whole run, 10,000 updates",
    "ego_uniform": "obs_mode=ego, replay holding the whole run, uniformly random exploration throughout, 6,000 updates",
}
LEGEND = "\n".join(f"- `{k}`: {v}" for k, v in DESCRIPTIONS.items())


@torch.no_grad()
def probe(learner, env_spec: str, episodes: int = 4096, seed: int = 123) -> dict[str, float]:
    env = make_env(env_spec, batch_size=episodes, seed=seed)
    obs, state, _ = env.reset()  # [B, N, O], [B, S]
    n, a = env.n_agents, env.n_actions
    x = env.x  # [B, N] private resources

    def reward(u):  # u [B, N] -> G [B]
        return squeeze_reward((u.float() * x).sum(-1) / n)

    x = learner.inputs(obs, None)  # [B, N, in]
    q, h = learner.agent(x, None)  # [B, N, A], [B, N, H]
    f = learner.joint_features(x, h)  # [B, N, F]: h_i, or x_i with qtran_joint_input=inputs
    v = learner.v_jt(f[:, None], state[:, None])[:, 0]  # [B]

    def q_jt(u):
        return learner.joint_q(q[:, None], f[:, None], u[:, None], state[:, None])[:, 0]  # [B]

    def q_prime(u):
        return q.gather(-1, u[..., None]).squeeze(-1).sum(-1) + v  # [B]

    g = torch.Generator().manual_seed(seed)
    u_bar = q.argmax(-1)  # [B, N]
    u_rand = torch.randint(0, a, (episodes, n), generator=g)
    cand = torch.randint(0, a, (64, episodes, n), generator=g)  # [K, B, N]
    best = ((cand.float() * x).sum(-1) / n - 8.02).abs().argmin(0)  # [B]
    u_peak = cand[best, torch.arange(episodes)]
    at_peak = reward(u_peak) > 7.0
    g_r, q_r = reward(u_rand), q_jt(u_rand)
    return {
        "greedy G": float(reward(u_bar).mean()),
        "greedy Q_jt": float(q_jt(u_bar).mean()),
        "greedy Q'_jt": float(q_prime(u_bar).mean()),
        "random-u MSE of Q_jt": float(((g_r - q_r) ** 2).mean()),
        "random-u corr(Q_jt, G)": float(torch.corrcoef(torch.stack([g_r, q_r]))[0, 1]),
        "peak G": float(reward(u_peak)[at_peak].mean()),
        "peak Q_jt": float(q_jt(u_peak)[at_peak].mean()),
        "peak Q'_jt": float(q_prime(u_peak)[at_peak].mean()),
        "greedy Q'_jt (same episodes)": float(q_prime(u_bar)[at_peak].mean()),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    ap.add_argument("--out", default=str(ROOT / "results" / "gaussian_squeeze" / "diagnosis" / "probe.md"),
                    help="markdown file to write ('-' prints only)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    rows = {}
    for name in names:
        spec, over = VARIANTS[name]
        cfg = make_config(load_yaml("gaussian_squeeze"), algo="qtran_base", env=spec, seed=0, **over)
        result = train(cfg, progress=True)
        rows[name] = {"updates": result.learner.n_updates, **probe(result.learner, spec)}
        print(name, {k: round(v, 4) for k, v in rows[name].items()}, flush=True)
    cols = list(next(iter(rows.values())))
    lines = ["| variant | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols)
              + " |" for name, r in rows.items()]
    table = "\n".join(lines)
    print(table)
    if args.out != "-":
        Path(args.out).write_text("# QTRAN-base on MGS: where the networks stand after training\n\n"
                                  "Generated by `python scripts/probe_squeeze.py` (seed 0, QTRAN-base, "
                                  "4,096 probe episodes); see its docstring for the columns.\n\n" + LEGEND
                                  + "\n\n" + table + "\n")


if __name__ == "__main__":
    main()
