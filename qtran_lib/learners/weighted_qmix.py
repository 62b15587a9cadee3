"""Weighted QMIX (Rashid et al. 2020): CW-QMIX and OW-QMIX.

Introduced in book/07_after_qtran. Two estimators learn from one target (the paper's Sec. 5):

    y     = r + gamma Q^*^-(s', u_hat'),  u_hat' = argmax_u Q_tot(tau', u) = (argmax Q_i(tau'_i))_i
    L_Q*  = (Q^*(s, u) - y)^2                      trains Q^*'s agent network and feed-forward mixer
    L_tot = w(s, u) (Q_tot(tau, u) - y)^2          trains the agents' utilities and QMIX's mixer

and L = L_tot + L_Q*. y and w are constants, so neither loss reaches the other's networks. As in pymarl2's
``max_q_learner``: the online utilities pick u_hat' (double Q), the target Q^* evaluates it, and CW-QMIX
compares y with the target Q^* at the current greedy action u_hat. pymarl2 halves L_Q*; we keep the
paper's unhalved squared error (both losses have weight 1, as pymarl2's ``central_loss`` and ``qmix_loss``).
"""
from __future__ import annotations

import torch

from ..agent_network import MLPAgent, input_dim, make_agent, unroll
from ..exploration import greedy_actions
from ..losses import central_weights, masked_mean, optimistic_weights, td_loss, td_targets, weighted_td_loss
from ..mixers import CentralMixer, QMixer, WeightedQMixer
from .base import Learner, needs_bootstrap, step_slices


def _pick(x: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """x [..., A], actions [...] -> x at actions [...]."""
    return x.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


class WeightedQMIXLearner(Learner):
    """Weighted QMIX (book/07_after_qtran): QMIX's Q_tot trained with a weighted TD loss towards the central critic's targets."""
    weighting = "central"  # central (CW-QMIX) or optimistic (OW-QMIX)

    def build_mixer(self):
        c, i = self.cfg, self.info
        qmix = QMixer(i.n_agents, i.state_dim, c.mixing_embed_dim, c.hypernet_embed, c.hypernet_layers)
        in_dim = input_dim(i.obs_dim, i.n_actions, i.n_agents, c.obs_last_action, c.obs_agent_id)
        central_agent = make_agent(c.agent, in_dim, i.n_actions, c.hidden_dim, i.n_agents)
        return WeightedQMixer(qmix, central_agent, CentralMixer(i.n_agents, i.state_dim, c.wqmix_central_embed_dim))

    def central_utilities(self, batch, target: bool = False, next_step: bool = True) -> torch.Tensor:
        """Q^*'s per-agent values Q^*_i for every step: [B, T+1, N, A] ([B, T, ...] with next_step=False)."""
        agent = (self.target_mixer if target else self.mixer).central_agent
        x = self.episode_inputs(batch)
        if not next_step:
            x = x[:, :-1]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not target):
            return agent(x, None)[0] if isinstance(agent, MLPAgent) else unroll(agent, x)[0]

    def weights(self, s, actions, greedy, q_tot, y, qc_tgt) -> torch.Tensor:
        """w(s, u) [B, T] of the chosen weighting."""
        alpha = self.cfg.wqmix_alpha
        if self.weighting == "optimistic":
            return optimistic_weights(q_tot, y, alpha)
        with torch.no_grad():
            central_at_greedy = self.target_mixer.central(_pick(qc_tgt, greedy), s["state"])  # Q^*(s, u_hat) [B, T]
        return central_weights(actions, greedy, y, central_at_greedy, alpha)

    def losses(self, batch):
        s = step_slices(batch)
        steps, boot = s["mask"].shape[1], needs_bootstrap(s)
        u, mask = s["actions"], s["mask"]
        q, _ = self.unroll(batch, next_step=boot)  # Q_i      [B, T+1, N, A]
        qc = self.central_utilities(batch, next_step=False)  # Q^*_i  [B, T, N, A]
        q_now = q[:, :steps]
        q_tot = self.mixer(_pick(q_now, u), s["state"])  # Q_tot(tau, u)  [B, T]
        q_star = self.mixer.central(_pick(qc, u), s["state"])  # Q^*(s, u)   [B, T]
        u_hat = greedy_actions(q_now.detach(), s["avail"])  # Q_tot's greedy joint action  [B, T, N]

        with torch.no_grad():
            qc_tgt = self.central_utilities(batch, target=True, next_step=boot)  # [B, T(+1), N, A]
            next_star = torch.zeros_like(q_tot)
            if boot:
                chooser = q[:, 1:] if self.cfg.double_q else self.unroll(batch, target=True)[0][:, 1:]
                u_hat_next = greedy_actions(chooser, s["next_avail"])  # u_hat'  [B, T, N]
                next_star = self.target_mixer.central(_pick(qc_tgt[:, 1:], u_hat_next), s["next_state"])  # [B, T]
            y = td_targets(s["reward"], s["terminated"], mask, next_star, self.cfg.gamma, self.cfg.td_lambda)
        w = self.weights(s, u, u_hat, q_tot, y, qc_tgt[:, :steps])  # [B, T]

        l_tot = weighted_td_loss(q_tot, y, w, mask)
        l_central = td_loss(q_star, y, mask)
        return {"loss": l_tot + l_central, "td": l_tot, "central": l_central, "w_mean": masked_mean(w, mask)}

    def joint_q(self, q, h, actions, state):
        return self.mixer(_pick(q, actions), state)  # Q_tot, what the agents act on

    @torch.no_grad()
    def central_q(self, inputs: torch.Tensor, actions: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Q^*(s, u) of one-step inputs: inputs [..., N, in], actions [..., N], state [..., S] -> [...]."""
        agent = self.mixer.central_agent
        qc, _ = agent(inputs, agent.init_hidden(*inputs.shape[:-1], device=inputs.device))  # [..., N, A]
        return self.mixer.central(_pick(qc, actions), state)


class CWQMIXLearner(WeightedQMIXLearner):
    """CW-QMIX: full weight at Q_tot's greedy joint action or where the target beats Q*(s, u-hat), alpha elsewhere."""
    weighting = "central"


class OWQMIXLearner(WeightedQMIXLearner):
    """OW-QMIX: full weight where Q_tot underestimates the target, alpha elsewhere."""
    weighting = "optimistic"
