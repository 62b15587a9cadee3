"""Scripted baselines that read the env tensors: focus fire, and uniform random legal play."""
from __future__ import annotations

import torch

from .battle import N_NO_ATTACK

_INF = float("inf")


def heuristic_actions(env) -> torch.Tensor:
    """[B, N] actions of a simple focus-fire script that always respects the availability mask.

    Each live agent attacks the weakest (HP + shield) enemy it may attack (the mask allows it and
    its weapon can target it: a marauder never picks a medivac); with none in range
    it walks toward the closest live enemy along the dominant axis. A medivac heals the most
    hurt ally it may heal, else follows the closest ally. Dead agents no-op.
    """
    T, s = env.tables, env.battle
    N, E = T.n_agents, T.n_enemies
    f = env._features()
    avail = f["avail"] > 0  # [B, N, n_actions]
    dx, dy, dist = f["geometry"]  # [B, N, U] each
    alive = s.alive[:, :N]

    health = (s.hp + s.shield)[:, None, N:]  # [B, 1, E]
    can_hit = avail[..., N_NO_ATTACK:N_NO_ATTACK + E] & T.can_target[:N, N:]  # [B, N, E]; no orders SC2 rejects
    weakest_cost, weakest = torch.where(can_hit, health, _INF).min(-1)  # [B, N]
    attack = torch.where(weakest_cost < _INF, N_NO_ATTACK + weakest, -1)

    # the unit to walk toward: the live enemy closest to the team's centre, so the team
    # arrives together (medivacs: their closest live non-medivac ally)
    w = alive.float()
    n = w.sum(1, keepdim=True).clamp_min(1.0)
    cx, cy = (s.x[:, :N] * w).sum(1, keepdim=True) / n, (s.y[:, :N] * w).sum(1, keepdim=True) / n  # [B, 1]
    d_centre = torch.hypot(s.x[:, N:] - cx, s.y[:, N:] - cy).masked_fill(~s.alive[:, N:], _INF)  # [B, E]
    goal = (N + d_centre.argmin(-1, keepdim=True)).expand(-1, N)  # [B, N] slot index
    if T.ally_healer:
        frac = (s.hp / T.hp_max)[:, None, :N]  # [B, 1, N]
        k = min(N, E)
        heal_ok = avail[..., N_NO_ATTACK:N_NO_ATTACK + k] & (frac[..., :k] < 1)
        hurt_cost, hurt = torch.where(heal_ok, frac[..., :k], _INF).min(-1)
        heal = torch.where(hurt_cost < _INF, N_NO_ATTACK + hurt, -1)
        mates = s.alive[:, None, :N] & ~T.healer[:N]
        friend = torch.where(mates, dist[..., :N], _INF).argmin(-1)  # [B, N]
        medivac = T.healer[:N]
        attack = torch.where(medivac, heal, attack)
        goal = torch.where(medivac, friend, goal)
    g = goal[..., None]
    move = _move_toward(dx.gather(2, g).squeeze(-1), dy.gather(2, g).squeeze(-1), avail)
    if T.ally_healer:
        near = dist.gather(2, goal[..., None]).squeeze(-1) < 3.0
        move = torch.where(T.healer[:N] & near, 1, move)
    act = torch.where(attack >= 0, attack, move)
    return torch.where(alive, act, 0)


def _move_toward(dx: torch.Tensor, dy: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Move action [B, N] along the dominant axis of (dx, dy), the other axis if blocked, else stop."""
    horiz = torch.where(dx >= 0, 4, 5)  # east / west
    vert = torch.where(dy >= 0, 2, 3)  # north / south
    first = torch.where(dx.abs() >= dy.abs(), horiz, vert)
    second = torch.where(dx.abs() >= dy.abs(), vert, horiz)
    ok1 = avail.gather(-1, first[..., None]).squeeze(-1)
    ok2 = avail.gather(-1, second[..., None]).squeeze(-1)
    return torch.where(ok1, first, torch.where(ok2, second, 1))


def random_actions(avail: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """[B, N] uniformly random available actions (argmax of uniform noise over the legal ones)."""
    noise = torch.rand(avail.shape, generator=generator, device=avail.device) + 1.0  # in [1, 2): beats 0
    return (noise * (avail > 0)).argmax(-1)
