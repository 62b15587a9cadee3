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


def epsilon_greedy(q: torch.Tensor, avail: torch.Tensor, epsilon: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """With probability epsilon a uniformly random available action, else the greedy one.  [..., A] -> [...]."""
    greedy = greedy_actions(q, avail)
    if epsilon <= 0.0:
        return greedy
    random = torch.multinomial(avail.reshape(-1, avail.shape[-1]).float(), 1, generator=generator).view(greedy.shape)
    explore = torch.rand(greedy.shape, generator=generator, device=q.device) < epsilon
    return torch.where(explore, random, greedy)
