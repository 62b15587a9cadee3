"""The built-in enemy controller: SMAC's single attack-move order, with SC2-like targeting.

Every SMAC map script gives each enemy one order at the start, attack-move to the attack point
(``gf_EnemyAttack`` in the maps' MapScript.galaxy: ``OrderTargetingPoint(AbilityCommand("attack",
0), ...)``). Under that order an SC2 unit walks to the point and acquires targets on the way: it
keeps its target while the target lives and is within weapon reach or is attacking it;
otherwise it picks the closest ally within its scan range (plus the ally's radius) or attacking
it, among those its weapon can hit (marauders never pick medivacs). The maps give every unit
the same AttackTargetPriority (20), so distance alone decides. Once at the point the unit has
no order left and idles there, still acquiring targets in range (it does not hunt allies
across the map; SMAClite keeps them at the point too). Enemy medivacs heal the most hurt teammate within
reach and otherwise follow their army's centre.
"""
from __future__ import annotations

import torch

from .state import ATTACK, BattleState
from .tables import BattleTables

_INF = float("inf")
ARRIVED = 2.0
"""An enemy within this distance of the attack point has completed its attack-move (SMAClite's
units stop at the point; 2.0 lets a group stop without piling onto one spot)."""
HEAL_SCAN = 6.0
"""Radius in which an enemy medivac looks for a hurt teammate (its heal range 4 plus a margin)."""


def squared_distances(ax: torch.Tensor, ay: torch.Tensor, bx: torch.Tensor, by: torch.Tensor) -> torch.Tensor:
    """[B, I, J] squared distances from points a [B, I] to points b [B, J] (cheaper than hypot)."""
    dx = bx[:, None, :] - ax[:, :, None]
    dy = by[:, None, :] - ay[:, :, None]
    return torch.addcmul(dx * dx, dy, dy)


def enemy_goals(s: BattleState, T: BattleTables) -> tuple[torch.Tensor, torch.Tensor]:
    """Once per step: where enemies without a target walk. Returns goal x, y [B, E].

    The attack point until they are within ``ARRIVED`` of it, then where they stand.
    """
    A = T.n_agents
    ex, ey = s.x[:, A:], s.y[:, A:]
    apx, apy = s.attack_point[:, :1], s.attack_point[:, 1:]  # [B, 1]
    at_point = torch.hypot(ex - apx, ey - apy) < ARRIVED
    gx = torch.where(at_point, ex, apx.expand_as(ex))
    gy = torch.where(at_point, ey, apy.expand_as(ey))
    if T.enemy_healer:  # medivacs follow their army's centre
        mates = (s.alive[:, A:] & ~T.healer[A:]).float()
        n = mates.sum(1, keepdim=True).clamp_min(1.0)
        med = T.healer[A:]
        gx = torch.where(med, (ex * mates).sum(1, keepdim=True) / n, gx)
        gy = torch.where(med, (ey * mates).sum(1, keepdim=True) / n, gy)
    return gx, gy


def enemy_targets(s: BattleState, T: BattleTables, threat0: torch.Tensor, e_target: torch.Tensor,
                  e_engaged: torch.Tensor, prefer: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``ai_every`` ticks: (target slot [B, E], has-target [B, E]) of every enemy.

    ``threat0`` [B, E, A] marks allies ordered to attack each enemy this step. ``prefer`` [E, A], if given, is
    added to the squared distances when a new target is picked (other targeting rules, measured in
    ``benchmarks/fidelity_probes.py``; the simulator itself ranks by distance alone).
    """
    A = T.n_agents
    d2 = squared_distances(s.x[:, A:], s.y[:, A:], s.x[:, :A], s.y[:, :A])  # [B, E, A]; no sqrt needed
    a_alive = s.alive[:, None, :A] & T.target_ea  # [B, E, A]: live allies each enemy's weapon can hit
    threat = threat0 & a_alive
    cand = (d2 <= T.scan_ea ** 2) & a_alive | threat
    cost = d2 if prefer is None else d2 + prefer
    best_cost, best = cost.masked_fill(~cand, _INF).min(-1)  # [B, E]
    has = torch.isfinite(best_cost)
    cur = e_target.clamp(max=A - 1)[..., None]  # [B, E, 1]
    near = d2.gather(2, cur) <= (T.reach_ea ** 2).expand(d2.shape[0], -1, -1).gather(2, cur)
    keep = (near | threat.gather(2, cur)).squeeze(-1) & e_engaged & s.alive.gather(1, e_target)
    if T.enemy_healer:
        keep = keep & (e_target < A)
    target = torch.where(keep, e_target, best)
    engaged = keep | has
    if T.enemy_healer:
        target, engaged = _medivac_targets(s, T, target, engaged)
    return target, engaged


def _medivac_targets(s, T, target, engaged):
    """Enemy medivacs heal the most hurt live ground teammate within ``HEAL_SCAN``."""
    A = T.n_agents
    ex, ey = s.x[:, A:], s.y[:, A:]
    d2 = squared_distances(ex, ey, ex, ey)  # [B, E, E]
    frac = s.hp[:, A:] / T.hp_max[A:]  # [B, E]
    ok = (s.alive[:, A:] & ~T.air[A:] & (frac < 1))[:, None, :] & (d2 <= HEAL_SCAN ** 2)
    cost, best = frac[:, None, :].expand_as(d2).masked_fill(~ok, _INF).min(-1)
    med = T.healer[A:]
    return torch.where(med, best + A, target), torch.where(med, torch.isfinite(cost), engaged)


__all__ = ["ATTACK", "enemy_goals", "enemy_targets"]
