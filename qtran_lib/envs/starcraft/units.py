"""Unit types of the StarCraft II micro battles (SC2 Legacy-of-the-Void values).

Introduced in book/06_starcraft. Times are in "faster" seconds, speeds in map units per
faster-second, ``radius`` is half the unit's footprint. The stalker's cooldown is the exact
1.87 normal-speed seconds / 1.4 (the spec's 1.34 is that value rounded), so every weapon
period is a whole, even number of game loops. The numbers follow the spec
(``shared/spec/envs.md`` §1.1); the behaviour of each special unit lives in ``battle.py``.
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
    """HP healed per second (medivac); such units never attack."""
    splash: str = ""
    """'' (single target), 'radius' (baneling: explodes and dies) or 'line' (colossus beam)."""
    splash_size: float = 0.0
    regen: float = 0.0
    """HP regenerated per second (zerg)."""
    air: bool = False
    scan_range: float = 5.0
    """Radius in which the built-in AI acquires targets (plus the target's radius)."""
    cooldown_norm: float = 15.0
    """SMAC's per-type cooldown normaliser in game loops (medivac: max energy)."""


UNIT_TYPES: dict[str, UnitType] = {
    u.name: u
    for u in (
        UnitType("marine", "T", 45, 0, 0, 6, 1, 5, 0.61, 3.15, 0.375, ("light", "bio"), cooldown_norm=15),
        UnitType("marauder", "T", 125, 0, 1, 10, 1, 6, 1.07, 3.15, 0.5625, ("armored", "bio"),
                 bonus=10, bonus_vs="armored", cooldown_norm=25),
        UnitType("medivac", "T", 150, 0, 1, 0, 0, 4, 0.0, 3.5, 0.75, ("armored", "mech"),
                 heal_rate=9.0, air=True, cooldown_norm=200),
        UnitType("stalker", "P", 80, 80, 1, 13, 1, 6, 1.87 / 1.4, 4.13, 0.625, ("armored", "mech"),
                 bonus=5, bonus_vs="armored", cooldown_norm=35),
        UnitType("zealot", "P", 100, 50, 1, 8, 2, 0.1, 0.86, 3.15, 0.5, ("light", "bio"), cooldown_norm=22),
        UnitType("colossus", "P", 200, 150, 1, 10, 2, 7, 1.07, 3.15, 1.0, ("armored", "mech", "massive"),
                 bonus=5, bonus_vs="light", splash="line", splash_size=2.8, cooldown_norm=24),
        UnitType("hydralisk", "Z", 80, 0, 0, 12, 1, 5, 0.59, 3.15, 0.625, ("light", "bio"),
                 regen=0.38, cooldown_norm=10),
        UnitType("zergling", "Z", 35, 0, 0, 5, 1, 0.1, 0.497, 4.13, 0.375, ("light", "bio"),
                 regen=0.38, cooldown_norm=11),
        UnitType("baneling", "Z", 30, 0, 0, 16, 1, 0.25, 0.0, 3.5, 0.375, ("bio",),
                 bonus=19, bonus_vs="light", splash="radius", splash_size=2.2, regen=0.38, cooldown_norm=1),
        UnitType("spine_crawler", "Z", 300, 0, 2, 25, 1, 7, 1.32, 0.0, 0.5, ("armored", "bio", "structure"),
                 bonus=5, bonus_vs="armored", regen=0.38, scan_range=10.0),
    )
}
"""Every unit type a scenario may use, by name."""

MEDIVAC_ENERGY_MAX = 200.0
MEDIVAC_ENERGY_START = 50.0
MEDIVAC_ENERGY_REGEN = 0.5625
"""Energy per faster-second."""
HP_PER_ENERGY = 3.0
SHIELD_REGEN = 2.0
"""Shield points per second, once ``SHIELD_DELAY`` seconds passed since the last hit."""
SHIELD_DELAY = 10.0
GAME_LOOPS_PER_SECOND = 22.4


def unit_type(name: str) -> UnitType:
    """Look a unit type up by name, with an error listing the known ones."""
    if name not in UNIT_TYPES:
        raise ValueError(f"unknown unit type {name!r}; known: {', '.join(UNIT_TYPES)}")
    return UNIT_TYPES[name]


def hit_damage(attacker: UnitType, target: UnitType) -> float:
    """Damage of one hit of ``attacker`` on ``target`` before armor (base + matching bonus)."""
    bonus = attacker.bonus if attacker.bonus_vs and attacker.bonus_vs in target.attributes else 0.0
    return attacker.damage + bonus
