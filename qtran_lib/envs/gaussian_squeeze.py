"""Gaussian squeeze (GS) and multi-domain Gaussian squeeze (MGS): one-step resource allocation.

Introduced in book/05_paper_experiments (Son et al. 2019, Sec. 4.2; HolmesParker et al. 2014).
Every episode each agent i draws a private resource level x_i ~ U(0, 2) and picks how many units
u_i in {0, ..., 10} to send. The team is scored on the total load

    xi = (1/N) sum_i u_i x_i

by a sum of Gaussian bumps, one per domain k:

    G(xi) = sum_k xi * exp(-(xi - mu_k)^2 / sigma_k^2).

GS has one domain (mu, sigma) = (8, 0.5). MGS (the default) adds a wide, low domain (5, 1):
a broad local optimum G ~ 5.05 at xi ~ 5.1 next to the narrow global optimum G ~ 8.01 at xi ~ 8.02.
An additive (VDN) or monotonic (QMIX) decomposition tends to settle on the wide bump.

Observation modes: ``full`` (the authors' code: every agent sees the whole vector x), ``ego``
(the whole vector x with the agent's own x_i prepended) and ``own`` (agent i sees only
x_i; with the agent-id one-hot added by the learner). ``ego`` carries exactly the information of
``full`` plus the agent id, but a network shared by all agents can read x_i from a fixed input slot
instead of having to pick it out with the id; the authors' per-agent networks get that for free.
"""
from __future__ import annotations

import math

import torch

from .base import EnvInfo, MultiAgentEnv

DOMAINS: dict[str, tuple[tuple[float, float], ...]] = {
    "mgs": ((8.0, 0.5), (5.0, 1.0)),  # (mu_k, sigma_k): narrow global peak + wide local peak
    "gs": ((8.0, 0.5),),
}


def squeeze_reward(xi: torch.Tensor, domains=DOMAINS["mgs"]) -> torch.Tensor:
    """G(xi) = sum_k xi exp(-(xi - mu_k)^2 / sigma_k^2), elementwise on any tensor of loads."""
    return sum(xi * torch.exp(-((xi - mu) ** 2) / sigma ** 2) for mu, sigma in domains)


def peak(domains=DOMAINS["mgs"], lo: float = 0.0, hi: float = 20.0) -> tuple[float, float]:
    """(xi*, G(xi*)): the best load and the best reward over xi in [lo, hi], by a fine grid search."""
    xi = torch.linspace(lo, hi, 200_001, dtype=torch.float64)
    g = squeeze_reward(xi, domains)
    i = int(g.argmax())
    return float(xi[i]), float(g[i])


class GaussianSqueeze(MultiAgentEnv):
    """B parallel one-step GS/MGS episodes with N agents and ``n_actions`` load levels."""

    def __init__(self, variant: str = "mgs", n_agents: int = 10, n_actions: int = 11, obs_mode: str = "full",
                 x_max: float = 2.0, batch_size: int = 1, device="cpu", seed: int | None = None):
        super().__init__(batch_size, device, seed)
        if variant not in DOMAINS:
            raise ValueError(f"unknown Gaussian squeeze variant {variant!r}; choose one of {', '.join(DOMAINS)}")
        if obs_mode not in ("full", "ego", "own"):
            raise ValueError(f"obs_mode must be 'full', 'ego' or 'own', got {obs_mode!r}")
        if n_agents < 1 or n_actions < 2:
            raise ValueError(f"need n_agents >= 1 and n_actions >= 2, got {n_agents}, {n_actions}")
        if not (math.isfinite(x_max) and x_max > 0):
            raise ValueError(f"x_max must be a finite positive number, got {x_max}")
        self.variant, self.domains = variant, DOMAINS[variant]
        self.n_agents, self.n_actions, self.obs_mode, self.x_max = n_agents, n_actions, obs_mode, float(x_max)
        self.x = torch.zeros(batch_size, n_agents, device=self.device)  # [B, N] private resource levels

    def env_info(self) -> EnvInfo:
        obs_dim = {"full": self.n_agents, "ego": self.n_agents + 1, "own": 1}[self.obs_mode]
        return EnvInfo(self.n_agents, self.n_actions, obs_dim=obs_dim, state_dim=self.n_agents, episode_limit=1)

    def _reset(self) -> None:
        self.x = torch.rand(self.batch_size, self.n_agents, generator=self.generator, device=self.device) * self.x_max

    def load(self, actions: torch.Tensor) -> torch.Tensor:
        """xi = (1/N) sum_i u_i x_i for actions [B, N] -> [B]."""
        return (actions.to(self.x.dtype) * self.x).sum(-1) / self.n_agents

    def _step(self, actions):
        reward = squeeze_reward(self.load(actions), self.domains)  # [B]
        return reward, torch.ones_like(reward, dtype=torch.bool), {"load": self.load(actions)}

    def get_obs(self):
        if self.obs_mode == "full":
            return self.x.unsqueeze(1).expand(-1, self.n_agents, -1).clone()  # [B, N, N]
        if self.obs_mode == "ego":
            everyone = self.x.unsqueeze(1).expand(-1, self.n_agents, -1)  # [B, N, N]
            return torch.cat([self.x.unsqueeze(-1), everyone], -1)  # [B, N, 1 + N]
        return self.x.unsqueeze(-1).clone()  # [B, N, 1]

    def get_state(self):
        return self.x.clone()  # [B, N]

    def get_avail_actions(self):
        return torch.ones(self.batch_size, self.n_agents, self.n_actions, device=self.device)

    def max_load(self) -> torch.Tensor:
        """[B] the largest reachable load, everyone sending the most units."""
        return self.x.sum(-1) * (self.n_actions - 1) / self.n_agents

    def optimal_return(self) -> torch.Tensor:
        """[B] the best return of each current episode, relaxing the action grid to a continuum.

        Loads between 0 and ``max_load()`` can be hit to within max_i x_i / N (0.2 for N = 10,
        and far closer with 11^10 joint actions), so this upper bound is attained to within
        about 1e-3 in practice. When max_load >= xi* ~ 8.02 the optimum is the global peak
        G(xi*) ~ 8.009; with x_i ~ U(0, 2) and N = 10 about one episode in eight cannot reach it
        (mean x_i < 0.8) and its best is lower (the local bump's 5.05 for MGS).
        """
        grid = torch.linspace(0.0, 20.0, 400_001, dtype=torch.float64)  # step 5e-5
        best_below = torch.cummax(squeeze_reward(grid, self.domains), 0).values  # max of G over [0, grid[j]]
        j = (self.max_load().double().clamp(0.0, 20.0) / 20.0 * 400_000).floor().long()
        return best_below[j.cpu()].to(self.x.device, torch.float32)


def optimal_return(variant: str = "mgs") -> float:
    """The peak of the reward curve, max_xi G(xi) ~ 8.009 for GS and MGS (the paper's "optimum ~ 8")."""
    if variant not in DOMAINS:
        raise ValueError(f"unknown Gaussian squeeze variant {variant!r}; choose one of {', '.join(DOMAINS)}")
    return peak(DOMAINS[variant])[1]


def expected_optimal_return(variant: str = "mgs", n_agents: int = 10, n_actions: int = 11, episodes: int = 100_000,
                            seed: int = 0) -> float:
    """E_x[max_u G]: the mean of the per-episode optimum over random x (Monte Carlo, fixed seed).

    This is the best mean test return any policy can reach (~7.6 for MGS with N = 10: a few
    episodes draw too little resource to reach the peak), so results are measured against it.
    """
    env = GaussianSqueeze(variant, n_agents, n_actions, batch_size=episodes, seed=seed)
    env.reset()
    return float(env.optimal_return().double().mean())


def local_optimum(variant: str = "mgs") -> float:
    """The wide bump's best value, ~5.049 for MGS: where additive decompositions get stuck."""
    if variant != "mgs":
        raise ValueError("only MGS has a separate local optimum")
    return peak(DOMAINS["mgs"], 0.0, 6.5)[1]


def _parse_spec(spec: str) -> dict:
    """'' | 'gs' | 'mgs' | 'gs:n_agents=4,obs_mode=own' -> keyword arguments."""
    out: dict = {}
    parts = [p for p in spec.replace(":", ",").split(",") if p.strip()] if spec else []
    for p in parts:
        key, eq, value = p.partition("=")
        key = key.strip()
        if not eq:
            if key not in DOMAINS:
                raise ValueError(f"unknown Gaussian squeeze variant {key!r}; use gs or mgs (e.g. 'gaussian_squeeze:gs')")
            out["variant"] = key
        elif key in ("n_agents", "n_actions"):
            try:
                out[key] = int(value)
            except ValueError:
                raise ValueError(f"{key} must be an integer, got {value!r}") from None
        elif key == "x_max":
            out[key] = float(value)
        elif key in ("obs_mode", "variant"):
            out[key] = value.strip()
        else:
            raise ValueError(f"unknown Gaussian squeeze option {key!r} in {spec!r}; "
                             "known: variant, n_agents, n_actions, obs_mode, x_max")
    return out


def make_gaussian_squeeze(spec: str = "", batch_size: int = 1, device="cpu", seed: int | None = None,
                          **kw) -> GaussianSqueeze:
    """``gaussian_squeeze`` (MGS), ``gaussian_squeeze:gs``, ``gaussian_squeeze:mgs,n_agents=4``; kw from env_args."""
    return GaussianSqueeze(**{**_parse_spec(spec), **kw}, batch_size=batch_size, device=device, seed=seed)

