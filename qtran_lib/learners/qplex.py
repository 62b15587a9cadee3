"""QPLEX: one TD loss on the duplex-dueling Q_tot; IGM needs no extra loss because the mixer guarantees it.

Introduced in book/07_after_qtran. Target as in pymarl2's ``dmaq_qatten_learner``: the online utilities
pick u_bar' (double Q), the target networks evaluate Q_tot^-(tau', u_bar') with the advantages taken
against the target utilities' own max.
"""
from __future__ import annotations

import torch

from ..exploration import greedy_actions, max_available
from ..losses import td_loss, td_targets
from ..mixers import QPLEXMixer
from .base import Learner, needs_bootstrap, step_slices


def _pick(x: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """x [..., A], actions [...] -> x at actions [...]."""
    return x.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


class QPLEXLearner(Learner):
    """QPLEX (book/07_after_qtran): one TD loss on the duplex dueling Q_tot."""
    def build_mixer(self):
        c, i = self.cfg, self.info
        return QPLEXMixer(i.n_agents, i.n_actions, i.state_dim, c.qplex_embed_dim, c.qplex_heads, c.qplex_stop_gradient,
                          c.qplex_attention_layers)

    def q_tot(self, mixer, q: torch.Tensor, actions: torch.Tensor, avail: torch.Tensor,
              state: torch.Tensor) -> torch.Tensor:
        """Q_tot(tau, u) from utilities q [..., N, A] at actions [..., N] -> [...]."""
        q_taken = _pick(q, actions)  # Q_i(tau_i, u_i)     [..., N]
        any_avail = avail.sum(-1) > 0  # padded steps have no available action
        q_max = torch.where(any_avail, max_available(q, avail), q_taken)  # V_i(tau_i) = max Q_i  [..., N]
        return mixer(q_taken, q_max, self.one_hot(actions), state)

    def losses(self, batch):
        s = step_slices(batch)
        steps, boot = s["mask"].shape[1], needs_bootstrap(s)
        q, _ = self.unroll(batch, next_step=boot)  # [B, T+1, N, A] ([B, T, ...] without bootstrap)
        q_tot = self.q_tot(self.mixer, q[:, :steps], s["actions"], s["avail"], s["state"])  # [B, T]
        next_tot = torch.zeros_like(q_tot)
        if boot:
            with torch.no_grad():
                q_tgt, _ = self.unroll(batch, target=True)  # [B, T+1, N, A]
                chooser = q[:, 1:] if self.cfg.double_q else q_tgt[:, 1:]
                u_next = greedy_actions(chooser, s["next_avail"])  # u_bar'  [B, T, N]
                next_tot = self.q_tot(self.target_mixer, q_tgt[:, 1:], u_next, s["next_avail"], s["next_state"])
        y = td_targets(s["reward"], s["terminated"], s["mask"], next_tot, self.cfg.gamma, self.cfg.td_lambda)
        td = td_loss(q_tot, y, s["mask"])
        return {"loss": td, "td": td}

    def joint_q(self, q, h, actions, state):
        return self.q_tot(self.mixer, q, actions, torch.ones_like(q), state)
