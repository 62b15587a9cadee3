"""Action selection: greedy and epsilon-greedy over *available* actions, and the epsilon schedule."""
from __future__ import annotations

import torch

MASKED = -1e7  # stands in for -inf so arithmetic on masked values stays finite


def linear_epsilon(t_env: int, start: float, finish: float, anneal_time: int) -> float:
    """Epsilon falls linearly from ``start`` to ``finish`` over ``anneal_time`` env steps, then stays."""
    if anneal_time <= 0:
        return finish
    frac = min(max(t_env, 0) / anneal_time, 1.0)
    return start + frac * (finish - start)


def greedy_actions(q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """argmax over available actions.  q, avail: [..., A] -> [...] int64."""
    return q.masked_fill(avail <= 0, MASKED).argmax(dim=-1)


def max_available(q: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """max over available actions.  q, avail: [..., A] -> [...]."""
    return q.masked_fill(avail <= 0, MASKED).max(dim=-1).values


def episode_epsilons(epsilon: float, batch: int, uniform_fraction: float,
                     device: torch.device | str = "cpu") -> float | torch.Tensor:
    """Exploration rate of each of B parallel episodes: [B], or the scalar itself when no episode is uniform.

    The first round(uniform_fraction * B) episodes keep acting uniformly at random (epsilon = 1) all through
    training and the rest follow the schedule, so the replay keeps both wide coverage of the joint actions
    and data near the current greedy policy (a narrow optimum such as MGS's needs both).
    """
    n_uniform = round(uniform_fraction * batch)
    if n_uniform == 0:
        return epsilon
    eps = torch.full((batch,), float(epsilon), device=device)  # [B]
    eps[:n_uniform] = 1.0
    return eps


def epsilon_greedy(q: torch.Tensor, avail: torch.Tensor, epsilon: float | torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """With probability epsilon a uniformly random available action, else the greedy one.  [..., A] -> [...].

    ``epsilon`` is one rate, or one per episode [B] (q's first dimension), from :func:`episode_epsilons`.
    """
    greedy = greedy_actions(q, avail)
    if isinstance(epsilon, torch.Tensor):
        if epsilon.shape != greedy.shape[:1]:
            raise ValueError(f"per-episode epsilon must have shape [{greedy.shape[0]}], got {list(epsilon.shape)}")
        epsilon = epsilon.to(q.device).view(-1, *([1] * (greedy.dim() - 1)))  # [B, 1, ...]
    elif epsilon <= 0.0:
        return greedy
    random = torch.multinomial(avail.reshape(-1, avail.shape[-1]).float(), 1, generator=generator).view(greedy.shape)
    explore = torch.rand(greedy.shape, generator=generator, device=q.device) < epsilon
    return torch.where(explore, random, greedy)
