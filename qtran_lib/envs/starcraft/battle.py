"""One agent step of a batch of battles: orders, then K ticks of movement and combat.

Every tick advances all battles and units at once (spec §3.7): the enemy AI refreshes its
targets, units chase or walk, overlapping units are pushed apart, weapons that are loaded
and in reach fire, and all damage of the tick lands simultaneously (so draws can happen).
"""
from __future__ import annotations

import torch

from .enemy_ai import enemy_orders
from .state import ATTACK, IDLE, MOVE, BattleState
from .tables import BattleTables
from .units import HP_PER_ENERGY, MEDIVAC_ENERGY_MAX, MEDIVAC_ENERGY_REGEN, SHIELD_DELAY, SHIELD_REGEN

# action ids: 0 no-op, 1 stop, 2 north (+y), 3 south, 4 east (+x), 5 west, 6+j attack/heal j
N_NO_ATTACK = 6
MOVE_DIRS = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 0.0], [-1.0, 0.0]])


def apply_orders(s: BattleState, actions: torch.Tensor, T: BattleTables, move_amount: float) -> None:
    """Turn the agents' actions [B, N] into orders that persist through the step's ticks."""
    A = T.n_agents
    a = actions.long()  # [B, A]
    dirs = MOVE_DIRS.to(s.pos.device)[a.clamp(max=N_NO_ATTACK - 1)]  # [B, A, 2]
    is_move = (a >= 2) & (a < N_NO_ATTACK)
    is_attack = a >= N_NO_ATTACK
    j = (a - N_NO_ATTACK).clamp(min=0)
    target = torch.where(T.healer[:A], j, j + A).clamp(max=T.n_units - 1)  # medivacs target allies
    alive = s.alive[:, :A]
    mode = torch.where(is_attack, ATTACK, torch.where(is_move, MOVE, IDLE))
    mode = torch.where(alive, mode, IDLE)
    s.mode = torch.cat([mode, s.mode[:, A:]], 1)
    s.target = torch.cat([torch.where(is_attack, target, s.target[:, :A]), s.target[:, A:]], 1)
    s.goal = torch.cat([s.pos[:, :A] + move_amount * dirs, s.goal[:, A:]], 1)
    s.last_action = a


def pairwise(pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """diff[b, i, j] = pos_j - pos_i [B, U, U, 2] and its length [B, U, U]."""
    diff = pos[:, None, :, :] - pos[:, :, None, :]
    return diff, torch.linalg.vector_norm(diff, dim=-1)


def tick(s: BattleState, T: BattleTables, dt: float) -> torch.Tensor:
    """Advance every battle by one tick in place. Returns the raw damage [B, U] each unit took."""
    B, U = s.hp.shape
    ar = torch.arange(U, device=s.hp.device)
    _, dist = pairwise(s.pos)
    if T.n_enemies:
        enemy_orders(s, dist, T)
    alive, tgt = s.alive, s.target
    engaged = (s.mode == ATTACK) & alive & alive.gather(1, tgt)  # [B, U]
    t_dist = dist.gather(2, tgt[..., None]).squeeze(-1)  # [B, U]
    reach = T.reach[ar, tgt]  # [B, U]
    in_range = t_dist <= reach
    fire = engaged & in_range & (s.cooldown <= 0)
    if T.has_healer:
        heal = fire & T.healer
        fire = fire & ~T.healer

    # --- combat: every shot of this tick lands at once
    t_pos = s.pos.gather(1, tgt[..., None].expand(-1, -1, 2))  # [B, U, 2]
    raw_in, hp_in = _damage(s, T, fire, tgt, t_pos, dist, ar)
    absorb = torch.minimum(s.shield, raw_in)
    spill = (raw_in - absorb) / raw_in.clamp_min(1e-6)
    hp = s.hp - spill * hp_in
    if T.has_baneling:
        hp = torch.where(fire & T.baneling, 0.0, hp)  # banelings die when they explode
    if T.has_healer:
        missing = (T.hp_max - s.hp).gather(1, tgt)
        amount = torch.minimum(torch.minimum(T.heal_rate * dt, s.energy * HP_PER_ENERGY), missing) * heal
        hp = hp + torch.zeros_like(hp).scatter_add_(1, tgt, amount) * (hp > 0)
        s.energy = (s.energy - amount / HP_PER_ENERGY + MEDIVAC_ENERGY_REGEN * dt * T.healer).clamp(
            max=MEDIVAC_ENERGY_MAX)
    if T.has_regen:
        hp = hp + (T.regen * dt) * (hp > 0)
    hp = torch.minimum(hp, T.hp_max).clamp_min(0.0)
    alive_new = alive & (hp > 0)
    shield = s.shield - absorb
    if T.has_shields:
        s.since_hit = torch.where(raw_in > 0, 0.0, s.since_hit + dt)
        regen = (s.since_hit >= SHIELD_DELAY) & alive_new
        shield = torch.where(regen, torch.minimum(shield + SHIELD_REGEN * dt, T.shield_max), shield)
    s.hp, s.shield, s.alive = hp, shield * alive_new, alive_new
    s.cooldown = torch.where(fire, T.cooldown, (s.cooldown - dt).clamp_min(0.0))

    # --- movement: walk to the move point, or chase a target that is out of reach
    goal = torch.where(engaged[..., None], t_pos, s.goal)
    moving = alive_new & ((s.mode == MOVE) | (engaged & ~in_range))
    delta = goal - s.pos  # [B, U, 2]
    length = torch.linalg.vector_norm(delta, dim=-1)  # [B, U]
    stop_short = torch.where(engaged, reach - 0.01, 0.0)
    step = torch.minimum(T.speed * dt, (length - stop_short).clamp_min(0.0)) * moving
    pos = s.pos + delta * (step / length.clamp_min(1e-6))[..., None]
    pos = _collide(pos, alive_new, T.collide_r, T.mobile)
    s.pos = _confine(pos, s.pos, T)
    return raw_in


def _damage(s, T, fire, tgt, t_pos, dist, ar):
    """Raw damage [B, U] arriving at each unit, and the part that reaches HP after armor."""
    single = fire
    if T.has_baneling or T.has_colossus:
        single = fire & ~T.baneling & ~T.colossus
    raw_in = torch.zeros_like(s.hp).scatter_add_(1, tgt, T.raw_dmg[ar, tgt] * single)
    hp_in = torch.zeros_like(s.hp).scatter_add_(1, tgt, T.hp_dmg[ar, tgt] * single)
    if T.has_baneling or T.has_colossus:
        hits = torch.zeros_like(dist, dtype=torch.bool)  # [B, attacker, victim]
        victims = T.opponent & s.alive[:, None, :]
        if T.has_baneling:
            blast = dist <= 2.2 + T.radius[None, None, :]
            hits = hits | ((fire & T.baneling)[..., None] & blast)
        if T.has_colossus:
            shot = t_pos - s.pos  # [B, U, 2]
            u = shot / torch.linalg.vector_norm(shot, dim=-1, keepdim=True).clamp_min(1e-6)
            rel = s.pos[:, None, :, :] - t_pos[:, :, None, :]  # [B, a, v, 2]
            along = (rel * u[:, :, None, :]).sum(-1).abs()
            across = (rel[..., 0] * -u[:, :, None, 1] + rel[..., 1] * u[:, :, None, 0]).abs()
            r = T.radius[None, None, :]
            beam = (along <= 0.15 + r) & (across <= 1.4 + r)
            hits = hits | ((fire & T.colossus)[..., None] & beam)
        hits = (hits & victims).float()
        raw_in = raw_in + (hits * T.raw_dmg).sum(1)
        hp_in = hp_in + (hits * T.hp_dmg).sum(1)
    return raw_in, hp_in


def _collide(pos, alive, collide_r, mobile):
    """Push overlapping live units apart along the line joining them."""
    diff, dist = pairwise(pos)  # diff[i, j] = p_j - p_i
    overlap = (collide_r - dist).clamp_min(0.0) * (alive[:, :, None] & alive[:, None, :])  # [B, U, U]
    push = (diff * (overlap / dist.clamp_min(1e-6))[..., None]).sum(2)  # [B, U, 2]
    return pos - 0.5 * push * mobile[:, None]


def _confine(pos, old, T):
    """Keep units inside the playable box and, with a terrain grid, slide ground units along walls."""
    x0, y0, x1, y1 = T.box
    x = pos[..., 0].clamp(x0 + 0.01, x1 - 0.01)
    y = pos[..., 1].clamp(y0 + 0.01, y1 - 0.01)
    if T.walkable is not None:
        x = torch.where(walkable(T.walkable, x, old[..., 1]) | T.air, x, old[..., 0])
        y = torch.where(walkable(T.walkable, x, y) | T.air, y, old[..., 1])
    return torch.stack([x, y], -1)


def walkable(grid: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Look the terrain grid [H, W] up at floor(x), floor(y); outside the grid is blocked."""
    H, W = grid.shape
    ix, iy = x.floor().long(), y.floor().long()
    inside = (ix >= 0) & (ix < W) & (iy >= 0) & (iy < H)
    return grid[iy.clamp(0, H - 1), ix.clamp(0, W - 1)] & inside


def simulate(s: BattleState, T: BattleTables, dt: float, ticks: int) -> None:
    """Run ``ticks`` ticks in place."""
    for _ in range(ticks):
        tick(s, T, dt)
