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


def enemy_goals(s: BattleState, T: BattleTables) -> tuple[torch.Tensor, torch.Tensor]:
    """Once per step: where enemies without a target walk. Returns goal x, y [B, E]."""
    A = T.n_agents
    ex, ey = s.x[:, A:], s.y[:, A:]
    ax, ay = s.x[:, :A], s.y[:, :A]
    d = torch.hypot(ax[:, None, :] - ex[:, :, None], ay[:, None, :] - ey[:, :, None])  # [B, E, A]
    closest = d.masked_fill(~s.alive[:, None, :A], _INF).argmin(-1)  # [B, E]
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
    A, E = T.n_agents, T.n_enemies
    ax, ex = s.x.split([A, E], 1)
    ay, ey = s.y.split([A, E], 1)
    d = torch.hypot(ax[:, None, :] - ex[:, :, None], ay[:, None, :] - ey[:, :, None])  # [B, E, A]
    a_alive = s.alive[:, None, :A]  # [B, 1, A]
    threat = threat0 & a_alive
    cand = (d <= T.scan_ea) & a_alive | threat
    cost = d + T.priority if T.ally_healer else d
    best_cost, best = cost.masked_fill(~cand, _INF).min(-1)  # [B, E]
    has = torch.isfinite(best_cost)
    cur = e_target.clamp(max=A - 1)[..., None]  # [B, E, 1]
    near = d.gather(2, cur) <= T.reach_ea.expand(d.shape[0], -1, -1).gather(2, cur)
    keep = (near | threat.gather(2, cur)).squeeze(-1) & e_engaged & s.alive.gather(1, e_target)
    if T.enemy_healer:
        keep = keep & (e_target < A)
    if T.ally_healer:  # switch to a medivac that comes into scan range
        keep = keep & ~(has & T.healer[best] & ~T.healer[cur.squeeze(-1)])
    target = torch.where(keep, e_target, best)
    engaged = keep | has
    if T.enemy_healer:
        target, engaged = _medivac_targets(s, T, target, engaged)
    return target, engaged


def _medivac_targets(s, T, target, engaged):
    """Enemy medivacs heal the most hurt live teammate within 6."""
    A = T.n_agents
    ex, ey = s.x[:, A:], s.y[:, A:]
    d = torch.hypot(ex[:, None, :] - ex[:, :, None], ey[:, None, :] - ey[:, :, None])  # [B, E, E]
    frac = s.hp[:, A:] / T.hp_max[A:]  # [B, E]
    ok = (s.alive[:, A:] & ~T.healer[A:] & (frac < 1))[:, None, :] & (d <= 6.0)
    cost, best = frac[:, None, :].expand_as(d).masked_fill(~ok, _INF).min(-1)
    med = T.healer[A:]
    return torch.where(med, best + A, target), torch.where(med, torch.isfinite(cost), engaged)


__all__ = ["ATTACK", "enemy_goals", "enemy_targets"]
