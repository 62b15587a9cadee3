"""What every learner shares: the agent network, target copies, the optimiser and one update step.

Introduced in book/03_vdn_qmix_limits. A learner owns targets, losses and the optimiser (the
runner owns the environment loop, the buffer owns the data). Subclasses define only
``build_mixer``, ``losses`` and ``joint_q``.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from ..agent_network import MLPAgent, agent_inputs, input_dim, make_agent, unroll
from ..config import TrainConfig
from ..envs.base import EnvInfo
from ..exploration import epsilon_greedy


class Learner:
    """What every algorithm shares: the agent network and its target copy, acting, unrolling, the optimiser step with
    clipping, target updates and checkpoint state; subclasses supply `build_mixer` and `losses`."""
    def __init__(self, cfg: TrainConfig, info: EnvInfo, device="cpu"):
        self.cfg, self.info, self.device = cfg, info, torch.device(device)
        in_dim = input_dim(info.obs_dim, info.n_actions, info.n_agents, cfg.obs_last_action, cfg.obs_agent_id)
        self.agent = make_agent(cfg.agent, in_dim, info.n_actions, cfg.hidden_dim, info.n_agents).to(self.device)
        self.mixer = self.build_mixer().to(self.device)
        self.target_agent = copy.deepcopy(self.agent).requires_grad_(False)
        self.target_mixer = copy.deepcopy(self.mixer).requires_grad_(False)
        self.params = list(self.agent.parameters()) + list(self.mixer.parameters())
        if cfg.optimizer == "adam":
            self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr, eps=cfg.optim_eps, foreach=True)
        else:
            self.optimizer = torch.optim.RMSprop(self.params, lr=cfg.lr, alpha=cfg.optim_alpha, eps=cfg.optim_eps,
                                                 foreach=True)
        self.n_updates = 0
        self.reward_scale = cfg.reward_scale or 1.0  # train() resolves reward_scale=0 (auto) per env

    # ---- to be defined by each algorithm -----------------------------------------------------
    def build_mixer(self) -> nn.Module:
        raise NotImplementedError

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Loss terms of one update; ``loss`` is the total that is minimised."""
        raise NotImplementedError

    def joint_q(self, q: torch.Tensor, h: torch.Tensor, actions: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """The algorithm's joint value at ``actions``.  q [..., N, A], h [..., N, H], actions [..., N] -> [...]."""
        raise NotImplementedError

    def joint_features(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """What ``joint_q`` and ``v_jt`` read per agent, from the agents' inputs x [..., N, in] and hidden
        features h [..., N, H]: h, unless an algorithm's joint networks have their own layers."""
        return h

    def v_jt(self, h: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """V_jt(tau) for QTRAN; 0 for algorithms without one.  h [..., N, H] -> [...]."""
        return h.new_zeros(h.shape[:-2])

    # ---- shared machinery --------------------------------------------------------------------
    def inputs(self, obs: torch.Tensor, last_actions: torch.Tensor | None) -> torch.Tensor:
        return agent_inputs(obs, last_actions, self.info.n_actions, self.cfg.obs_last_action, self.cfg.obs_agent_id)

    def episode_inputs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """[B, T+1, N, in]: each step's obs with the previous step's action (none at t = 0)."""
        prev = torch.cat([torch.zeros_like(batch["actions"][:, :1]), batch["actions"][:, :-1]], dim=1)  # [B, T+1, N]
        x = self.inputs(batch["obs"], prev)
        if self.cfg.obs_last_action:  # no previous action at t = 0: zero its one-hot
            a, o = self.info.n_actions, self.info.obs_dim
            x[:, 0, :, o:o + a] = 0.0
        return x

    @torch.no_grad()
    def act(self, obs, last_actions, hidden, avail, epsilon: float | torch.Tensor, generator=None):
        """One decentralised step for B episodes: obs [B,N,O], hidden [B,N,H] -> actions [B,N], hidden.

        ``epsilon`` is one rate for all episodes or a [B] tensor of per-episode rates (see epsilon_greedy)."""
        q, hidden = self.agent(self.inputs(obs, last_actions), hidden)  # [B, N, A]
        return epsilon_greedy(q, avail, epsilon, generator), hidden

    def unroll(self, batch: dict[str, torch.Tensor], target: bool = False, next_step: bool = True):
        """Q_i and h_i for every step of the sampled episodes: [B, T+1, N, A], [B, T+1, N, H].

        ``next_step=False`` skips the final step (only targets read it): [B, T, N, A], [B, T, N, H].
        """
        agent = self.target_agent if target else self.agent
        x = self.episode_inputs(batch)
        if not next_step:
            x = x[:, :-1]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not target):
            if isinstance(agent, MLPAgent):  # no hidden state to carry: all steps in one call
                return agent(x, None)
            return unroll(agent, x)

    def one_hot(self, actions: torch.Tensor) -> torch.Tensor:
        return F.one_hot(actions, self.info.n_actions).float()

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step on a batch of episodes; returns the loss terms as floats."""
        if self.reward_scale != 1.0:
            batch = {**batch, "reward": batch["reward"] * self.reward_scale}
        terms = self.losses(batch)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_norm_clip)
        self.optimizer.step()
        self.n_updates += 1
        if self.n_updates % self.cfg.target_update_interval == 0:
            self.update_targets()
        out = {k: float(v.detach()) for k, v in terms.items()}
        out["grad_norm"] = float(grad_norm)
        return out

    def update_targets(self) -> None:
        self.target_agent.load_state_dict(self.agent.state_dict())
        self.target_mixer.load_state_dict(self.mixer.state_dict())

    def state_dict(self) -> dict:
        return {
            "agent": self.agent.state_dict(), "mixer": self.mixer.state_dict(),
            "target_agent": self.target_agent.state_dict(), "target_mixer": self.target_mixer.state_dict(),
            "optimizer": self.optimizer.state_dict(), "n_updates": self.n_updates,
        }

    def load_state_dict(self, sd: dict) -> None:
        for name in ("agent", "mixer", "target_agent", "target_mixer"):
            try:
                getattr(self, name).load_state_dict(sd[name])
            except (RuntimeError, KeyError) as e:
                raise ValueError(f"checkpoint's {name} does not fit this configuration: {e}") from None
        self.optimizer.load_state_dict(sd["optimizer"])
        self.n_updates = int(sd["n_updates"])


def needs_bootstrap(s: dict[str, torch.Tensor]) -> bool:
    """False when every valid transition is terminal (one-step games): targets are then just r."""
    return bool(((1.0 - s["terminated"]) * s["mask"]).any())


def step_slices(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of transition t (index t) and of the next step (index t+1) used by every loss."""
    return {
        "actions": batch["actions"][:, :-1],  # [B, T, N]
        "reward": batch["reward"][:, :-1],  # [B, T]
        "terminated": batch["terminated"][:, :-1],  # [B, T]
        "mask": batch["filled"][:, :-1],  # [B, T]
        "state": batch["state"][:, :-1],  # [B, T, S]
        "next_state": batch["state"][:, 1:],  # [B, T, S]
        "avail": batch["avail"][:, :-1],  # [B, T, N, A]
        "next_avail": batch["avail"][:, 1:],  # [B, T, N, A]
    }
