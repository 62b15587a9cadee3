"""Unit types of the StarCraft II micro battles (SC2 Legacy-of-the-Void values).

Introduced in book/06_starcraft. Two clocks matter. SC2's data (and SMAC's map files) count
*game seconds* of 16 game loops (normal speed); SMAC runs at *faster* speed, 22.4 game loops
per second, and the simulator's second is that faster second (SMAC's step of 8 game loops
is 8 / 22.4 s). Speeds, cooldowns and zerg regeneration below are the usual LotV faster-speed
values (game-second value x 1.4); rates that the map files give per game second (shields,
medivac energy and healing) are converted with ``per_faster_second``. ``radius`` is half the
unit's footprint (SC2's ``Radius``). The stalker's cooldown is the exact 1.87 game seconds /
1.4 (the 1.34 usually quoted is that value rounded), so every weapon period is a whole, even
number of game loops. The behaviour of each special unit lives in ``battle.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

ATTRIBUTES = ("light", "armored", "bio", "mech", "massive", "structure")


@dataclass(frozen=True)
class UnitType:
    """Static stats of one unit type."""

    name: str
    race: str
    """'T', 'P' or 'Z'; Protoss units carry shields in observations."""
    hp: float
    shield: float
    armor: float
    damage: float
    """Damage of one hit before armor and bonus."""
    hits: int
    """Hits per attack (zealot and colossus hit twice)."""
    range: float
    """Weapon range, edge to edge (both radii are added)."""
    cooldown: float
    speed: float
    radius: float
    attributes: tuple[str, ...] = ()
    bonus: float = 0.0
    bonus_vs: str = ""
    """Extra damage per hit against targets with this attribute."""
    heal_rate: float = 0.0
    """HP healed per (faster) second (medivac); such units never attack."""
    splash: str = ""
    """'' (single target), 'radius' (baneling: explodes and dies) or 'line' (colossus beam)."""
    splash_size: float = 0.0
    regen: float = 0.0
    """HP regenerated per (faster) second (zerg)."""
    air: bool = False
    hits_air: bool = False
    """Its weapon can target air units (SC2 data; marauders, zealots, zerglings, banelings,
    colossi and spine crawlers are ground-only). An attack order on an air unit does nothing."""
    agent_speed: float = 0.0
    """Speed of the SMAC map's ``*_RL`` variant the agents control, where it differs from the
    stock unit the enemies get (0: same as ``speed``)."""
    scan_range: float = 5.0
    """Radius in which the built-in AI acquires targets (plus the target's radius)."""
    cooldown_norm: float = 15.0
    """SMAC's per-type cooldown normaliser in game loops (medivac: max energy)."""


GAME_LOOPS_PER_SECOND = 22.4
"""Game loops per faster second (SC2's "faster" game speed, which SMAC uses)."""
GAME_LOOPS_PER_GAME_SECOND = 16.0
"""Game loops per game second (SC2's "normal" speed, the unit of its data files and editor)."""


def per_faster_second(rate_per_game_second: float) -> float:
    """Convert a rate per game second (SC2 data, SMAC map files) to one per faster second: x 22.4 / 16 = x 1.4."""
    return rate_per_game_second * GAME_LOOPS_PER_SECOND / GAME_LOOPS_PER_GAME_SECOND


def faster_seconds(game_seconds: float) -> float:
    """Convert a duration in game seconds to faster seconds: / 1.4."""
    return game_seconds * GAME_LOOPS_PER_GAME_SECOND / GAME_LOOPS_PER_SECOND


ZERG_REGEN = 0.38
"""HP per faster second of zerg units: SC2's 0.2734 per game second x 1.4 (SMAClite's hp_regen 0.38)."""
MEDIVAC_HEAL = 9.0
"""HP a medivac heals per game second (SC2 data, ability MedivacHeal; SMAClite's HEAL_PER_SECOND):
12.6 per faster second, 4.5 per SMAC step of 8 game loops (SMAClite: 4.5 per step)."""

# Sources: hp, shields, armor, damage, bonus, range, radius: SC2 LotV unit data (the SMAC map
# files' UnitData.xml where it overrides a value, e.g. LifeMax, Radius) and SMAClite's unit
# json files, which agree; cooldowns and speeds: SC2 LotV faster-speed values (SMAClite's json;
# the map files give speed per game second, e.g. Marine_RL 2.25 x 1.4 = 3.15); cooldown_norm:
# SMAC's starcraft2.py (unit_max_cooldown); scan_range: SMAClite's minimum_scan_range (5).
UNIT_TYPES: dict[str, UnitType] = {
    u.name: u
    for u in (
        UnitType("marine", "T", 45, 0, 0, 6, 1, 5, 0.61, 3.15, 0.375, ("light", "bio"), hits_air=True,
                 cooldown_norm=15),
        UnitType("marauder", "T", 125, 0, 1, 10, 1, 6, 1.07, 3.15, 0.5625, ("armored", "bio"),
                 bonus=10, bonus_vs="armored", cooldown_norm=25),
        # medivac: stock speed 2.5 game units/s = 3.5 (the enemies'); the maps' Medivac_RL has Speed 2.75
        # = 3.85 (MMM.SC2Map, MMM2.SC2Map UnitData.xml; SMAClite uses 3.5 for both sides)
        UnitType("medivac", "T", 150, 0, 1, 0, 0, 4, 0.0, 3.5, 0.75, ("armored", "mech"),
                 heal_rate=per_faster_second(MEDIVAC_HEAL), air=True, agent_speed=per_faster_second(2.75),
                 cooldown_norm=200),
        UnitType("stalker", "P", 80, 80, 1, 13, 1, 6, 1.87 / 1.4, 4.13, 0.625, ("armored", "mech"),
                 bonus=5, bonus_vs="armored", hits_air=True, cooldown_norm=35),
        UnitType("zealot", "P", 100, 50, 1, 8, 2, 0.1, 0.86, 3.15, 0.5, ("light", "bio"), cooldown_norm=22),
        UnitType("colossus", "P", 200, 150, 1, 10, 2, 7, 1.07, 3.15, 1.0, ("armored", "mech", "massive"),
                 bonus=5, bonus_vs="light", splash="line", splash_size=2.8, cooldown_norm=24),
        UnitType("hydralisk", "Z", 80, 0, 0, 12, 1, 5, 0.59, 3.15, 0.625, ("light", "bio"),
                 regen=ZERG_REGEN, hits_air=True, cooldown_norm=10),
        UnitType("zergling", "Z", 35, 0, 0, 5, 1, 0.1, 0.497, 4.13, 0.375, ("light", "bio"),
                 regen=ZERG_REGEN, cooldown_norm=11),
        UnitType("baneling", "Z", 30, 0, 0, 16, 1, 0.25, 0.0, 3.5, 0.375, ("bio",),
                 bonus=19, bonus_vs="light", splash="radius", splash_size=2.2, regen=ZERG_REGEN, cooldown_norm=1),
        UnitType("spine_crawler", "Z", 300, 0, 2, 25, 1, 7, 1.32, 0.0, 0.5, ("armored", "bio", "structure"),
                 bonus=5, bonus_vs="armored", regen=ZERG_REGEN, scan_range=10.0),
    )
}
"""Every unit type a scenario may use, by name."""

MEDIVAC_ENERGY_MAX = 200.0
"""SMAC map files, Medivac_RL EnergyMax."""
MEDIVAC_ENERGY_START = 50.0
"""SMAC map files, Medivac_RL EnergyStart."""
MEDIVAC_ENERGY_REGEN = per_faster_second(0.5625)
"""Energy per faster second: EnergyRegenRate 0.5625 per game second (SMAC map files, Medivac_RL) x 1.4 = 0.7875."""
HP_PER_ENERGY = 3.0
"""HP healed per energy point (SC2 data, MedivacHeal; SMAClite's HEAL_PER_ENERGY)."""
SHIELD_REGEN = per_faster_second(2.0)
"""Shield points per faster second, once ``SHIELD_DELAY`` passed since the last damage: ShieldRegenRate 2 per
game second (SMAC map files, Stalker_RL and Zealot_RL) x 1.4 = 2.8, i.e. 1.0 per SMAC step of 8 game loops."""
SHIELD_DELAY = faster_seconds(10.0)
"""Faster seconds without damage before shields regenerate: ShieldRegenDelay 10 game seconds (SMAC map files)
= 160 game loops = 10 / 1.4 = 7.14 faster seconds = 20 SMAC steps."""


def unit_type(name: str) -> UnitType:
    """Look a unit type up by name, with an error listing the known ones."""
    if name not in UNIT_TYPES:
        raise ValueError(f"unknown unit type {name!r}; known: {', '.join(UNIT_TYPES)}")
    return UNIT_TYPES[name]


def hit_damage(attacker: UnitType, target: UnitType) -> float:
    """Damage of one hit of ``attacker`` on ``target`` before armor (base + matching bonus)."""
    bonus = attacker.bonus if attacker.bonus_vs and attacker.bonus_vs in target.attributes else 0.0
    return attacker.damage + bonus
