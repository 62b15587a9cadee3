"""PettingZoo ``ParallelEnv`` adapter for one battle (B = 1). Optional: needs ``pip install pettingzoo``.

Agents are ``agent_0 .. agent_{N-1}``. Each observation is a dict with the SMAC observation
and an ``action_mask`` (int8), the convention PettingZoo's samplers and tests understand; the
info dict carries the same ``action_mask``. As in SMAC, a fallen agent stays in ``agents`` until
the battle ends, with no-op as its only legal action; when the battle ends (win, loss, draw or time
limit) every agent is done.

An action must be an integer in the action space (``'1'``, ``1.7`` or ``99`` raise
``InvalidActionError``). An *unavailable* one (masked out) is handled by ``invalid_action``:

- ``"noop"`` (default): substitutes stop (a live unit) or no-op (a fallen one), reports the substitution
  in that agent's ``info["invalid_action"]`` and warns once per environment;
- ``"raise"``: raises ``InvalidActionError`` (the native batched API always does this).

Why ``"noop"`` by default: a PettingZoo ``Discrete`` action space promises that every sample from it
is a legal input to ``step``, and PettingZoo's own tests (``parallel_seed_test``, ``state_test``) and
mask-unaware tools sample without the mask; SMAC's convention for an agent that cannot act is the
no-op/stop. The substitution is never silent (info entry and a warning); choose ``"raise"`` to catch
a policy that ignores the mask.
"""
from __future__ import annotations

try:
    import gymnasium
    import numpy as np
    from pettingzoo import ParallelEnv
except ImportError as e:  # pragma: no cover - exercised only without the optional dependency
    raise ImportError("the PettingZoo adapter needs the optional dependency: pip install pettingzoo") from e

import operator
import warnings

import torch

from ..base import InvalidActionError
from .env import StarCraftEnv

NOOP, STOP = 0, 1  # SMAC's action ids: 0 no-op (fallen units only), 1 stop
INVALID_ACTION_POLICIES = ("noop", "raise")


class StarCraftParallelEnv(ParallelEnv):
    """One StarCraft battle behind PettingZoo's parallel API."""

    metadata = {"name": "qtran_starcraft_v0", "render_modes": ["human", "rgb_array"], "is_parallelizable": True}

    def __init__(self, scenario: str = "3m", seed: int | None = None, render_mode: str | None = None,
                 invalid_action: str = "noop", **options):
        if invalid_action not in INVALID_ACTION_POLICIES:
            raise ValueError(f"invalid_action must be one of {', '.join(INVALID_ACTION_POLICIES)}, got {invalid_action!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.invalid_action = invalid_action
        self._warned = False
        self._figure = None
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
        obs = self._observe()
        return obs, {a: {"action_mask": obs[a]["action_mask"]} for a in self.agents}

    def _action_index(self, agent: str, action) -> int:
        """An integer action in [0, n_actions): ints and NumPy integers, never '1', 1.7 or True."""
        n = self._act_spaces[agent].n
        if isinstance(action, (bool, np.bool_)) or isinstance(action, (str, bytes, float, np.floating)):
            raise InvalidActionError(f"action of {agent} must be an integer in [0, {n - 1}], got {action!r}")
        try:
            a = operator.index(action.item() if isinstance(action, np.ndarray) and action.ndim == 0 else action)
        except TypeError:
            raise InvalidActionError(f"action of {agent} must be an integer in [0, {n - 1}], got {action!r}") from None
        if not 0 <= a < n:
            raise InvalidActionError(f"action of {agent} must lie in [0, {n - 1}], got {a}")
        return a

    def step(self, actions: dict):
        missing = [ag for ag in self.agents if ag not in actions]
        unknown = [ag for ag in actions if ag not in self.agents]
        if not self.agents:
            raise RuntimeError("step() called after the battle ended; call reset() first")
        if missing or unknown:
            raise InvalidActionError(f"step() needs one action for each of {self.agents}; "
                                     f"missing {missing}, not in the battle {unknown}")
        chosen = [self._action_index(ag, actions[ag]) for ag in self.possible_agents]
        avail = self.env.get_avail_actions()[0]  # [N, A]
        substituted = {}
        for i, ag in enumerate(self.possible_agents):
            if avail[i, chosen[i]] <= 0:
                if self.invalid_action == "raise":
                    raise InvalidActionError(f"unavailable action {chosen[i]} for {ag}; available: "
                                             f"{avail[i].nonzero().flatten().tolist()} (see its action_mask)")
                replacement = STOP if avail[i, STOP] > 0 else NOOP
                substituted[ag] = {"requested": chosen[i], "applied": replacement}
                chosen[i] = replacement
        if substituted and not self._warned:
            self._warned = True
            ag, sub = next(iter(substituted.items()))
            warnings.warn(f"unavailable actions were replaced by stop/no-op (e.g. {ag}: {sub['requested']} -> "
                          f"{sub['applied']}); each is reported in info['invalid_action'] (warned once per env); "
                          "pass invalid_action='raise' to make it an error", stacklevel=2)
        a = torch.tensor([chosen], dtype=torch.long, device=self.env.device)
        r, term, info = self.env.step(a)
        done_t, done_tr = bool(term[0]), bool(info["truncated"][0])
        extra = {"battle_won": bool(info["battle_won"][0]), "dead_allies": int(info["dead_allies"][0]),
                 "dead_enemies": int(info["dead_enemies"][0])}
        obs = self._observe()
        agents = self.agents
        rewards = {ag: float(r[0]) for ag in agents}
        terms = {ag: done_t for ag in agents}
        truncs = {ag: done_tr for ag in agents}
        infos = {ag: {**extra, "action_mask": obs[ag]["action_mask"]} for ag in agents}
        for ag, sub in substituted.items():
            infos[ag]["invalid_action"] = sub
        obs = {ag: obs[ag] for ag in agents}
        if done_t or done_tr:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def state(self):
        return self.env.get_state()[0].cpu().numpy()

    def render(self):
        """``rgb_array`` (or no render_mode): the battle as an [H, W, 3] uint8 image. ``human``: shows the frame in a
        matplotlib window (when the backend is interactive) and returns None, as PettingZoo specifies."""
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        from .render import render_frame

        if self._figure is not None:
            plt.close(self._figure)
            self._figure = None
        fig = render_frame(self.env, 0)
        if self.render_mode == "human":
            self._figure = fig
            if "agg" not in matplotlib.get_backend().lower():
                plt.show(block=False)
                plt.pause(0.001)
            return None
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        frame = np.asarray(canvas.buffer_rgba())[..., :3].copy()
        plt.close(fig)
        return frame

    def close(self):
        if self._figure is not None:
            import matplotlib.pyplot as plt

            plt.close(self._figure)
            self._figure = None


def to_pettingzoo(scenario: str = "3m", **kw) -> StarCraftParallelEnv:
    """A PettingZoo ParallelEnv of one battle of ``scenario``."""
    return StarCraftParallelEnv(scenario, **kw)
