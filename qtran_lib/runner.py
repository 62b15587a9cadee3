"""The environment loop: roll out B parallel episodes with decentralised epsilon-greedy agents.

Introduced in book/01_dec_pomdp. Each agent acts on its own observation and recurrent state only
(decentralised execution); the global state is merely recorded for centralised training.
``run_episodes`` plays a lockstep batch to its end; ``AutoresetRunner`` steps an ``autoreset``
env continuously and hands over episodes as they end (``train``'s ``runner: autoreset``).
"""
from __future__ import annotations

import torch

from .envs.base import MultiAgentEnv
from .exploration import epsilon_greedy
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


class AutoresetRunner:
    """The environment loop over an ``autoreset`` env: step all B rows continuously and hand each episode over
    (padded to the episode limit, zero after its last step) as soon as it ends.

    Every episode a row starts is eventually stored whole, and episodes still running when ``collect`` returns
    continue in the next call, so the stored episodes are the rows' episode streams in order of completion: no
    bias toward short episodes, no frozen rows. Recurrent state and the last-action input restart per row.
    """

    def __init__(self, env: MultiAgentEnv):
        if not getattr(env, "autoreset", False):
            raise ValueError(f"AutoresetRunner needs an env built with autoreset=True, got {env!r}")
        self.env = env
        self.started = False
        self.pending: list[tuple[dict, dict]] = []  # episodes completed beyond the last call's quota

    def _start(self, learner) -> None:
        env, info = self.env, self.env.env_info()
        b, dev = env.batch_size, env.device
        self.rows = torch.arange(b, device=dev)
        self.slots = empty_episodes(info, b, dev)  # the episodes in progress, [B, T+1, ...]
        self.obs, self.state, self.avail = env.reset()
        self.slots["obs"][:, 0], self.slots["state"][:, 0], self.slots["avail"][:, 0] = self.obs, self.state, self.avail
        self.h0 = learner.agent.init_hidden(1, info.n_agents, device=dev)  # [1, N, H]
        self.hidden = self.h0.expand(b, -1, -1).clone()  # [B, N, H]
        self.last = torch.zeros(b, info.n_agents, dtype=torch.long, device=dev)  # [B, N]
        self.first = torch.ones(b, dtype=torch.bool, device=dev)  # [B] no previous action in this episode
        self.returns = torch.zeros(b, device=dev)
        self.won = torch.zeros(b, dtype=torch.bool, device=dev)
        self.started = True

    def _act(self, learner, epsilon, generator) -> torch.Tensor:
        """``learner.act`` with the last-action one-hot zeroed in rows whose episode just began."""
        x = learner.inputs(self.obs, self.last)  # [B, N, in]
        if learner.cfg.obs_last_action:
            o, a = self.obs.shape[-1], learner.info.n_actions
            x[..., o:o + a] *= (~self.first).to(x.dtype)[:, None, None]
        q, self.hidden = learner.agent(x, self.hidden)  # [B, N, A]
        return epsilon_greedy(q, self.avail, epsilon, generator)

    @torch.no_grad()
    def collect(self, learner, epsilon: float | torch.Tensor, generator: torch.Generator | None = None,
                episodes: int | None = None):
        """Step until ``episodes`` (default B) episodes have ended; return exactly that many, oldest first.

        Returns the padded episodes {field: [n, T+1, ...]} and stats ``return``, ``length`` (and ``battle_won``),
        ``row`` and ``episode`` (the env's row and that row's episode index) [n], plus ``steps``: env steps
        taken in this call (B per step, every row runs).
        """
        env = self.env
        n = env.batch_size if episodes is None else episodes
        if not self.started:
            self._start(learner)
        d, rows = self.slots, self.rows
        done_count, steps = sum(len(s["return"]) for _, s in self.pending), 0
        while done_count < n:
            t = env.t.clone()  # [B] step index of each row's episode
            actions = self._act(learner, epsilon, generator)  # [B, N]
            reward, terminated, info = env.step(actions)
            steps += env.batch_size
            d["actions"][rows, t] = actions
            d["reward"][rows, t] = reward
            d["terminated"][rows, t] = terminated.float()
            d["filled"][rows, t] = 1.0
            d["obs"][rows, t + 1], d["state"][rows, t + 1] = info["final_obs"], info["final_state"]
            d["avail"][rows, t + 1] = info["final_avail"]
            self.returns += reward
            if "battle_won" in info:
                self.won |= info["battle_won"].bool()
            self.obs, self.state, self.avail = env.get_obs(), env.get_state(), env.get_avail_actions()
            self.last, self.first = actions, info["reset"]
            idx = info["reset"].nonzero().squeeze(1)  # [K] rows whose episode ended
            if len(idx):
                ended = {k: v[idx] for k, v in d.items()}  # copies
                stats = {"return": self.returns[idx], "length": (t[idx] + 1).float(),
                         "row": idx, "episode": env.episode[idx] - 1}  # which battle: (row, its k-th episode)
                if "battle_won" in info:
                    stats["battle_won"] = self.won[idx].float()
                self.pending.append((ended, stats))
                done_count += len(idx)
                for v in d.values():
                    v.index_fill_(0, idx, 0)
                d["obs"][idx, 0], d["state"][idx, 0], d["avail"][idx, 0] = self.obs[idx], self.state[idx], self.avail[idx]
                self.returns.index_fill_(0, idx, 0.0)
                self.won.index_fill_(0, idx, False)
                self.hidden = torch.where(self.first[:, None, None], self.h0, self.hidden)
        data = {k: torch.cat([e[k] for e, _ in self.pending]) for k in d}
        stats = {k: torch.cat([s[k] for _, s in self.pending]) for k in self.pending[0][1]}
        out = {k: v[:n] for k, v in data.items()}, {k: v[:n] for k, v in stats.items()}
        self.pending = [({k: v[n:] for k, v in data.items()}, {k: v[n:] for k, v in stats.items()})] \
            if len(stats["return"]) > n else []
        out[1]["steps"] = steps
        return out

    _STATE = ("rows", "obs", "state", "avail", "h0", "hidden", "last", "first", "returns", "won")

    def state_dict(self) -> dict | None:
        """The episodes in progress, the agents' recurrent state and the env's battles (tensors and plain
        containers only), so a resumed run continues exactly; None before the first ``collect``."""
        if not self.started:
            return None
        env = self.env
        return {"slots": dict(self.slots), "pending": list(self.pending), **{k: getattr(self, k) for k in self._STATE},
                "env": {"t": env.t, "episode": env.episode, "battle": env.get_battle_state().__dict__}}

    def load_state_dict(self, sd: dict | None) -> None:
        if sd is None:
            return
        env = self.env
        for k in self._STATE:
            setattr(self, k, sd[k].to(env.device))
        self.slots = {k: v.to(env.device) for k, v in sd["slots"].items()}
        self.pending = [tuple(dict(x) for x in p) for p in sd["pending"]]
        env.t.copy_(sd["env"]["t"])
        env.episode.copy_(sd["env"]["episode"])
        env.active.fill_(True)
        env.set_battle_state(type(env.battle)(**{k: v.to(env.device) for k, v in sd["env"]["battle"].items()}))
        self.started = True
