"""QTRAN-base's joint action-value network f_r and state-value network f_v (paper Sec. 3.2).

Introduced in book/04_qtran. Both read the agents' hidden features h_i (the shared lower layers):
Q_jt(tau, u) from the agent-sum of action encodings h_Q,i(tau_i, u_i), and V_jt(tau) from the
agent-sum of action-free encodings h_V,i(tau_i). The sum keeps the input size independent of N.
"""
from __future__ import annotations

import torch
from torch import nn


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int = 2) -> nn.Sequential:
    """`layers` hidden Linear+ReLU layers of width `hidden`, then a linear output: the joint networks' building block."""
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


class QTranBase(nn.Module):
    """f_r: (h, u) -> Q_jt(tau, u) and f_v: h -> V_jt(tau)."""

    def __init__(self, n_agents: int, n_actions: int, state_dim: int, feature_dim: int, embed_dim: int = 64,
                 use_state: bool = True, use_v: bool = True):
        super().__init__()
        self.n_actions, self.use_state, self.use_v = n_actions, use_state, use_v
        extra = state_dim if use_state else 0
        self.action_encoder = mlp(feature_dim + n_actions, embed_dim, embed_dim, layers=1)  # h_Q,i
        self.q_head = mlp(embed_dim + extra, embed_dim, 1)
        if use_v:
            self.state_encoder = mlp(feature_dim, embed_dim, embed_dim, layers=1)  # h_V,i
            self.v_head = mlp(embed_dim + extra, embed_dim, 1)

    def _with_state(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, state], dim=-1) if self.use_state else x

    def forward(self, h: torch.Tensor, actions_onehot: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """h: [B, T, N, H], actions_onehot: [B, T, N, A], state: [B, T, S] -> Q_jt [B, T]."""
        enc = self.action_encoder(torch.cat([h, actions_onehot], dim=-1)).sum(dim=-2)  # [B, T, E]
        return self.q_head(self._with_state(enc, state)).squeeze(-1)

    def v(self, h: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """h: [B, T, N, H] -> V_jt [B, T] (identically 0 when the V network is disabled)."""
        if not self.use_v:
            return h.new_zeros(h.shape[:-2])
        enc = self.state_encoder(h).sum(dim=-2)  # [B, T, E]
        return self.v_head(self._with_state(enc, state)).squeeze(-1)
