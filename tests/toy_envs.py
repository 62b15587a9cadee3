"""Tiny hand-made environments for tests: a multi-step game with unavailable actions."""
from __future__ import annotations

import torch

from qtran_lib.envs.base import EnvInfo, MultiAgentEnv


class CoordinationChain(MultiAgentEnv):
    """2 agents, 3 actions, 3 steps; reward 1 when both pick the same action; action 2 unavailable to agent 1."""

    def env_info(self):
        return EnvInfo(n_agents=2, n_actions=3, obs_dim=2, state_dim=3, episode_limit=3)

    def _reset(self):
        self.pos = torch.zeros(self.batch_size, device=self.device)

    def _step(self, actions):
        reward = (actions[:, 0] == actions[:, 1]).float()
        self.pos = torch.where(self.active, self.pos + 1, self.pos)
        return reward, torch.zeros_like(reward, dtype=torch.bool), {}

    def get_obs(self):
        t = self.pos.view(-1, 1, 1).expand(-1, 2, 1) / 3
        return torch.cat([t, torch.ones_like(t)], dim=-1)

    def get_state(self):
        return torch.stack([self.pos / 3, torch.ones_like(self.pos), torch.zeros_like(self.pos)], dim=-1)

    def get_avail_actions(self):
        avail = torch.ones(self.batch_size, 2, 3, device=self.device)
        avail[:, 1, 2] = 0.0
        return avail
