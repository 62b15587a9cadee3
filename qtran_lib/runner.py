"""The environment loop: roll out B parallel episodes with decentralised epsilon-greedy agents.

Introduced in book/01_dec_pomdp. Each agent acts on its own observation and recurrent state only
(decentralised execution); the global state is merely recorded for centralised training.
"""
from __future__ import annotations

import torch

from .envs.base import MultiAgentEnv
from .replay_buffer import empty_episodes


@torch.no_grad()
def run_episodes(env: MultiAgentEnv, learner, epsilon: float | torch.Tensor, generator: torch.Generator | None = None):
    """Play one batch of ``env.batch_size`` episodes to the end.

    Returns the padded episode batch {field: [B, T+1, ...]} and per-episode stats:
    ``return`` [B], ``length`` [B] and, where the task reports it, ``battle_won`` [B].
    """
    info = env.env_info()
    b, dev = env.batch_size, env.device
    data = empty_episodes(info, b, dev)
    obs, state, avail = env.reset()
    hidden = learner.agent.init_hidden(b, info.n_agents, device=dev)  # [B, N, H]
    last_actions = None
    active = torch.ones(b, dtype=torch.bool, device=dev)
    returns = torch.zeros(b, device=dev)
    won = torch.zeros(b, dtype=torch.bool, device=dev)
    for t in range(info.episode_limit):
        data["obs"][:, t], data["state"][:, t], data["avail"][:, t] = obs, state, avail
        actions, hidden = learner.act(obs, last_actions, hidden, avail, epsilon, generator)  # [B, N]
        reward, terminated, step_info = env.step(actions)
        live = active.float()
        data["actions"][:, t] = actions * active.unsqueeze(-1)
        data["reward"][:, t] = reward
        data["terminated"][:, t] = terminated.float()
        data["filled"][:, t] = live
        returns += reward
        if "battle_won" in step_info:
            won |= step_info["battle_won"].bool() & active
        obs, state, avail = env.get_obs(), env.get_state(), env.get_avail_actions()
        data["obs"][:, t + 1], data["state"][:, t + 1], data["avail"][:, t + 1] = obs, state, avail
        last_actions = actions
        active = step_info["active"]
        if not bool(active.any()):
            break
    stats = {"return": returns, "length": data["filled"].sum(1)}
    if "battle_won" in step_info:  # only tasks with a win condition report it
        stats["battle_won"] = won.float()
    return data, stats
