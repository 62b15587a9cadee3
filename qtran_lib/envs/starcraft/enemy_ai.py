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

from .state import ATTACK, MOVE, BattleState
from .tables import BattleTables

_INF = float("inf")


def enemy_orders(s: BattleState, dist: torch.Tensor, T: BattleTables) -> None:
    """Update the enemies' mode/target/goal in ``s`` for this tick. dist: [B, U, U]."""
    A = T.n_agents
    d_ea = dist[:, A:, :A]  # [B, E, A]
    ally_alive = s.alive[:, :A]  # [B, A]
    e_slot = torch.arange(A, T.n_units, device=dist.device)  # [E]
    shooting_me = ((s.mode[:, None, :A] == ATTACK) & ally_alive[:, None, :]
                   & (s.target[:, None, :A] == e_slot[None, :, None]))  # [B, E, A]
    in_scan = d_ea <= T.scan[A:, None] + T.radius[None, :A]  # [B, E, A]
    cand = ally_alive[:, None, :] & (in_scan | shooting_me)
    cost = d_ea - 1000.0 * T.healer[:A].float()  # medivacs first
    best_cost, best = torch.where(cand, cost, _INF).min(-1)  # [B, E]
    has_cand = best_cost < _INF

    cur = s.target[:, A:]  # [B, E]
    cur_ally = cur.clamp(max=A - 1)
    cur_ok = (s.mode[:, A:] == ATTACK) & (cur < A) & ally_alive.gather(1, cur_ally)
    cur_dist = d_ea.gather(2, cur_ally[..., None]).squeeze(-1)  # [B, E]
    cur_reach = T.reach[A:][torch.arange(T.n_enemies, device=dist.device), cur_ally]  # [B, E]
    keep = cur_ok & ((cur_dist <= cur_reach) | shooting_me.gather(2, cur_ally[..., None]).squeeze(-1))
    if T.ally_healer:
        keep = keep & ~(has_cand & T.healer[best] & ~T.healer[cur_ally])
    target = torch.where(keep, cur, best)
    engaged = keep | has_cand

    # no target: attack-move to the attack point, then hunt the closest live ally
    _, closest = torch.where(ally_alive[:, None, :], d_ea, _INF).min(-1)  # [B, E]
    closest_pos = s.pos.gather(1, closest[..., None].expand(-1, -1, 2))  # [B, E, 2]
    ap = s.attack_point[:, None, :]  # [B, 1, 2]
    at_point = (s.pos[:, A:] - ap).norm(dim=-1, keepdim=True) < 2.0  # [B, E, 1]
    goal = torch.where(at_point, closest_pos, ap)

    if T.enemy_healer:
        target, engaged, goal = _enemy_medivac(s, dist, T, target, engaged, goal)
    s.target = torch.cat([s.target[:, :A], target], 1)
    s.mode = torch.cat([s.mode[:, :A], torch.where(engaged, ATTACK, MOVE)], 1)
    s.goal = torch.cat([s.goal[:, :A], goal], 1)


def _enemy_medivac(s, dist, T, target, engaged, goal):
    """Enemy medivacs: heal the most hurt teammate within 6, else follow the army's centre."""
    A = T.n_agents
    mates = s.alive[:, A:] & ~T.healer[A:]  # [B, E]
    frac = s.hp[:, A:] / T.hp_max[A:]  # [B, E]
    d_ee = dist[:, A:, A:]  # [B, E, E]
    ok = mates[:, None, :] & (frac < 1)[:, None, :] & (d_ee <= 6.0)
    best_cost, best = torch.where(ok, frac[:, None, :].expand_as(d_ee), _INF).min(-1)  # [B, E]
    heal_ok = best_cost < _INF
    w = mates.float()[..., None]  # [B, E, 1]
    centre = (s.pos[:, A:] * w).sum(1) / w.sum(1).clamp_min(1.0)  # [B, 2]
    med = T.healer[A:]  # [E]
    target = torch.where(med, best + A, target)
    engaged = torch.where(med, heal_ok, engaged)
    goal = torch.where(med[:, None], centre[:, None, :].expand_as(goal), goal)
    return target, engaged, goal
