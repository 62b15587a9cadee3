"""QPLEX (Wang et al. 2021, "QPLEX: Duplex Dueling Multi-Agent Q-Learning"): IGM built into the mixer.

Introduced in book/07_after_qtran. Three steps, named as the paper names them:

1. Individual dueling: V_i(tau_i) = max_a Q_i(tau_i, a) and A_i(tau_i, u_i) = Q_i(tau_i, u_i) - V_i(tau_i) <= 0,
   zero exactly at agent i's greedy action.
2. Transformation (conditioned on the state s): Q_i(tau, u_i) = w_i(s) Q_i(tau_i, u_i) + b_i(s) with
   w_i(s) > 0, hence V_i(tau) = w_i(s) V_i(tau_i) + b_i(s) and A_i(tau, u_i) = w_i(s) A_i(tau_i, u_i)
   (the bias cancels in the advantage).
3. Duplex dueling: Q_tot(tau, u) = sum_i V_i(tau) + sum_i lambda_i(tau, u) A_i(tau, u_i) with
   lambda_i(tau, u) > 0 from a multi-head attention over the state and the joint action.

IGM by construction: every A_i is <= 0 and 0 at agent i's greedy action, and every lambda_i is > 0, so
sum_i lambda_i A_i <= 0 with equality at the greedy joint action u_bar = (argmax Q_1, ..., argmax Q_N):
argmax_u Q_tot(tau, u) = u_bar for any parameters. Completeness (the paper's Sec. 3, the class equals the
IGM class): take any Q_jt whose argmax is u_bar and any utilities with that argmax. Set V(tau) = Q_jt(tau, u_bar)
through the biases; at every other u the sum of advantages is < 0 and Q_jt(tau, u) - V(tau) <= 0, so
lambda(tau, u) = (Q_jt(tau, u) - V(tau)) / sum_i A_i(tau, u_i) >= 0 reproduces Q_jt(tau, u) exactly
(lambda must depend on the joint action u for this, which is why the attention reads u). A lambda of 0 is
the boundary of the open set lambda > 0, so QPLEX approximates such Q_jt arbitrarily well.

Facts taken from the paper and pymarl2's public QPLEX (``dmaq_general.py``, ``dmaq_si_weight.py``,
``qplex.yaml``), and what we chose:

- w_i(s) = |f_w(s)| + 1e-10 and b_i(s) = f_b(s), each a 2-layer network of width ``embed_dim`` (64);
- lambda_i = sum_k kappa_k(s) * sigmoid(g_k(s))_i * sigmoid(h_k(s, u))_i over K = ``heads`` heads, with the key
  kappa_k(s) = |k_k(s)| + 1e-10 (a scalar per head), every extractor a network of width 64 with
  ``attention_layers`` hidden layers, and u the agents' one-hot actions; every factor is positive, so
  lambda_i > 0. pymarl2's SMAC setting has K = 4 and one hidden layer (``adv_hypernet_layers: 2``); the authors'
  matrix-game setting (wjh720/QPLEX, ``src/config/algs/qplex.yaml``) has K = 10 and two (``adv_hypernet_layers: 3``).
  On the 3x3 game of QTRAN's paper the setting decides the outcome: with one hidden layer (and Adam on the full
  batch) training settles with Q_tot(A, A) below the greedy cell in 10/10 seeds; the authors' depth, with their
  RMSprop and minibatches of 32 uniform joint actions, finds (A, A) in 9/10 (results/after_qtran/matrix,
  method ``qplex_authors``);
- V_i uses max_a Q_i with the max detached (pymarl2 maxes over a detached copy);
- ``stop_gradient=True`` (the authors' and pymarl2's code with ``is_minus_one``; their ``is_stop_gradient`` flag is
  read nowhere, the advantage is always detached): Q_tot is computed as
  sum_i Q_i(tau, u_i) + sum_i (lambda_i - 1) sg[A_i(tau, u_i)], equal in value to the duplex form, where
  the advantage in the attention term is detached: Q_i reaches Q_tot only through the transformed
  sum_i Q_i(tau, u_i) (gradient w_i), the attention is trained by the advantages' values. With
  ``stop_gradient=False`` the duplex form is differentiated as written (gradient lambda_i w_i).
"""
from __future__ import annotations

import torch
from torch import nn

from .qtran_base import mlp

EPS = 1e-10  # pymarl2's floor: w_i and the attention keys stay strictly positive


def duplex_dueling(q_taken: torch.Tensor, q_max: torch.Tensor, w: torch.Tensor, b: torch.Tensor,
                   lam: torch.Tensor, stop_gradient: bool = True) -> torch.Tensor:
    """Q_tot = sum_i V_i + sum_i lambda_i A_i with V_i = w_i max Q_i + b_i and A_i = w_i (Q_i(u_i) - max Q_i).

    Symbol | Shape | Meaning
    ------ | ----- | -------
    q_taken | [..., N] | Q_i(tau_i, u_i) at the joint action u
    q_max | [..., N] | max_a Q_i(tau_i, a) (treated as a constant)
    w, b | [..., N] | the transformation's weights w_i(s) > 0 and biases b_i(s)
    lam | [..., N] | lambda_i(tau, u) > 0
    return | [...] | Q_tot(tau, u)
    """
    q_max = q_max.detach()
    adv = w * (q_taken - q_max)  # A_i(tau, u_i) <= 0          [..., N]
    if stop_gradient:
        transformed = w * q_taken + b  # V_i + A_i                  [..., N]
        return transformed.sum(-1) + ((lam - 1.0) * adv.detach()).sum(-1)
    v = w * q_max + b  # V_i(tau)                                     [..., N]
    return v.sum(-1) + (lam * adv).sum(-1)


class QPLEXMixer(nn.Module):
    """Q_tot = sum_i w_i V_i + sum_i lambda_i A_i with w_i, lambda_i > 0: IGM by construction, every IGM table representable."""
    def __init__(self, n_agents: int, n_actions: int, state_dim: int, embed_dim: int = 64, heads: int = 4,
                 stop_gradient: bool = True, attention_layers: int = 1):
        super().__init__()
        self.n_agents, self.n_actions, self.stop_gradient = n_agents, n_actions, stop_gradient
        self.hyper_w = mlp(state_dim, embed_dim, n_agents, layers=1)  # w_i(s) before |.|
        self.hyper_b = mlp(state_dim, embed_dim, n_agents, layers=1)  # b_i(s)
        self.keys = nn.ModuleList(mlp(state_dim, embed_dim, 1, layers=attention_layers) for _ in range(heads))  # kappa_k(s)
        self.agent_queries = nn.ModuleList(mlp(state_dim, embed_dim, n_agents, layers=attention_layers)
                                           for _ in range(heads))
        self.action_queries = nn.ModuleList(mlp(state_dim + n_agents * n_actions, embed_dim, n_agents,
                                                layers=attention_layers) for _ in range(heads))

    def transformation(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """state [..., S] -> w_i(s) > 0 [..., N], b_i(s) [..., N]."""
        return self.hyper_w(state).abs() + EPS, self.hyper_b(state)

    def attention(self, state: torch.Tensor, actions_onehot: torch.Tensor) -> torch.Tensor:
        """lambda_i(tau, u) > 0: state [..., S], actions_onehot [..., N, A] -> [..., N]."""
        su = torch.cat([state, actions_onehot.flatten(-2)], dim=-1)  # [..., S + N*A]
        lam = 0.0
        for key, agents, acts in zip(self.keys, self.agent_queries, self.action_queries):
            lam = lam + (key(state).abs() + EPS) * torch.sigmoid(agents(state)) * torch.sigmoid(acts(su))  # [..., N]
        return lam

    def forward(self, q_taken: torch.Tensor, q_max: torch.Tensor, actions_onehot: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        """q_taken, q_max: [B, T, N], actions_onehot: [B, T, N, A], state: [B, T, S] -> Q_tot [B, T]."""
        w, b = self.transformation(state)  # [B, T, N] each
        lam = self.attention(state, actions_onehot)  # [B, T, N]
        return duplex_dueling(q_taken, q_max, w, b, lam, self.stop_gradient)
