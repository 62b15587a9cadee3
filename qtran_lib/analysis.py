"""Read a trained learner's value tables on a one-step game: Q_i, Q_jt, Q'_jt, V_jt and Theorem 1's gap.

Introduced in book/03_vdn_qmix_limits. Tables are indexed by the agents' actions, like the payoff.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .envs.base import joint_actions
from .exploration import greedy_actions
from .transformation import theorem1_gap, transformed_q

MAX_JOINT_ACTIONS = 100_000


@dataclass
class QTables:
    """A learner's tables on a one-step game, indexed like the payoff: what chapters 3, 4 and 7 plot and assert on."""
    payoff: torch.Tensor  # [A] * N
    q_i: torch.Tensor  # [N, A] each agent's utilities
    q_jt: torch.Tensor  # [A] * N the algorithm's joint value (VDN/IQL: the sum, QMIX: Q_tot)
    q_sum: torch.Tensor  # [A] * N Q'_jt = sum_i Q_i(u_i)
    v_jt: float  # V_jt (0 without a V network)
    greedy_action: tuple[int, ...]  # (argmax_u Q_1, ..., argmax_u Q_N)

    @property
    def gap(self) -> torch.Tensor:
        """Q'_jt - Q_jt + V_jt for every joint action (Theorem 1: 0 at the greedy action, >= 0 elsewhere)."""
        return theorem1_gap(self.q_sum, self.q_jt, torch.tensor(self.v_jt))

    @property
    def greedy_payoff(self) -> float:
        return float(self.payoff[self.greedy_action])

    def to_json(self) -> dict:
        r = lambda t: torch.round(t * 1e4).div(1e4).tolist()  # noqa: E731
        return {"payoff": self.payoff.tolist(), "q_i": r(self.q_i), "q_jt": r(self.q_jt), "q_sum": r(self.q_sum),
                "v_jt": round(self.v_jt, 4), "gap": r(self.gap), "greedy_action": list(self.greedy_action),
                "greedy_payoff": self.greedy_payoff}


@torch.no_grad()
def q_tables(learner, env) -> QTables:
    """Evaluate every joint action of a one-step game (``env`` must have a ``payoff`` tensor)."""
    if not hasattr(env, "payoff"):
        raise TypeError(f"q_tables needs a one-step game with a payoff table, got {type(env).__name__}")
    info = env.env_info()
    n, a = info.n_agents, info.n_actions
    if a ** n > MAX_JOINT_ACTIONS:
        raise ValueError(f"{a}^{n} joint actions are too many to tabulate (limit {MAX_JOINT_ACTIONS})")
    dev = learner.device
    obs = torch.ones(1, n, info.obs_dim, device=dev)
    state = torch.ones(1, info.state_dim, device=dev)
    avail = torch.ones(1, n, a, device=dev)
    hidden = learner.agent.init_hidden(1, n, device=dev)
    x = learner.inputs(obs, None)  # [1, N, in]
    q, h = learner.agent(x, hidden)  # [1, N, A], [1, N, H]
    f = learner.joint_features(x, h)  # [1, N, F]: what the joint networks read (h_i, or x_i with qtran_joint_input=inputs)
    joint = joint_actions(n, a, dev)  # [A^N, N]
    m = joint.shape[0]
    qs, fs, ss = q.expand(m, n, a), f.expand(m, n, f.shape[-1]), state.expand(m, info.state_dim)
    q_jt = learner.joint_q(qs, fs, joint, ss)  # [A^N]
    q_sum = transformed_q(qs.gather(-1, joint.unsqueeze(-1)).squeeze(-1))  # [A^N]
    unscale = 1.0 / getattr(learner, "reward_scale", 1.0)  # report values in payoff units
    v = float(learner.v_jt(f, state).reshape(-1)[0]) * unscale
    shape = (a,) * n
    greedy = tuple(int(x) for x in greedy_actions(q[0], avail[0]))
    return QTables(env.payoff.cpu(), q[0].cpu() * unscale, q_jt.reshape(shape).cpu() * unscale,
                   q_sum.reshape(shape).cpu() * unscale, v, greedy)


def format_table(t: torch.Tensor, labels: str = "ABCDEFGHIJKLMNOPQRSTU") -> str:
    """A 2-D table as aligned text with action letters (rows: agent 1, columns: agent 2)."""
    if t.dim() != 2:
        return str(t.tolist())
    head = "      " + " ".join(f"{labels[j]:>8}" for j in range(t.shape[1]))
    rows = [f"{labels[i]:>5} " + " ".join(f"{float(x):8.2f}" for x in t[i]) for i in range(t.shape[0])]
    return "\n".join([head, *rows])
