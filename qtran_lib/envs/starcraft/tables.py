"""Static per-scenario tensors: unit stats per slot, pairwise damage tables, start layout.

Every battle of a batch shares these; the simulator reads them with broadcasting so no
per-battle Python work happens at run time. Slots are allies first (the agents), then
enemies, each sorted by unit type in one-hot order, then by spawn order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .scenarios import Scenario
from .terrain import terrain_grid
from .units import GAME_LOOPS_PER_SECOND, unit_type


@dataclass
class BattleTables:
    """Everything about a scenario that does not change during a battle."""

    n_agents: int
    n_enemies: int
    type_idx: torch.Tensor  # [U] long, index into the scenario's type order
    is_ally: torch.Tensor  # [U] bool
    hp_max: torch.Tensor  # [U]
    shield_max: torch.Tensor  # [U]
    radius: torch.Tensor  # [U]
    speed: torch.Tensor  # [U]
    cooldown: torch.Tensor  # [U] seconds
    cooldown_norm: torch.Tensor  # [U] seconds
    regen: torch.Tensor  # [U] hp per second
    scan: torch.Tensor  # [U] acquire radius of the built-in AI
    heal_rate: torch.Tensor  # [U]
    healer: torch.Tensor  # [U] bool
    baneling: torch.Tensor  # [U] bool
    colossus: torch.Tensor  # [U] bool
    air: torch.Tensor  # [U] bool
    raw_dmg: torch.Tensor  # [U, U] damage of one attack of a on t before shields/armor
    hp_dmg: torch.Tensor  # [U, U] same after armor (what reaches HP once shields are gone)
    reach: torch.Tensor  # [U, U] weapon range + both radii
    opponent: torch.Tensor  # [U, U] bool, different teams
    scan_ea: torch.Tensor  # [E, N] enemy scan radius + ally radius
    reach_ea: torch.Tensor  # [E, N]
    can_target: torch.Tensor  # [U, U] bool: a's attack (heal) may target t (opponents on a plane its weapon hits)
    target_ea: torch.Tensor  # [E, N] bool: can_target of enemies on allies
    armor_free: bool
    """No shields and no armor anywhere: damage to HP equals raw damage (skips work)."""
    move_dx: torch.Tensor  # [n_actions] x of each action's move direction (0 unless a move)
    move_dy: torch.Tensor  # [n_actions]
    range_plus_radius: torch.Tensor  # [U] weapon range + own radius
    splash: torch.Tensor  # [U] bool, baneling or colossus
    collide_r: torch.Tensor  # [U, U] r_i + r_j for pairs that collide (same plane, i != j), else 0
    mobile: torch.Tensor  # [U] 1.0 for units that can move
    type_onehot: torch.Tensor  # [U, tb]
    start_pos: torch.Tensor  # [U, 2] default formation
    start_offset: torch.Tensor  # [U, 2] formation offset from its group centre
    group_center: torch.Tensor  # [U, 2]
    attack_point: torch.Tensor  # [2]
    box: tuple[float, float, float, float]
    walkable: torch.Tensor | None  # [H, W] bool grid, None for an open box
    shields_ally: bool
    shields_enemy: bool
    type_bits: int
    has_healer: bool
    ally_healer: bool
    enemy_healer: bool
    has_baneling: bool
    has_colossus: bool
    has_regen: bool
    has_shields: bool
    max_reward: float
    """SMAC's normaliser: 10 per enemy + win bonus + all enemy HP and shields."""

    @property
    def n_units(self) -> int:
        return self.n_agents + self.n_enemies


def _slots(scenario: Scenario) -> list[tuple[str, bool]]:
    order = scenario.type_order
    out = []
    for army, ally in ((scenario.allies, True), (scenario.enemies, False)):
        units = [t for t, c in army for _ in range(c)]
        units.sort(key=order.index)  # stable: spawn order within a type
        out += [(t, ally) for t in units]
    return out


def _formation(n: int, spacing: float, mirror: bool) -> list[tuple[float, float]]:
    """Square grid of side ceil(sqrt n), row 0 facing the opponent (+x for allies)."""
    side = max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / side)
    pts = []
    for k in range(n):
        r, c = divmod(k, side)
        x = ((rows - 1) / 2 - r) * spacing
        y = (c - (side - 1) / 2) * spacing
        pts.append((-x, -y) if mirror else (x, y))
    return pts


def _can_target(a, t, same_team: bool, same_unit: bool) -> bool:
    """Whether unit type ``a`` may attack (medivac: heal) ``t``. Weapons hit air only if the
    type says so (SC2 data: marauders are ground-only); medivacs heal other ground units of
    their own team (SC2's MedivacHeal cannot target air units)."""
    if a.heal_rate > 0:
        return same_team and not same_unit and not t.air
    return not same_team and (a.hits_air or not t.air)


SMAC_ENEMY_TYPE_ORDER = {frozenset({"stalker", "zealot"}): ("zealot", "stalker")}
"""Enemy type one-hot orders that differ from the allies' (alphabetical) order. SMAC numbers an enemy's type
from SC2's unit ids (starcraft2.py, get_unit_type_id: ``unit_type - 73`` on its stalkers-and-zealots maps;
Zealot = 73, Stalker = 74), while allied types follow the map's own ids (stalker first): on 2s3z, 3s5z and
3s5z_vs_3s6z an enemy zealot has bit 0 and an enemy stalker bit 1, the reverse of the allies'. A network trained
on SMAC expects this. On SMAC's other maps both sides share one order."""


def build_tables(scenario: Scenario, device: torch.device) -> BattleTables:
    """Turn a scenario into the static tensors the simulator reads."""
    slots = _slots(scenario)
    types = [unit_type(t) for t, _ in slots]
    ally = [a for _, a in slots]
    n_agents, n_units = scenario.n_agents, len(slots)
    order = scenario.type_order
    tb = scenario.type_bits

    def vec(values, dtype=torch.float32):
        return torch.tensor(values, dtype=dtype, device=device)

    raw = torch.zeros(n_units, n_units)
    hp = torch.zeros(n_units, n_units)
    reach = torch.zeros(n_units, n_units)
    for i, a in enumerate(types):
        for j, t in enumerate(types):
            reach[i, j] = a.range + a.radius + t.radius
            if not _can_target(a, t, ally[i] == ally[j], i == j) or a.heal_rate > 0:
                continue
            per_hit = a.damage + (a.bonus if a.bonus_vs and a.bonus_vs in t.attributes else 0.0)
            raw[i, j] = a.hits * per_hit
            hp[i, j] = a.hits * max(per_hit - t.armor, 0.0)
    can_target = torch.tensor([[_can_target(a, t, ally[i] == ally[j], i == j) for j, t in enumerate(types)]
                               for i, a in enumerate(types)])
    radii = torch.tensor([t.radius for t in types])
    air = torch.tensor([t.air for t in types])
    collide = (radii[:, None] + radii[None, :]) * (air[:, None] == air[None, :]) * (1 - torch.eye(n_units))
    onehot = torch.zeros(n_units, tb)
    if tb:
        enemy_order = SMAC_ENEMY_TYPE_ORDER.get(frozenset(order), order)
        for i, (t, a) in enumerate(slots):
            onehot[i, (order if a else enemy_order).index(t)] = 1.0

    # start layout: one formation per (team, group centre)
    centers = []
    spawn = {a: [(t, p) for t, c, p in (scenario.ally_groups if a else scenario.enemy_groups) for _ in range(c)]
             for a in (True, False)}  # SMAC's spawn points, one per unit, in spawn order
    for (t, a) in slots:
        per_type = scenario.ally_centers if a else scenario.enemy_centers
        own = [k for k, (u, _) in enumerate(spawn[a]) if u == t]
        centers.append(spawn[a].pop(own[0])[1] if own else
                       per_type.get(t, scenario.ally_center if a else scenario.enemy_center))
    offsets = [(0.0, 0.0)] * n_units
    for key in sorted(set(zip(centers, ally))):
        idx = [i for i in range(n_units) if (centers[i], ally[i]) == key]
        spacing = 2 * max(types[i].radius for i in idx) + 0.05
        for i, p in zip(idx, _formation(len(idx), spacing, mirror=not key[1])):
            offsets[i] = p
    offset_t, center_t = vec(offsets), vec(centers)
    enemy_types = types[n_agents:]
    max_reward = sum(t.hp + t.shield + 10.0 for t in enemy_types) + 200.0
    walkable = terrain_grid(scenario.terrain).to(device) if scenario.terrain else None
    return BattleTables(
        n_agents=n_agents,
        n_enemies=n_units - n_agents,
        type_idx=vec([order.index(t) for t, _ in slots], torch.long),
        is_ally=vec(ally, torch.bool),
        hp_max=vec([t.hp for t in types]),
        shield_max=vec([t.shield for t in types]),
        radius=vec([t.radius for t in types]),
        speed=vec([t.agent_speed if a and t.agent_speed else t.speed for t, a in zip(types, ally)]),
        cooldown=vec([t.cooldown for t in types]),
        cooldown_norm=vec([t.cooldown_norm / GAME_LOOPS_PER_SECOND for t in types]),
        regen=vec([t.regen for t in types]),
        scan=vec([t.scan_range for t in types]),
        heal_rate=vec([t.heal_rate for t in types]),
        healer=vec([t.heal_rate > 0 for t in types], torch.bool),
        baneling=vec([t.splash == "radius" for t in types], torch.bool),
        colossus=vec([t.splash == "line" for t in types], torch.bool),
        air=vec([t.air for t in types], torch.bool),
        raw_dmg=raw.to(device),
        hp_dmg=hp.to(device),
        reach=reach.to(device),
        opponent=(vec(ally, torch.bool)[:, None] != vec(ally, torch.bool)[None, :]),
        scan_ea=(torch.tensor([t.scan_range for t in enemy_types])[:, None] + radii[None, :n_agents]).to(device),
        reach_ea=reach[n_agents:, :n_agents].to(device),
        can_target=can_target.to(device),
        target_ea=can_target[n_agents:, :n_agents].to(device),
        armor_free=bool(torch.equal(raw, hp)) and not any(t.shield > 0 for t in types),
        move_dx=vec([0.0, 0.0, 0.0, 0.0, 1.0, -1.0] + [0.0] * (n_units - n_agents)),
        move_dy=vec([0.0, 0.0, 1.0, -1.0, 0.0, 0.0] + [0.0] * (n_units - n_agents)),
        range_plus_radius=vec([t.range + t.radius for t in types]),
        splash=vec([t.splash != "" for t in types], torch.bool),
        collide_r=collide.to(device),
        mobile=vec([float(t.speed > 0) for t in types]),
        type_onehot=onehot.to(device),
        start_pos=offset_t + center_t,
        start_offset=offset_t,
        group_center=center_t,
        attack_point=vec(scenario.attack_point or scenario.ally_center),
        box=tuple(float(v) for v in scenario.playable),
        walkable=walkable,
        shields_ally=any(t.race == "P" for t in types[:n_agents]),
        shields_enemy=any(t.race == "P" for t in enemy_types),
        type_bits=tb,
        has_healer=any(t.heal_rate > 0 for t in types),
        ally_healer=any(t.heal_rate > 0 for t in types[:n_agents]),
        enemy_healer=any(t.heal_rate > 0 for t in enemy_types),
        has_baneling=any(t.splash == "radius" for t in types),
        has_colossus=any(t.splash == "line" for t in types),
        has_regen=any(t.regen > 0 for t in types),
        has_shields=any(t.shield > 0 for t in types),
        max_reward=max_reward,
    )
