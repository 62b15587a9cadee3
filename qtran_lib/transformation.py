"""QTRAN's transformation (paper Sec. 3.1, Theorems 1 and 2) on tensors.

Introduced in book/04_qtran. Q'_jt is the additive sum of the agents' utilities; V_jt closes the
gap between max Q_jt and that sum; Theorem 1 says [Q_i] factorises Q_jt when the gap
Q'_jt - Q_jt + V_jt is 0 at the greedy joint action and >= 0 everywhere else.
"""
from __future__ import annotations

import torch


def transformed_q(q_i_taken: torch.Tensor) -> torch.Tensor:
    """Q'_jt(tau, u) = sum_i Q_i(tau_i, u_i).  q_i_taken: [..., N] -> [...]."""
    return q_i_taken.sum(dim=-1)


def counterfactual_transformed_q(q_i_all: torch.Tensor, q_i_taken: torch.Tensor) -> torch.Tensor:
    """Q'_jt(tau, ., u_-i) = Q_i(tau_i, .) + sum_{j != i} Q_j(tau_j, u_j).

    q_i_all: [..., N, A], q_i_taken: [..., N] -> [..., N, A].
    """
    others = q_i_taken.sum(dim=-1, keepdim=True) - q_i_taken  # [..., N]
    return q_i_all + others.unsqueeze(-1)


def v_jt_from_definition(q_jt_max: torch.Tensor, q_i_max: torch.Tensor) -> torch.Tensor:
    """V_jt(tau) = max_u Q_jt(tau, u) - sum_i Q_i(tau_i, u_bar_i).  q_i_max: [..., N] -> [...]."""
    return q_jt_max - q_i_max.sum(dim=-1)


def theorem1_gap(q_sum: torch.Tensor, q_jt: torch.Tensor, v_jt: torch.Tensor) -> torch.Tensor:
    """Q'_jt(tau, u) - Q_jt(tau, u) + V_jt(tau): Theorem 1 wants 0 at u_bar and >= 0 elsewhere."""
    return q_sum - q_jt + v_jt


def satisfies_theorem1(gap_table: torch.Tensor, greedy: tuple[int, ...], atol: float = 1e-6) -> bool:
    """Check conditions (4a) and (4b) on a full table of gaps indexed by joint action."""
    at_opt = gap_table[greedy].abs() <= atol
    elsewhere = bool((gap_table >= -atol).all())
    return bool(at_opt) and elsewhere
