"""Where each method fails on predator-prey: its critic, or the step from critic to decentralised policy.

Used by results/README.md and book/05_paper_experiments. The 2-predator task has only 13,800 placements, so after training we can
read every network on every placement and compare it with exact values from
``qtran_lib.envs.predator_prey`` (``tabulate``, ``policy_return``, ``q_values``). For each method:

- `return π`: the exact mean 100-step return of the agents' greedy policy ū = (argmax_a Q_i), which the
  greedy test episodes estimate (`test`, the run's last evaluation);
- `return π_jt`: the exact return of the *centralised* policy argmax_u Q(s, u) of the method's own joint
  value (Q_jt for QTRAN, Σ Q_i for VDN, the mixer's output for QMIX), to see whether the critic knows
  better than the agents act;
- `agree`: share of placements where ū is also the argmax of that joint value (1 for VDN and QMIX by
  construction; for QTRAN it shows how far the utilities follow Q_jt);
- `corr Q^π`, `MAE Q^π`: the joint value against the exact discounted Q^π(s, u) of the greedy policy (what
  the TD target estimates), over all placements and joint actions;
- `corr Q*`: the joint value against the exact optimal Q*(s, u).

    python scripts/probe_predator_prey.py                    # P = 1.5 and P = 0, endless (~25 min on one core)
    python scripts/probe_predator_prey.py --penalties 1.5 --algos vdn,qtran_base --out -
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qtran_lib import make_config, train  # noqa: E402
from qtran_lib.config import load_yaml  # noqa: E402
from qtran_lib.envs.base import joint_action_index, joint_actions  # noqa: E402
from qtran_lib.envs.predator_prey import PredatorPrey, optimal_return, policy_return, q_values, tabulate  # noqa: E402

# on top of the preset qtran_lib/configs/predator_prey.yaml: the authors' endless scenario and targets
# refreshed every 20 updates instead of 200 (about 60 refreshes in a 120k run instead of 6)
OVERRIDES = dict(env_args={"terminate_on_capture": False}, target_update_interval=20)


@torch.no_grad()
def joint_table(learner, obs: torch.Tensor, state: torch.Tensor, n_actions: int):
    """The agents' greedy joint action [S] and the method's joint value at every joint action [S, U]."""
    q, h = learner.agent(learner.inputs(obs, None), None)  # [S, N, A], [S, N, H]
    n_states, n_agents = q.shape[:2]
    greedy = joint_action_index(q.argmax(-1), n_actions)  # [S] row of joint_actions
    values = [learner.joint_q(q, h, u.expand(n_states, n_agents), state) for u in joint_actions(n_agents, n_actions)]
    return greedy, torch.stack(values, -1).double()  # [S], [S, U]


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1])


def probe(learner, model, penalty: float, gamma: float) -> dict[str, float]:
    d = int(round(model.cells ** 0.5))
    env = PredatorPrey(model.n_predators, 1, d, penalty, batch_size=len(model.states))
    env.pos = torch.stack([model.states % d, model.states // d], -1)
    greedy, joint = joint_table(learner, env.get_obs(), env.get_state(), 5)
    q_pi = q_values(model, greedy, terminate_on_capture=False, gamma=gamma)  # [S, U]
    q_star = q_values(model, None, terminate_on_capture=False, gamma=gamma)
    return {"return π": policy_return(model, greedy, terminate_on_capture=False),
            "return π_jt": policy_return(model, joint.argmax(-1), terminate_on_capture=False),
            "agree": float((joint.argmax(-1) == greedy).double().mean()),
            "corr Q^π": corr(joint, q_pi), "MAE Q^π": float((joint - q_pi).abs().mean()),
            "corr Q*": corr(joint, q_star)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--penalties", default="1.5,0", help="comma-separated P values")
    ap.add_argument("--algos", default="vdn,qmix,qtran_base,qtran_alt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=120_000, help="env steps per run (the preset's 120k)")
    ap.add_argument("--out", default=str(ROOT / "results" / "predator_prey" / "probe.md"),
                    help="markdown file to write ('-' prints only)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    penalties = [float(p) for p in args.penalties.split(",") if p.strip()]
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    sections = []
    for penalty in penalties:
        model = tabulate(penalty)
        rows = {}
        for algo in algos:
            cfg = make_config(load_yaml("predator_prey"), algo=algo, env=f"predator_prey:penalty={penalty}",
                              seed=args.seed, t_max=args.steps, **OVERRIDES)
            result = train(cfg, progress=True)
            rows[algo] = {"test": result.final["test_return_mean"], **probe(result.learner, model, penalty, cfg.gamma)}
            print(f"P={penalty}", algo, {k: round(v, 4) for k, v in rows[algo].items()}, flush=True)
        cols = list(next(iter(rows.values())))
        lines = [f"## P = {penalty}: optimum {optimal_return(penalty, False, model=model):.2f}, "
                 f"always staying {policy_return(model, torch.full((len(model.states),), 12), False):.2f}", "",
                 "| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        lines += [f"| {a} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + " |" for a, r in rows.items()]
        sections.append("\n".join(lines))
        print(sections[-1], flush=True)
    if args.out != "-":
        Path(args.out).write_text(
            "# Predator-prey: each method's networks on all 13,800 placements against exact values\n\n"
            f"Generated by `python scripts/probe_predator_prey.py --penalties {args.penalties} --algos {args.algos} "
            f"--seed {args.seed} --steps {args.steps}`: the preset qtran_lib/configs/predator_prey.yaml in the "
            "endless mode with `target_update_interval=20`, one seed. See the script's docstring for the "
            "columns.\n\n" + "\n\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
