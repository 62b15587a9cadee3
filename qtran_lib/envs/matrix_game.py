"""One-step cooperative matrix games: N agents pick one action each and share payoff[u_1, ..., u_N].

Introduced in book/02_igm. The paper's 3x3 game (Son et al. 2019, Table 1) is non-monotonic:
the optimum (A, A) = 8 sits next to -12 penalties, which VDN and QMIX cannot represent.
"""
from __future__ import annotations

import math

import torch

from .base import EnvInfo, MultiAgentEnv, joint_actions

PRESETS: dict[str, list] = {
    # Son et al. (2019), Table 1a: rows = agent 1's action (A, B, C).
    "paper": [[8.0, -12.0, -12.0], [-12.0, 0.0, 0.0], [-12.0, 0.0, 0.0]],
    # Claus & Boutilier (1998): optimum 11 guarded by -30 miscoordination penalties.
    "climbing": [[11.0, -30.0, 0.0], [-30.0, 7.0, 6.0], [0.0, 0.0, 5.0]],
}


def penalty_game(k: float = -100.0) -> list:
    """Claus & Boutilier's penalty game: two optima (10) with miscoordination penalty k < 0."""
    return [[10.0, 0.0, k], [0.0, 2.0, 0.0], [k, 0.0, 10.0]]


def parse_payoff(spec) -> torch.Tensor:
    """Turn a preset name, ``"penalty"``/``"penalty:k=-50"``, a ``"8,-12;-12,0"`` string or an array into a payoff tensor.

    Rows (separated by ``;``) index agent 1's action and columns agent 2's; arrays may have any
    number of dimensions N >= 2, one per agent.
    """
    if isinstance(spec, str):
        s = spec.strip()
        if s in PRESETS:
            return torch.tensor(PRESETS[s], dtype=torch.float32)
        if s == "penalty" or s.startswith("penalty"):
            k = -100.0
            rest = s[len("penalty"):].lstrip(":,")
            if rest:
                key, _, value = rest.partition("=")
                if key.strip() != "k" or not value:
                    raise ValueError(f"penalty game takes one parameter k, e.g. 'penalty:k=-50'; got {spec!r}")
                k = _float(value, spec)
            return torch.tensor(penalty_game(k), dtype=torch.float32)
        if any(c.isdigit() for c in s):
            rows = [r for r in s.split(";")]
            table = [[_float(x, spec) for x in r.split(",")] for r in rows]
            if len({len(r) for r in table}) != 1:
                raise ValueError(f"payoff rows must all have the same number of entries: {spec!r}")
            return _check(torch.tensor(table, dtype=torch.float32), spec)
        raise ValueError(
            f"unknown matrix game {spec!r}; use a preset ({', '.join(sorted(PRESETS))}, penalty[:k=K]) "
            "or a payoff like '8,-12,-12;-12,0,0;-12,0,0'"
        )
    table = torch.as_tensor(spec, dtype=torch.float32)
    return _check(table, "array")


def _float(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"payoff entry {text.strip()!r} in {spec!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"payoff entry {text.strip()!r} in {spec!r} must be a finite number")
    return value


def _check(table: torch.Tensor, spec) -> torch.Tensor:
    if table.dim() < 2 or min(table.shape) < 1:
        raise ValueError(f"a payoff needs one dimension per agent (at least 2), got shape {list(table.shape)} from {spec}")
    if len(set(table.shape)) != 1:
        raise ValueError(f"every agent must have the same number of actions, got payoff shape {list(table.shape)}")
    if not bool(torch.isfinite(table).all()):
        raise ValueError(f"payoff entries must be finite numbers, got {table.tolist()}")
    return table


class MatrixGame(MultiAgentEnv):
    """A one-step game with a constant observation (each agent sees only ``1``) and a constant state."""

    def __init__(self, payoff, batch_size: int = 1, device="cpu", seed: int | None = None):
        super().__init__(batch_size, device, seed)
        self.payoff = parse_payoff(payoff).to(self.device)  # [A] * N
        self.n_agents = self.payoff.dim()
        self.n_actions = self.payoff.shape[0]
        self._strides = torch.tensor(
            [self.n_actions ** (self.n_agents - 1 - i) for i in range(self.n_agents)], device=self.device
        )  # [N] to flatten a joint action

    def env_info(self) -> EnvInfo:
        return EnvInfo(self.n_agents, self.n_actions, obs_dim=1, state_dim=1, episode_limit=1)

    def _reset(self) -> None:
        pass

    def _step(self, actions):
        flat = (actions.long() * self._strides).sum(-1)  # [B]
        reward = self.payoff.flatten()[flat]  # [B]
        return reward, torch.ones_like(reward, dtype=torch.bool), {}

    def get_obs(self):
        return torch.ones(self.batch_size, self.n_agents, 1, device=self.device)

    def get_state(self):
        return torch.ones(self.batch_size, 1, device=self.device)

    def get_avail_actions(self):
        return torch.ones(self.batch_size, self.n_agents, self.n_actions, device=self.device)

    def optimal_joint_action(self) -> tuple[int, ...]:
        return tuple(int(i) for i in torch.unravel_index(self.payoff.argmax(), self.payoff.shape))


def make_matrix_game(spec: str, **kw) -> MatrixGame:
    """Factory for `matrix:<spec>` env strings (a preset name or a payoff); an empty spec is the paper's game."""
    return MatrixGame(spec or "paper", **kw)


def joint_action_episodes(env: MatrixGame) -> dict[str, torch.Tensor]:
    """Every joint action once, as a batch of one-step episodes {field: [A^N, 2, ...]}.

    Training on this batch is training on the exact expectation of uniformly random exploration
    (the paper's protocol for the matrix game), without the sampling noise of a finite batch.
    """
    from ..replay_buffer import empty_episodes

    info = env.env_info()
    joint = joint_actions(info.n_agents, info.n_actions, env.device)  # [A^N, N]
    m = joint.shape[0]
    batch = empty_episodes(info, m, env.device)
    batch["obs"][:] = 1.0
    batch["state"][:] = 1.0
    batch["avail"][:] = 1.0
    batch["actions"][:, 0] = joint
    batch["reward"][:, 0] = env.payoff[tuple(joint.T)]
    batch["terminated"][:, 0] = 1.0
    batch["filled"][:, 0] = 1.0
    return batch
