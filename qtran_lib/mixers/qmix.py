"""QMIX (Rashid et al. 2018): a monotonic mixing network whose weights come from hypernetworks of the state.

Introduced in book/03_vdn_qmix_limits. ``|W|`` keeps dQ_tot/dQ_i >= 0, the monotonicity that
makes the per-agent argmax consistent with the joint argmax.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _hypernet(state_dim: int, out: int, embed: int, layers: int) -> nn.Module:
    if layers == 1:
        return nn.Linear(state_dim, out)
    if layers == 2:
        return nn.Sequential(nn.Linear(state_dim, embed), nn.ReLU(), nn.Linear(embed, out))
    raise ValueError(f"hypernet_layers must be 1 or 2, got {layers}")


class QMixer(nn.Module):
    """Q_tot = f_s(Q_1..Q_N) with non-negative, state-generated weights, so that dQ_tot/dQ_i >= 0 (monotonic)."""
    def __init__(self, n_agents: int, state_dim: int, embed_dim: int = 32, hypernet_embed: int = 64,
                 hypernet_layers: int = 2):
        super().__init__()
        self.n_agents, self.embed_dim = n_agents, embed_dim
        self.hyper_w1 = _hypernet(state_dim, embed_dim * n_agents, hypernet_embed, hypernet_layers)
        self.hyper_w2 = _hypernet(state_dim, embed_dim, hypernet_embed, hypernet_layers)
        self.hyper_b1 = nn.Linear(state_dim, embed_dim)
        self.v = nn.Sequential(nn.Linear(state_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, 1))

    def forward(self, q_chosen: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """q_chosen: [B, T, N], state: [B, T, S] -> Q_tot [B, T]."""
        w1 = self.hyper_w1(state).abs().view(*state.shape[:-1], self.n_agents, self.embed_dim)  # [B, T, N, E]
        b1 = self.hyper_b1(state)  # [B, T, E]
        hidden = F.elu((q_chosen.unsqueeze(-2) @ w1).squeeze(-2) + b1)  # [B, T, E]
        w2 = self.hyper_w2(state).abs()  # [B, T, E]
        return (hidden * w2).sum(-1) + self.v(state).squeeze(-1)  # [B, T]
