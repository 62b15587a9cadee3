"""PettingZoo ``ParallelEnv`` adapter for one battle (B = 1). Optional: needs ``pip install pettingzoo``.

Agents are ``agent_0 .. agent_{N-1}``. Each observation is a dict with the SMAC observation
and an ``action_mask`` (int8), the convention PettingZoo's samplers and tests understand.
As in SMAC, a fallen agent stays in ``agents`` until the battle ends, with no-op as its only
legal action; when the battle ends (win, loss, draw or time limit) every agent is done.
"""
from __future__ import annotations

try:
    import gymnasium
    import numpy as np
    from pettingzoo import ParallelEnv
except ImportError as e:  # pragma: no cover - exercised only without the optional dependency
    raise ImportError("the PettingZoo adapter needs the optional dependency: pip install pettingzoo") from e

import torch

from .env import StarCraftEnv


class StarCraftParallelEnv(ParallelEnv):
    """One StarCraft battle behind PettingZoo's parallel API."""

    metadata = {"name": "qtran_starcraft_v0", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(self, scenario: str = "3m", seed: int | None = None, render_mode: str | None = None, **options):
        self.env = StarCraftEnv(scenario, batch_size=1, seed=seed, **options)
        info = self.env.env_info()
        self.possible_agents = [f"agent_{i}" for i in range(info.n_agents)]
        self.agents: list[str] = []
        self.render_mode = render_mode
        obs_space = gymnasium.spaces.Dict({
            "observation": gymnasium.spaces.Box(-np.inf, np.inf, (info.obs_dim,), np.float32),
            "action_mask": gymnasium.spaces.Box(0, 1, (info.n_actions,), np.int8),
        })
        act_space = gymnasium.spaces.Discrete(info.n_actions)
        self._obs_spaces = {a: obs_space for a in self.possible_agents}
        self._act_spaces = {a: act_space for a in self.possible_agents}
        self.state_space = gymnasium.spaces.Box(-np.inf, np.inf, (info.state_dim,), np.float32)

    def observation_space(self, agent):
        return self._obs_spaces[agent]

    def action_space(self, agent):
        return self._act_spaces[agent]

    def _observe(self) -> dict:
        obs = self.env.get_obs()[0].cpu().numpy()
        mask = self.env.get_avail_actions()[0].cpu().numpy().astype(np.int8)
        return {a: {"observation": obs[i], "action_mask": mask[i]} for i, a in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.env.reset(seed=seed)
        self.agents = list(self.possible_agents)
        return self._observe(), {a: {} for a in self.agents}

    def step(self, actions: dict):
        a = torch.tensor([[int(actions[ag]) for ag in self.possible_agents]], dtype=torch.long, device=self.env.device)
        r, term, info = self.env.step(a)
        done_t, done_tr = bool(term[0]), bool(info["truncated"][0])
        extra = {"battle_won": bool(info["battle_won"][0]), "dead_allies": int(info["dead_allies"][0]),
                 "dead_enemies": int(info["dead_enemies"][0])}
        obs = self._observe()
        agents = self.agents
        rewards = {ag: float(r[0]) for ag in agents}
        terms = {ag: done_t for ag in agents}
        truncs = {ag: done_tr for ag in agents}
        infos = {ag: dict(extra) for ag in agents}
        obs = {ag: obs[ag] for ag in agents}
        if done_t or done_tr:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def state(self):
        return self.env.get_state()[0].cpu().numpy()

    def render(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        from .render import render_frame

        canvas = FigureCanvasAgg(render_frame(self.env, 0))
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def close(self):
        pass


def to_pettingzoo(scenario: str = "3m", **kw) -> StarCraftParallelEnv:
    """A PettingZoo ParallelEnv of one battle of ``scenario``."""
    return StarCraftParallelEnv(scenario, **kw)
