"""VDN (Sunehag et al. 2017): Q_tot(tau, u) = sum_i Q_i(tau_i, u_i). Introduced in book/03_vdn_qmix_limits."""
from __future__ import annotations

import torch
from torch import nn


class VDNMixer(nn.Module):
    """Additive factorisation; it has no parameters, so it is exactly the sum."""

    def forward(self, q_chosen: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """q_chosen: [B, T, N] -> Q_tot [B, T]."""
        return q_chosen.sum(dim=-1)


class IndependentMixer(nn.Module):
    """IQL: no mixing at all; each agent keeps its own Q_i and learns from the team reward."""

    def forward(self, q_chosen: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """q_chosen: [B, T, N] -> [B, T, N] unchanged."""
        return q_chosen
