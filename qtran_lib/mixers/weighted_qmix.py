"""Weighted QMIX's two joint estimators (Rashid et al. 2020): the monotonic Q_tot and the unrestricted Q^*.

Introduced in book/07_after_qtran. Q_tot is QMIX's mixer over the agents' utilities Q_i (what the agents
act on). Q^* ("Q-hat-star") is a central critic with no monotonicity constraint: its own agent network
gives per-agent values Q^*_i(tau_i, u_i), and a plain feed-forward network mixes them with the state
(the paper's Fig. 1, left). Q^* supplies the TD targets and, for CW-QMIX, the weights; it is never
used to act, so nothing about it needs to be decentralisable.

Sizes as in pymarl2's ``qmix_central_no_hyper.py`` and ``cw_qmix.yaml``: three ReLU hidden layers of
width 256 (``central_mixing_embed_dim``) over [state, Q^*_1..Q^*_N], plus a state value V(s) (2 layers)
in place of the last bias; the central agent network has the agents' architecture (``central_rnn`` with
64 hidden units there, the configured agent network here).
"""
from __future__ import annotations

import torch
from torch import nn

from .qmix import QMixer
from .qtran_base import mlp


class CentralMixer(nn.Module):
    """Q^*(s, u) = f([s, Q^*_1(u_1), ..., Q^*_N(u_N)]) + V(s), f a 3-hidden-layer ReLU network (unconstrained)."""

    def __init__(self, n_agents: int, state_dim: int, embed_dim: int = 256):
        super().__init__()
        self.net = mlp(state_dim + n_agents, embed_dim, 1, layers=3)
        self.v = mlp(state_dim, embed_dim, 1, layers=1)

    def forward(self, q_chosen: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """q_chosen: [B, T, N] (the central agents' values at u), state: [B, T, S] -> Q^* [B, T]."""
        return (self.net(torch.cat([state, q_chosen], dim=-1)) + self.v(state)).squeeze(-1)


class WeightedQMixer(nn.Module):
    """Holds Q_tot's monotonic mixer (``qmix``), Q^*'s agent network (``central_agent``) and mixer (``central``).

    Keeping all three in one module lets the learner's shared machinery (target copies, optimiser,
    checkpoints, the every-parameter-gets-a-gradient test) treat Q^* like any other joint network.
    """

    def __init__(self, qmix: QMixer, central_agent: nn.Module, central: CentralMixer):
        super().__init__()
        self.qmix, self.central_agent, self.central = qmix, central_agent, central

    def forward(self, q_chosen: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Q_tot: q_chosen [B, T, N], state [B, T, S] -> [B, T]."""
        return self.qmix(q_chosen, state)
