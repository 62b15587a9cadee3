"""One agent step of a batch of battles: orders, then K ticks of movement and combat.

A SMAC step is 8 game loops (SMAC's ``step_mul``); it runs as ``ticks_per_step`` ticks that
advance all battles and units at once: the enemy AI refreshes its targets, weapons that are
loaded and in reach fire (reach: weapon range plus both radii, i.e. measured between the
units' surfaces, as in SC2), all damage of the tick lands at once (so draws can happen), then
units chase or walk and ground units are kept from overlapping (``collisions.py``). An attack
order on a unit the attacker's weapon cannot target (a marauder on a medivac) does nothing:
the unit stays idle, as SC2 rejects the order. Only ops on [B, U] (and a few [B, U, U])
tensors run per tick; nothing syncs with Python.
"""
from __future__ import annotations

import torch

from .collisions import pair_buffers, separate
from .config import StarCraftConfig
from .enemy_ai import enemy_goals, enemy_targets
from .state import ATTACK, IDLE, MOVE, BattleState
from .tables import BattleTables
from .units import HP_PER_ENERGY, MEDIVAC_ENERGY_MAX, MEDIVAC_ENERGY_REGEN, SHIELD_DELAY, SHIELD_REGEN

CROWDED = 0.05
"""A unit whose overlaps, summed as (r_i + r_j) / d_ij - 1 over its neighbours, still exceed this
before a tick's last collision pass (about 5 % of touching distance) holds still the next tick:
the passes then clear the crowd instead of chasing walkers that keep pressing in. Our choice,
tuned so that issue 22's overlap statistic stays far below 0.01 (SC2 units queue similarly)."""
HOLD_WITHIN = float("inf")
"""A pressed unit holds only if its stop point (move point, or reach of its target) is within this many ticks'
walk; inf (simulator version 2) holds every pressed unit. The hold stalls attack-moving crowds that SC2 and
SMAClite let slide past each other; benchmarks/fidelity_probes.py (probe crowd_hold) measures 2.0 with two
collision passes, a version-3 candidate not adopted (why: "Remaining differences" in smac_fidelity.md)."""
# action ids: 0 no-op, 1 stop, 2 north (+y), 3 south, 4 east (+x), 5 west, 6+j attack/heal j
N_NO_ATTACK = 6


def apply_orders(s: BattleState, actions: torch.Tensor, T: BattleTables, move_amount: float) -> None:
    """Turn the agents' actions [B, N] into orders that persist through the step's ticks."""
    A = T.n_agents
    a = actions.long()  # [B, A]
    j = a - N_NO_ATTACK
    target = torch.where(T.healer[:A], j, j + A).clamp(0, T.n_units - 1)  # medivacs target allies
    valid = T.can_target[:A].flatten().take(_agent_rows(T) + target)  # [B, A]: SC2 rejects e.g. marauder -> medivac
    is_attack = (a >= N_NO_ATTACK) & valid
    mode = is_attack * ATTACK + ((a >= 2) & (a < N_NO_ATTACK)) * MOVE  # alive agents only get here with a real order
    mode = mode * s.alive[:, :A]
    s.mode = torch.cat([mode, s.mode[:, A:]], 1)
    s.target = torch.cat([torch.where(is_attack, target, s.target[:, :A]), s.target[:, A:]], 1)
    s.goal_x = torch.cat([s.x[:, :A] + T.move_dx.take(a) * move_amount, s.goal_x[:, A:]], 1)
    s.goal_y = torch.cat([s.y[:, :A] + T.move_dy.take(a) * move_amount, s.goal_y[:, A:]], 1)
    s.last_action = a


def _agent_rows(T: BattleTables) -> torch.Tensor:
    """[A] offsets of the agents' rows in the flattened [A, U] ``can_target`` table."""
    return torch.arange(T.n_agents, device=T.can_target.device) * T.n_units


def simulate(s: BattleState, T: BattleTables, cfg: StarCraftConfig, c: TickConsts) -> None:
    """Run one agent step (``cfg.ticks_per_step`` ticks) in place, after ``apply_orders``."""
    A, E = T.n_agents, T.n_enemies
    a_target = s.target[:, :A]
    a_attack, a_move = s.mode[:, :A] == ATTACK, s.mode[:, :A] == MOVE
    target, attack, move = s.target, s.mode == ATTACK, s.mode == MOVE
    if E:
        gx, gy = enemy_goals(s, T)
        s.goal_x = torch.cat([s.goal_x[:, :A], gx], 1)
        s.goal_y = torch.cat([s.goal_y[:, :A], gy], 1)
        threat0 = a_attack[:, None, :] & (a_target[:, None, :] == c.e_slot[:, None])  # [B, E, A]
        e_target, e_attack = s.target[:, A:], s.mode[:, A:] == ATTACK
    crowd = torch.zeros_like(s.x)  # [B, U] overlap each unit was left with by the last tick's collisions
    for i in range(cfg.ticks_per_step):
        if E and i % cfg.ai_every == 0:
            e_target, e_attack = enemy_targets(s, T, threat0, e_target, e_attack)
            target = torch.cat([a_target, e_target], 1)
            attack = torch.cat([a_attack, e_attack], 1)
            move = torch.cat([a_move, ~e_attack], 1)
        crowd = tick(s, T, c, target, attack, move, cfg.collide_iters, crowd)
    s.target = target
    s.mode = torch.where(attack, ATTACK, torch.where(move, MOVE, IDLE))


class TickConsts:
    """Constants of the tick as tensors, built once per env: Python scalars in tensor ops cost a
    conversion each (about as much as the op itself at small batch sizes)."""

    def __init__(self, T: BattleTables, dt: float, B: int, device):
        def scalar(v):
            return torch.tensor(v, dtype=torch.float32, device=device)

        self.dt = scalar(dt)
        self.zero = scalar(0.0)
        self.eps = scalar(1e-6)
        self.step_len = T.speed * dt  # [U]
        self.raw = T.raw_dmg.expand(B, -1, -1)  # [B, U, U]
        self.hp = T.hp_dmg.expand(B, -1, -1)
        self.radius = T.radius.expand(B, -1)  # [B, U]
        self.reach_self = T.range_plus_radius - 0.0  # [U]
        self.reach_stop = T.range_plus_radius - 0.01
        self.regen = T.regen * dt
        self.heal = T.heal_rate * dt
        self.energy = MEDIVAC_ENERGY_REGEN * dt * T.healer
        self.shield_regen = scalar(SHIELD_REGEN * dt)
        self.shield_delay = scalar(SHIELD_DELAY - 1e-3)  # float slack: regen starts exactly 20 steps after a hit
        self.hp_per_energy = scalar(HP_PER_ENERGY)
        self.e_slot = torch.arange(T.n_agents, T.n_units, device=device)
        x0, y0, x1, y1 = T.box
        self.lo_x, self.hi_x, self.lo_y, self.hi_y = x0 + 0.01, x1 - 0.01, y0 + 0.01, y1 - 0.01
        self.centre = (scalar((x0 + x1) / 2), scalar((y0 + y1) / 2))  # keeps squared norms small in collisions
        self.pairs = pair_buffers(T.n_units, B, device)  # the collision pass's reusable [U, U, B] tables, or None


def tick(s: BattleState, T: BattleTables, c: TickConsts, tgt: torch.Tensor, attack: torch.Tensor,
         move: torch.Tensor, collide_iters: int, crowd: torch.Tensor) -> torch.Tensor:
    """Advance every battle by one tick in place: fire, apply damage, move, separate.

    tgt [B, U] target slots, attack/move [B, U] the current order kinds, crowd [B, U] the overlap
    the previous tick left each unit with: a unit still pressed into others (``CROWDED``) waits
    a tick instead of walking further in, as SC2 units queue behind a blocked crowd. Returns
    this tick's crowd.
    """
    x, y, alive = s.x, s.y, s.alive
    tx, ty = x.gather(1, tgt), y.gather(1, tgt)  # [B, U]
    dx, dy = tx - x, ty - y
    t_dist = torch.hypot(dx, dy)
    engaged = attack & alive & alive.gather(1, tgt)
    r_t = c.radius.gather(1, tgt)
    in_range = t_dist <= c.reach_self + r_t
    fire = engaged & in_range & (s.cooldown <= c.zero)
    if T.has_healer:
        heal = fire & T.healer
        fire = fire & ~T.healer

    # --- combat: every shot of this tick lands at once
    idx = tgt[..., None]
    single = fire & ~T.splash if (T.has_baneling or T.has_colossus) else fire
    raw_out = c.raw.gather(2, idx).squeeze(-1) * single  # [B, U] damage each attacker deals
    raw_in = torch.zeros_like(x).scatter_add_(1, tgt, raw_out)  # [B, U] damage each unit takes
    if T.armor_free:
        hp_in = raw_in
    else:
        hp_in = torch.zeros_like(x).scatter_add_(1, tgt, c.hp.gather(2, idx).squeeze(-1) * single)
    if T.has_baneling or T.has_colossus:
        raw_in, hp_in = _splash(s, T, fire, tx, ty, raw_in, hp_in)
    hp = s.hp
    if T.has_shields:
        absorb = torch.minimum(s.shield, raw_in)
        hp = hp - hp_in * ((raw_in - absorb) / raw_in.clamp_min(1e-6))
        s.shield = s.shield - absorb
        rested = (s.since_hit >= c.shield_delay) & (raw_in <= c.zero)  # the delay had passed when this tick began
        s.since_hit = (s.since_hit + c.dt).masked_fill(raw_in > c.zero, 0.0)
    else:
        hp = hp - hp_in
    if T.has_baneling:
        hp = hp.masked_fill(fire & T.baneling, 0.0)  # banelings die when they explode
    if T.has_healer:
        missing = (T.hp_max - s.hp).gather(1, tgt)
        amount = torch.minimum(torch.minimum(c.heal, s.energy * c.hp_per_energy), missing) * heal
        hp = hp + torch.zeros_like(hp).scatter_add_(1, tgt, amount) * (hp > c.zero)
        s.energy = (s.energy - amount / c.hp_per_energy + c.energy).clamp(max=MEDIVAC_ENERGY_MAX)
    if T.has_regen:
        hp = hp + c.regen * (hp > c.zero)
    alive = alive & (hp > c.zero)
    s.hp = torch.minimum(hp, T.hp_max).clamp_min(0.0)
    s.alive = alive
    if T.has_shields:
        regen = rested & alive
        s.shield = torch.where(regen, torch.minimum(s.shield + c.shield_regen, T.shield_max), s.shield) * alive
    s.cooldown = (torch.where(fire, T.cooldown, s.cooldown) - c.dt).clamp_min(0.0)  # ready after ceil(cd/dt) ticks

    # --- movement: walk to the move point, or chase a target that is out of reach
    chase = engaged & ~in_range
    gx = torch.where(chase, tx, s.goal_x) - x
    gy = torch.where(chase, ty, s.goal_y) - y
    length = torch.where(chase, t_dist, torch.hypot(gx, gy))
    room = length - (c.reach_stop + r_t) * chase
    free = crowd <= CROWDED
    if HOLD_WITHIN != float("inf"):
        free = free | (room > HOLD_WITHIN * c.step_len)
    step = torch.minimum(c.step_len, room.clamp_min(0.0)) * ((move | chase) & alive & free)
    scale = step / length.clamp_min(1e-6)
    nx, ny = torch.addcmul(x, gx, scale), torch.addcmul(y, gy, scale)
    nx, ny = _confine(nx, ny, x, y, T, c)
    if collide_iters:
        nx, ny, crowd = separate(nx, ny, alive, step > c.zero, T.collide_r, T.mobile, collide_iters, c.centre,
                                 lambda x1, y1, x0, y0: _confine(x1, y1, x0, y0, T, c), c.pairs)
    s.x, s.y = nx, ny
    return crowd


def _splash(s, T, fire, tx, ty, raw_in, hp_in):
    """Add area damage: banelings hit every opponent within 2.2 (+ its radius), colossi a beam."""
    x, y = s.x, s.y
    hits = torch.zeros(x.shape[0], x.shape[1], x.shape[1], dtype=torch.bool, device=x.device)  # [B, a, v]
    victims = T.opponent & s.alive[:, None, :]
    r = T.radius[None, None, :]
    if T.has_baneling:
        d = torch.hypot(x[:, None, :] - x[:, :, None], y[:, None, :] - y[:, :, None])
        hits = hits | ((fire & T.baneling)[..., None] & (d <= 2.2 + r))
    if T.has_colossus:
        sx, sy = tx - x, ty - y
        n = torch.hypot(sx, sy).clamp_min(1e-6)
        ux, uy = (sx / n)[..., None], (sy / n)[..., None]  # [B, a, 1]
        rx, ry = x[:, None, :] - tx[..., None], y[:, None, :] - ty[..., None]  # [B, a, v]
        beam = ((rx * ux + ry * uy).abs() <= 0.15 + r) & ((ry * ux - rx * uy).abs() <= 1.4 + r)
        hits = hits | ((fire & T.colossus)[..., None] & beam)
    hits = (hits & victims).float()
    return raw_in + (hits * T.raw_dmg).sum(1), hp_in + (hits * T.hp_dmg).sum(1)


def _confine(x, y, old_x, old_y, T, c):
    """Keep units inside the playable box and, with a terrain grid, slide ground units along walls."""
    x = x.clamp(c.lo_x, c.hi_x)
    y = y.clamp(c.lo_y, c.hi_y)
    if T.walkable is not None:
        x = torch.where(walkable(T.walkable, x, old_y) | T.air, x, old_x)
        y = torch.where(walkable(T.walkable, x, y) | T.air, y, old_y)
    return x, y


def walkable(grid: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Look the terrain grid [H, W] up at floor(x), floor(y); outside the grid is blocked."""
    H, W = grid.shape
    ix, iy = x.floor().long(), y.floor().long()
    inside = (ix >= 0) & (ix < W) & (iy >= 0) & (iy < H)
    return grid[iy.clamp(0, H - 1), ix.clamp(0, W - 1)] & inside
