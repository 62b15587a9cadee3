"""Can QTRAN's transformation move the utilities to MGS's narrow peak when Q_jt is exact?

Writes results/gaussian_squeeze/diagnosis/oracle.md, used by book/05_paper_experiments. QTRAN learns in two halves:
Q_jt must learn the reward, and the utilities Q_i must then follow Q_jt through L_opt and L_nopt
(QTRAN-base) or L_nopt-min (QTRAN-alt). Here Q_jt is replaced by the true reward G (an oracle), so only
the second half is tested. Utilities: the library's MLP agent (input: the whole x and the agent id),
V_jt = 0 as in the authors' code, joint actions drawn as below, Adam lr 5e-4, no TD loss (one step).

Two settings:
- ``random x``: x ~ U(0, 2)^N redrawn every episode, the real task;
- ``fixed x``: one x drawn once per seed and kept, i.e. a 10-agent, 11-action matrix game.

How the joint actions u are drawn (``--sampling``):
- ``uniform``: every agent uniformly at random, the committed table;
- ``greedy``: epsilon-greedy around the utilities' current argmax (epsilon 0.1 per agent);
- ``mixed``: half of each batch uniform, half epsilon-greedy, the library's ``epsilon_uniform_fraction=0.5``
  (qtran_lib/configs/gaussian_squeeze_long.yaml).
``--lr-final`` lets the learning rate fall linearly to that fraction of 5e-4 (the library's lr_final_fraction).

Each run reports the greedy return (mean of the last 3 evaluations on 4,096 episodes) and its share of
the optimum: E_x[max_u G] for random x, max_u G for the fixed x.

    python scripts/oracle_squeeze.py                    # the committed table: QTRAN-base, both settings, 3 seeds
    python scripts/oracle_squeeze.py --losses alt --updates 4000 --seeds 0 --out -     # QTRAN-alt, a quick look
    python scripts/oracle_squeeze.py --settings random --sampling mixed --lr-final 0.05 --updates 40000 \
        --out results/gaussian_squeeze/diagnosis/oracle_mixed.md      # the long preset's data and schedule
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qtran_lib.agent_network import agent_inputs, input_dim, make_agent  # noqa: E402
from qtran_lib.envs.gaussian_squeeze import GaussianSqueeze, expected_optimal_return, squeeze_reward  # noqa: E402
from qtran_lib.exploration import episode_epsilons, epsilon_greedy  # noqa: E402
from qtran_lib.losses import nopt_loss, nopt_min_loss, opt_loss  # noqa: E402
from qtran_lib.transformation import counterfactual_transformed_q, transformed_q  # noqa: E402

N, A = 10, 11  # agents, actions (the paper's MGS)
LOSSES = {"base": "QTRAN-base (L_opt + L_nopt)", "alt": "QTRAN-alt (L_opt + L_nopt-min)"}
SETTINGS = ("random", "fixed")
SAMPLING = {"uniform": 1.0, "greedy": 0.0, "mixed": 0.5}  # share of each batch drawn uniformly at random
GREEDY_EPSILON = 0.1


def reward(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The oracle Q_jt = G.  x [..., N], u [..., N] -> [...]."""
    return squeeze_reward((u.to(x.dtype) * x).sum(-1) / N)


def counterfactual_actions(u: torch.Tensor) -> torch.Tensor:
    """u [B, N] -> [B, N, A, N]: entry (b, i, a) is u_b with agent i's action replaced by a."""
    b = u.shape[0]
    cf = u[:, None, None, :].expand(b, N, A, N).clone()
    i = torch.arange(N)
    cf[:, i, :, i] = torch.arange(A).expand(N, b, A)  # advanced indices first: [N, B, A]
    return cf


def transformation_losses(q: torch.Tensor, x: torch.Tensor, u: torch.Tensor, loss: str) -> torch.Tensor:
    """L_opt + L_nopt (base) or L_opt + L_nopt-min (alt) against the oracle, V_jt = 0.

    q [B, N, A] utilities, x [B, N], u [B, N] sampled joint actions -> scalar.
    """
    b = q.shape[0]
    v, mask = q.new_zeros(b), q.new_ones(b)
    q_max, u_bar = q.max(-1)  # [B, N]
    l_opt = opt_loss(transformed_q(q_max), reward(x, u_bar), v, mask)
    q_taken = q.gather(-1, u[..., None]).squeeze(-1)  # [B, N]
    if loss == "base":
        return l_opt + nopt_loss(transformed_q(q_taken), reward(x, u), v, mask)
    q_cf = counterfactual_transformed_q(q, q_taken)  # [B, N, A]
    g_cf = reward(x[:, None, None, :], counterfactual_actions(u))  # [B, N, A]
    return l_opt + nopt_min_loss(q_cf[:, None], g_cf[:, None], v[:, None], torch.ones_like(q_cf[:, None]), mask[:, None])


def run(setting: str, loss: str, seed: int, updates: int, batch: int = 256, evals: int = 8,
        sampling: str = "uniform", lr_final: float = 1.0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    agent = make_agent("mlp", input_dim(N, A, N, last_action=False, agent_id=True), A, 64, N)
    opt = torch.optim.Adam(agent.parameters(), lr=5e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0 + (lr_final - 1.0) * k / updates)
    eps = episode_epsilons(GREEDY_EPSILON, batch, SAMPLING[sampling])  # float or [batch]
    x_fixed = torch.rand(1, N, generator=gen) * 2  # [1, N]

    def draw(b: int) -> torch.Tensor:  # [b, N]
        return x_fixed.expand(b, N) if setting == "fixed" else torch.rand(b, N, generator=gen) * 2

    def utilities(x: torch.Tensor) -> torch.Tensor:  # [b, N] -> [b, N, A]
        obs = x[:, None, :].expand(-1, N, -1)  # every agent sees the whole x
        return agent(agent_inputs(obs, None, A, last_action=False, agent_id=True), None)[0]

    test_x = draw(4096)
    curve = []
    for k in tqdm(range(updates + 1), desc=f"{setting} x, {loss}, seed {seed}", leave=False):
        if k % (updates // evals) == 0:
            with torch.no_grad():
                curve.append(float(reward(test_x, utilities(test_x).argmax(-1)).mean()))
        if k == updates:
            break
        x = draw(batch)
        q = utilities(x)  # [batch, N, A]
        if sampling == "uniform":
            u = torch.randint(0, A, (batch, N), generator=gen)
        else:
            u = epsilon_greedy(q.detach(), torch.ones_like(q), eps, gen)  # [batch, N]
        opt.zero_grad()
        transformation_losses(q, x, u, loss).backward()
        opt.step()
        schedule.step()
    if setting == "fixed":
        env = GaussianSqueeze(batch_size=1)
        env.x = x_fixed.clone()
        optimum = float(env.optimal_return()[0])
    else:
        optimum = expected_optimal_return()
    final = sum(curve[-3:]) / 3
    return {"final": final, "optimum": optimum, "share": final / optimum, "curve": curve}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated, from random, fixed")
    ap.add_argument("--losses", default="base", help="comma-separated, from base, alt")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--updates", type=int, default=20000, help="gradient updates of 256 episodes per run")
    ap.add_argument("--sampling", default="uniform", choices=tuple(SAMPLING), help="how joint actions are drawn")
    ap.add_argument("--lr-final", type=float, default=1.0, help="learning rate at the end, as a fraction of 5e-4")
    ap.add_argument("--out", default=str(ROOT / "results" / "gaussian_squeeze" / "diagnosis" / "oracle.md"),
                    help="markdown file to write ('-' prints only)")
    args = ap.parse_args(argv)
    settings, losses = args.settings.split(","), args.losses.split(",")
    bad = [s for s in settings if s not in SETTINGS] + [v for v in losses if v not in LOSSES]
    if bad:
        raise SystemExit(f"unknown setting(s)/loss(es) {bad}; settings: {SETTINGS}, losses: {tuple(LOSSES)}")
    if not 0.0 < args.lr_final <= 1.0:
        raise SystemExit(f"--lr-final must lie in (0, 1], got {args.lr_final}")
    if args.updates < 8:
        raise SystemExit(f"--updates must be at least 8, got {args.updates}")
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    every = args.updates // 8
    lines = [f"| x | transformation | seed | greedy G every {every:,} updates | final | optimum | % of optimum |",
             "|---|---|---|---|---|---|---|"]
    for setting in settings:
        for loss in losses:
            for seed in seeds:
                r = run(setting, loss, seed, args.updates, sampling=args.sampling, lr_final=args.lr_final)
                lines.append(f"| {setting} | {LOSSES[loss]} | {seed} | {' '.join(f'{c:.2f}' for c in r['curve'])} | "
                             f"{r['final']:.3f} | {r['optimum']:.3f} | {100 * r['share']:.1f} |")
                print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    if args.out != "-":
        Path(args.out).write_text(
            "# QTRAN's transformation on MGS with an exact Q_jt (oracle)\n\n"
            f"Generated by `python scripts/oracle_squeeze.py --updates {args.updates} --settings {args.settings} "
            f"--losses {args.losses} --seeds {args.seeds} --sampling {args.sampling} --lr-final {args.lr_final}` "
            f"({args.updates:,} updates of 256 joint actions per run, drawn {args.sampling}; "
            "greedy G = mean return of the agents' argmaxes on 4,096 test episodes, 9 evaluations; "
            "final = mean of the last 3). See the script's docstring.\n\n"
            + table + "\n")


if __name__ == "__main__":
    main()
