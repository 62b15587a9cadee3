"""QTRAN-alt's counterfactual joint network (paper Sec. 3.3).

Introduced in book/04_qtran. Head i returns the whole vector Q_jt(tau, ., u_-i): one value for
every action of agent i while the others keep their actions. Its input is agent i's action-free
feature h_V,i(tau_i) and the others' summed action encodings sum_{j != i} h_Q,j(tau_j, u_j);
the heads share weights, so one pass yields all N x |U| counterfactual values.
"""
from __future__ import annotations

import torch
from torch import nn

from .qtran_base import mlp


class QTranAlt(nn.Module):
    """QTRAN-alt's counterfactual joint network: Q_jt(tau, ., u_-i) for every agent i and V_jt, from the agents' features."""
    def __init__(self, n_agents: int, n_actions: int, state_dim: int, feature_dim: int, embed_dim: int = 64,
                 use_state: bool = True, use_v: bool = True):
        super().__init__()
        self.use_state, self.use_v = use_state, use_v
        extra = state_dim if use_state else 0
        self.action_encoder = mlp(feature_dim + n_actions, embed_dim, embed_dim, layers=1)  # h_Q,j
        self.state_encoder = mlp(feature_dim, embed_dim, embed_dim, layers=1)  # h_V,i
        self.q_head = mlp(2 * embed_dim + extra, embed_dim, n_actions)
        if use_v:
            self.v_head = mlp(embed_dim + extra, embed_dim, 1)

    def forward(self, h: torch.Tensor, actions_onehot: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """h: [B, T, N, H], actions_onehot: [B, T, N, A], state: [B, T, S] -> Q_jt(tau, ., u_-i) [B, T, N, A]."""
        enc = self.action_encoder(torch.cat([h, actions_onehot], dim=-1))  # [B, T, N, E]
        others = enc.sum(dim=-2, keepdim=True) - enc  # [B, T, N, E]  sum over j != i
        own = self.state_encoder(h)  # [B, T, N, E]
        x = torch.cat([own, others], dim=-1)
        if self.use_state:
            x = torch.cat([x, state.unsqueeze(-2).expand(*own.shape[:-1], state.shape[-1])], dim=-1)
        return self.q_head(x)

    def v(self, h: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """h: [B, T, N, H] -> V_jt [B, T] (identically 0 when the V network is disabled)."""
        if not self.use_v:
            return h.new_zeros(h.shape[:-2])
        enc = self.state_encoder(h).sum(dim=-2)  # [B, T, E]
        if self.use_state:
            enc = torch.cat([enc, state], dim=-1)
        return self.v_head(enc).squeeze(-1)
