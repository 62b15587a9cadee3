"""The built-in enemy controller: attack-move with sticky, closest-threat targeting.

A vectorised take on SMACLite's rules (spec §3.6): an enemy keeps its target while the
target lives and is within weapon reach or is shooting back; otherwise it picks, among
allies inside its scan radius (plus their radius) or attacking it, the closest one,
medivacs first. Without a target it walks to the attack point, and once there it hunts the
closest ally so battles cannot stall. Enemy medivacs heal the most hurt teammate nearby and
otherwise follow their army's centre.
"""
from __future__ import annotations

import torch

from .state import ATTACK, BattleState
from .tables import BattleTables

_INF = float("inf")


def squared_distances(ax: torch.Tensor, ay: torch.Tensor, bx: torch.Tensor, by: torch.Tensor) -> torch.Tensor:
    """[B, I, J] squared distances from points a [B, I] to points b [B, J] (cheaper than hypot)."""
    dx = bx[:, None, :] - ax[:, :, None]
    dy = by[:, None, :] - ay[:, :, None]
    return torch.addcmul(dx * dx, dy, dy)


def enemy_goals(s: BattleState, T: BattleTables) -> tuple[torch.Tensor, torch.Tensor]:
    """Once per step: where enemies without a target walk. Returns goal x, y [B, E]."""
    A = T.n_agents
    ex, ey = s.x[:, A:], s.y[:, A:]
    ax, ay = s.x[:, :A], s.y[:, :A]
    d2 = squared_distances(ex, ey, ax, ay)  # [B, E, A]
    closest = d2.masked_fill(~s.alive[:, None, :A], _INF).argmin(-1)  # [B, E]
    apx, apy = s.attack_point[:, :1], s.attack_point[:, 1:]  # [B, 1]
    at_point = torch.hypot(ex - apx, ey - apy) < 2.0
    gx = torch.where(at_point, ax.gather(1, closest), apx.expand_as(ex))
    gy = torch.where(at_point, ay.gather(1, closest), apy.expand_as(ey))
    if T.enemy_healer:  # medivacs follow their army's centre
        mates = (s.alive[:, A:] & ~T.healer[A:]).float()
        n = mates.sum(1, keepdim=True).clamp_min(1.0)
        med = T.healer[A:]
        gx = torch.where(med, (ex * mates).sum(1, keepdim=True) / n, gx)
        gy = torch.where(med, (ey * mates).sum(1, keepdim=True) / n, gy)
    return gx, gy


def enemy_targets(s: BattleState, T: BattleTables, threat0: torch.Tensor, e_target: torch.Tensor,
                  e_engaged: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Once per tick: (target slot [B, E], has-target [B, E]) of every enemy.

    ``threat0`` [B, E, A] marks allies ordered to attack each enemy this step.
    """
    A = T.n_agents
    d2 = squared_distances(s.x[:, A:], s.y[:, A:], s.x[:, :A], s.y[:, :A])  # [B, E, A]; no sqrt needed
    a_alive = s.alive[:, None, :A]  # [B, 1, A]
    threat = threat0 & a_alive
    cand = (d2 <= T.scan_ea ** 2) & a_alive | threat
    cost = d2 + T.priority if T.ally_healer else d2
    best_cost, best = cost.masked_fill(~cand, _INF).min(-1)  # [B, E]
    has = torch.isfinite(best_cost)
    cur = e_target.clamp(max=A - 1)[..., None]  # [B, E, 1]
    near = d2.gather(2, cur) <= (T.reach_ea ** 2).expand(d2.shape[0], -1, -1).gather(2, cur)
    keep = (near | threat.gather(2, cur)).squeeze(-1) & e_engaged & s.alive.gather(1, e_target)
    if T.enemy_healer:
        keep = keep & (e_target < A)
    if T.ally_healer:  # switch to a medivac that comes into scan range
        healer = T.healer[:A]
        keep = keep & ~(has & healer.take(best) & ~healer.take(cur.squeeze(-1)))
    target = torch.where(keep, e_target, best)
    engaged = keep | has
    if T.enemy_healer:
        target, engaged = _medivac_targets(s, T, target, engaged)
    return target, engaged


def _medivac_targets(s, T, target, engaged):
    """Enemy medivacs heal the most hurt live teammate within 6."""
    A = T.n_agents
    ex, ey = s.x[:, A:], s.y[:, A:]
    d2 = squared_distances(ex, ey, ex, ey)  # [B, E, E]
    frac = s.hp[:, A:] / T.hp_max[A:]  # [B, E]
    ok = (s.alive[:, A:] & ~T.healer[A:] & (frac < 1))[:, None, :] & (d2 <= 36.0)
    cost, best = frac[:, None, :].expand_as(d2).masked_fill(~ok, _INF).min(-1)
    med = T.healer[A:]
    return torch.where(med, best + A, target), torch.where(med, torch.isfinite(cost), engaged)


__all__ = ["ATTACK", "enemy_goals", "enemy_targets"]
