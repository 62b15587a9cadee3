"""IQL, VDN and QMIX: one TD loss on the mixed value Q_tot (per agent for IQL).

Introduced in book/03_vdn_qmix_limits.
"""
from __future__ import annotations

import torch

from ..exploration import greedy_actions, max_available
from ..losses import td_loss, td_targets
from ..mixers import IndependentMixer, QMixer, VDNMixer
from .base import Learner, needs_bootstrap, step_slices


class ValueDecompositionLearner(Learner):
    """One TD loss on a mixed Q_tot of the taken actions' utilities; the subclasses differ only in the mixer."""
    mixer_name = "vdn"

    def build_mixer(self):
        if self.mixer_name == "iql":
            return IndependentMixer()
        if self.mixer_name == "vdn":
            return VDNMixer()
        c = self.cfg
        return QMixer(self.info.n_agents, self.info.state_dim, c.mixing_embed_dim, c.hypernet_embed, c.hypernet_layers)

    def losses(self, batch):
        s = step_slices(batch)
        steps, boot = s["mask"].shape[1], needs_bootstrap(s)
        q, _ = self.unroll(batch, next_step=boot)  # [B, T+1, N, A] ([B, T, ...] without bootstrap)
        chosen = q[:, :steps].gather(-1, s["actions"].unsqueeze(-1)).squeeze(-1)  # [B, T, N]
        q_tot = self.mixer(chosen, s["state"])  # [B, T] (IQL: [B, T, N])
        next_tot = torch.zeros_like(q_tot)
        if boot:
            with torch.no_grad():
                q_tgt, _ = self.unroll(batch, target=True)  # [B, T+1, N, A]
                if self.cfg.double_q:  # online argmax, target evaluation
                    nxt = greedy_actions(q[:, 1:], s["next_avail"])  # [B, T, N]
                    next_q = q_tgt[:, 1:].gather(-1, nxt.unsqueeze(-1)).squeeze(-1)  # [B, T, N]
                else:
                    next_q = max_available(q_tgt[:, 1:], s["next_avail"])
                next_tot = self.target_mixer(next_q, s["next_state"])  # [B, T] (IQL: [B, T, N])
        r, term = s["reward"], s["terminated"]
        if q_tot.dim() == 3:  # IQL: every agent learns from the shared team reward
            r, term = r.unsqueeze(-1), term.unsqueeze(-1)
        target = td_targets(r, term, s["mask"], next_tot, self.cfg.gamma, self.cfg.td_lambda)
        td = td_loss(q_tot, target, s["mask"])
        return {"loss": td, "td": td}

    def joint_q(self, q, h, actions, state):
        chosen = q.gather(-1, actions.unsqueeze(-1)).squeeze(-1)  # [..., N]
        if self.mixer_name == "qmix":
            return self.mixer(chosen, state)
        return chosen.sum(-1)  # VDN's Q_tot; for IQL the sum of utilities (IQL has no joint estimator)


class IQLLearner(ValueDecompositionLearner):
    """Independent Q-learning: every agent regresses the team reward on its own utility (no mixing)."""
    mixer_name = "iql"


class VDNLearner(ValueDecompositionLearner):
    """VDN: Q_tot is the sum of the utilities (book/03_vdn_qmix_limits)."""
    mixer_name = "vdn"


class QMIXLearner(ValueDecompositionLearner):
    """QMIX: Q_tot from a state-conditioned monotonic mixer (book/03_vdn_qmix_limits)."""
    mixer_name = "qmix"
