"""QTRAN-base and QTRAN-alt: L = L_td + lambda_opt L_opt + lambda_nopt L_nopt(-min).

Introduced in book/04_qtran. The loss computation below reads like the paper (Sec. 3.2-3.3):
Q_i and h_i from the agents, Q_jt and V_jt from the joint networks, then the three losses.
"""
from __future__ import annotations

import torch

from ..agent_network import input_dim
from ..envs.base import joint_actions
from ..exploration import greedy_actions, max_available
from ..losses import nopt_loss, nopt_min_loss, opt_loss, td_loss, td_targets
from ..mixers import QTranAlt, QTranBase
from ..transformation import counterfactual_transformed_q, transformed_q
from .base import Learner, needs_bootstrap, step_slices


def _pick(x: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """x [..., A], actions [...] -> x at actions [...]."""
    return x.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


class QTranLearner(Learner):
    """QTRAN (book/04_qtran): L_td on Q_jt plus the transformation's constraint losses on the utilities and V_jt."""
    alt = False

    def build_mixer(self):
        c, i = self.cfg, self.info
        for opt, on in (("qtran_nopt_actions=all", c.qtran_nopt_actions == "all"),
                        ("qtran_td_target=joint_max", c.qtran_td_target == "joint_max")):
            if on and i.n_actions ** i.n_agents > 4096:  # fail before training starts
                raise ValueError(f"{opt} needs A^N <= 4096 joint actions, got {i.n_actions}^{i.n_agents}")
        cls = QTranAlt if self.alt else QTranBase
        features = c.hidden_dim
        if c.qtran_joint_input == "inputs":
            features = input_dim(i.obs_dim, i.n_actions, i.n_agents, c.obs_last_action, c.obs_agent_id)
        return cls(i.n_agents, i.n_actions, i.state_dim, features, c.qtran_embed_dim, c.qtran_use_state, c.qtran_use_v)

    def joint_features(self, x, h):
        return x if self.cfg.qtran_joint_input == "inputs" else h

    def unroll(self, batch, target=False, next_step=True):
        """Q_i [B, T(+1), N, A] and what the joint networks read per agent (``joint_features``)."""
        q, h = super().unroll(batch, target, next_step)
        if self.cfg.qtran_joint_input == "inputs":
            x = self.episode_inputs(batch)  # [B, T+1, N, in]
            h = x if next_step else x[:, :-1]
        return q, h

    def _joint(self, mixer, h, actions, state) -> torch.Tensor:
        """Q_jt(tau, u) [B, T]; for alt, every head's estimate at u [B, T, N]."""
        out = mixer(h, self.one_hot(actions), state)
        return _pick(out, actions) if self.alt else out

    def joint_q(self, q, h, actions, state):
        q_jt = self._joint(self.mixer, h, actions, state)
        return q_jt.mean(-1) if self.alt else q_jt

    def v_jt(self, h, state):
        return self.mixer.v(h, state)

    def td_target(self, s, q, h, batch) -> torch.Tensor:
        """y = r + gamma (1 - terminal) Q_jt^-(tau', u_bar') (paper), sum_i max Q_i^- (individual) or
        max_u Q_jt^-(tau', u) (joint_max); with td_lambda > 0 the TD(lambda) mix of these targets."""
        if not needs_bootstrap(s):
            return s["reward"]
        with torch.no_grad():
            q_tgt, h_tgt = self.unroll(batch, target=True)  # [B, T+1, N, A], [B, T+1, N, H]
            if self.cfg.qtran_td_target == "individual":
                next_q = max_available(q_tgt[:, 1:], s["next_avail"]).sum(-1)  # [B, T]
            elif self.cfg.qtran_td_target == "joint_max":
                next_q = self.joint_max_target(h[:, 1:], h_tgt[:, 1:], s)  # [B, T]
            else:
                chooser = q if self.cfg.double_q else q_tgt
                u_next = greedy_actions(chooser[:, 1:], s["next_avail"])  # [B, T, N]
                next_q = self._joint(self.target_mixer, h_tgt[:, 1:], u_next, s["next_state"])
                if self.alt:
                    next_q = next_q.mean(-1)
        return td_targets(s["reward"], s["terminated"], s["mask"], next_q, self.cfg.gamma, self.cfg.td_lambda)  # [B, T]

    def losses(self, batch):
        s = step_slices(batch)
        steps = s["mask"].shape[1]
        q, h = self.unroll(batch, next_step=needs_bootstrap(s))  # [B, T+1, N, A], [B, T+1, N, H]
        y = self.td_target(s, q, h, batch)  # [B, T]
        q_now, h_now, u, mask = q[:, :steps], h[:, :steps], s["actions"], s["mask"]
        if self.cfg.qtran_detach_features:
            h_now = h_now.detach()

        q_i_taken = _pick(q_now, u)  # Q_i(tau_i, u_i)            [B, T, N]
        u_bar = greedy_actions(q_now.detach(), s["avail"])  # u_bar_i = argmax Q_i   [B, T, N]
        q_i_max = _pick(q_now, u_bar)  # Q_i(tau_i, u_bar_i)      [B, T, N]
        v = self.mixer.v(h_now, s["state"])  # V_jt(tau)          [B, T]
        q_jt_bar = self._joint(self.mixer, h_now, u_bar, s["state"])  # Q_jt(tau, u_bar)  [B, T] (alt: [B, T, N])

        if not self.alt:
            q_jt = self.mixer(h_now, self.one_hot(u), s["state"])  # Q_jt(tau, u)  [B, T]
            l_td = td_loss(q_jt, y, mask)
            l_opt = opt_loss(transformed_q(q_i_max), q_jt_bar, v, mask)
            if self.cfg.qtran_nopt_actions == "all":
                l_nopt = self.nopt_all_actions(q_now, h_now, v, s["state"], s["avail"], mask)
            else:
                l_nopt = nopt_loss(transformed_q(q_i_taken), q_jt, v, mask)
        else:
            q_jt_cf = self.mixer(h_now, self.one_hot(u), s["state"])  # Q_jt(tau, ., u_-i)  [B, T, N, A]
            q_jt = _pick(q_jt_cf, u)  # every head's Q_jt(tau, u)  [B, T, N]
            l_td = td_loss(q_jt, y.unsqueeze(-1), mask)  # every head regresses on y
            l_opt = opt_loss(transformed_q(q_i_max).unsqueeze(-1), q_jt_bar, v.unsqueeze(-1), mask)
            q_cf = counterfactual_transformed_q(q_now, q_i_taken)  # Q'_jt(tau, ., u_-i) [B, T, N, A]
            l_nopt = nopt_min_loss(q_cf, q_jt_cf, v, s["avail"], mask)
        loss = l_td + self.cfg.lambda_opt * l_opt + self.cfg.lambda_nopt * l_nopt
        return {"loss": loss, "td": l_td, "opt": l_opt, "nopt": l_nopt}


class QTranBaseLearner(QTranLearner):
    """QTRAN-base: L_opt at the greedy joint action and L_nopt at the taken ones (paper Sec. 3.2)."""
    alt = False

    def q_jt_all_actions(self, mixer, h, state, avail) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q_jt(tau, u) at every joint action [B, T, U], which agent takes which action in each u [B, T, N, U],
        and 1 where every agent's action is available [B, T, U]. Cost: A^N joint values per step."""
        n = self.info.n_agents
        u_all = joint_actions(n, self.info.n_actions, h.device)  # [U, N]
        lead = h.shape[:2]  # B, T
        q_jt_all = mixer(h.unsqueeze(2).expand(*lead, len(u_all), *h.shape[2:]),
                         self.one_hot(u_all).expand(*lead, -1, -1, -1),
                         state.unsqueeze(2).expand(*lead, len(u_all), state.shape[-1]))  # [B, T, U]
        per_agent = u_all.T.expand(*lead, n, -1)  # [B, T, N, U]
        return q_jt_all, per_agent, avail.gather(-1, per_agent).prod(-2)

    def joint_max_target(self, h_next, h_tgt_next, s) -> torch.Tensor:
        """Q_jt^-(tau', u*') with u*' = argmax_u Q_jt(tau', u) over all available joint actions (double Q: the
        online Q_jt picks, the target evaluates), so Q_jt learns Q* whatever the utilities' greedy action is."""
        q_tgt_all, _, ok = self.q_jt_all_actions(self.target_mixer, h_tgt_next, s["next_state"], s["next_avail"])  # [B, T, U]
        chooser = q_tgt_all
        if self.cfg.double_q:
            chooser = self.q_jt_all_actions(self.mixer, h_next, s["next_state"], s["next_avail"])[0]
        best = chooser.masked_fill(ok == 0, float("-inf")).argmax(-1, keepdim=True)  # [B, T, 1]
        return q_tgt_all.gather(-1, best).squeeze(-1)

    def nopt_all_actions(self, q_now, h_now, v, state, avail, mask) -> torch.Tensor:
        """L_nopt at every joint action u, not only the sampled one: Theorem 1 asks Q'_jt(u) >= Q_jt(u) for
        all u, and a sampled u rarely is Q_jt's argmax when it differs from u_bar."""
        q_jt_all, per_agent, ok = self.q_jt_all_actions(self.mixer, h_now, state, avail)  # [B, T, U], [B, T, N, U]
        q_sum_all = transformed_q(q_now.gather(-1, per_agent).transpose(-1, -2))  # Q'_jt(tau, u) [B, T, U]
        return nopt_loss(q_sum_all, q_jt_all, v.unsqueeze(-1), mask.unsqueeze(-1) * ok)


class QTranAltLearner(QTranLearner):
    """QTRAN-alt: counterfactual joint heads and L_nopt-min, the stronger condition of Theorem 2."""
    alt = True
