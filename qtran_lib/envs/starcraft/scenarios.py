"""Battle scenarios: SMAC's maps by name, or a user's YAML file.

Introduced in book/06_starcraft. A scenario fixes the two armies, the episode limit, the
playable area and where each army starts; the simulator turns it into tensors.

YAML schema (every key but ``allies``, ``enemies`` and ``episode_limit`` is optional)::

    name: 4m_vs_3z            # defaults to the file name without extension
    episode_limit: 150        # positive int: steps before truncation
    allies: {marine: 4}       # unit type -> count (positive ints); the agents
    enemies: {zealot: 3}      # unit type -> count; controlled by the built-in AI
    unit_type_bits: 2         # width of the type one-hot; default: #distinct types if > 1, else 0
    map:
      size: [32, 32]          # width, height
      playable: [0, 8, 32, 24]  # x0, y0, x1, y1 of the walkable box
      terrain: corridor       # optional stored walkable grid (terrain.py): corridor, octagon, ...
    ally_center: [9, 16]      # centre of the allies' start formation
    enemy_center: [23, 16]
    attack_point: [9, 16]     # where enemies attack-move to; default ally_center
    ally_centers: {marine: [9, 16]}   # optional per-type group centres
    enemy_centers: {zealot: [23, 16]}

Unit types: marine, marauder, medivac, stalker, zealot, colossus, hydralisk, zergling,
baneling, spine_crawler (see ``units.py``).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from .units import UNIT_TYPES, unit_type

Point = tuple[float, float]


@dataclass(frozen=True)
class Scenario:
    """One battle: armies, limits and geometry."""

    name: str
    allies: tuple[tuple[str, int], ...]
    """(unit type, count) of the learning agents' army."""
    enemies: tuple[tuple[str, int], ...]
    episode_limit: int
    unit_type_bits: int | None = None
    """Width of the type one-hot in obs/state; None derives it from the unit types."""
    map_size: Point = (32.0, 32.0)
    playable: tuple[float, float, float, float] = (0.0, 8.0, 32.0, 24.0)
    """x0, y0, x1, y1 of the walkable box."""
    ally_center: Point = (9.0, 16.0)
    enemy_center: Point = (23.0, 16.0)
    attack_point: Point | None = None
    ally_centers: dict = field(default_factory=dict)
    """Optional {unit type: (x, y)} group centres overriding ``ally_center``."""
    enemy_centers: dict = field(default_factory=dict)
    ally_groups: tuple = ()
    """Optional ((unit type, count, (x, y)), ...): SMAC's spawn calls, one group per point; overrides
    the centres above for the units they cover (2s_vs_1sc and 2m_vs_1z spawn each ally at its own point)."""
    enemy_groups: tuple = ()
    terrain: str = ""
    """'' for an open box, or the name of a stored walkable grid (``terrain.py``: 'corridor', 'octagon', ...)."""
    difficulty: str = ""

    @property
    def type_order(self) -> tuple[str, ...]:
        """Unit types in one-hot order: alphabetical, which matches SMAC's id order on its maps."""
        return tuple(sorted({t for t, _ in self.allies} | {t for t, _ in self.enemies}))

    @property
    def type_bits(self) -> int:
        if self.unit_type_bits is not None:
            return self.unit_type_bits
        n = len(self.type_order)
        return n if n > 1 else 0

    @property
    def n_agents(self) -> int:
        return sum(c for _, c in self.allies)

    @property
    def n_enemies(self) -> int:
        return sum(c for _, c in self.enemies)


_OPEN = (2.0, 2.0, 30.0, 30.0)


def _s(name, allies, enemies, limit, bits=0, difficulty="", **kw) -> Scenario:
    return Scenario(name, tuple(allies), tuple(enemies), limit, bits, difficulty=difficulty, **kw)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        # Open maps: SMAC_Maps/<name>.SC2Map (github.com/oxwhirl/smac), Objects: "Team 1" at (9, 16) spawns the
        # allies, "Team 2" at (23, 16) the enemies, whose one order (MapScript.galaxy) is an attack-move to
        # "Team 1"; SMAClite's smaclite_maps/*.json agree. The walkable band y in [8, 24) is SMAClite's
        # simple.slt (the map's pathing grid; SMAC's cliff level spans y in [7, 25), cliff edges unpathable).
        _s("3m", [("marine", 3)], [("marine", 3)], 60, difficulty="easy"),
        _s("8m", [("marine", 8)], [("marine", 8)], 120, difficulty="easy"),
        _s("25m", [("marine", 25)], [("marine", 25)], 150, difficulty="easy"),
        _s("5m_vs_6m", [("marine", 5)], [("marine", 6)], 70, difficulty="hard"),
        _s("8m_vs_9m", [("marine", 8)], [("marine", 9)], 120, difficulty="hard"),
        _s("10m_vs_11m", [("marine", 10)], [("marine", 11)], 150, difficulty="hard"),
        _s("27m_vs_30m", [("marine", 27)], [("marine", 30)], 180, difficulty="super hard"),
        _s("MMM", [("marauder", 2), ("marine", 7), ("medivac", 1)],
           [("marauder", 2), ("marine", 7), ("medivac", 1)], 150, 3, "easy"),
        _s("MMM2", [("marauder", 2), ("marine", 7), ("medivac", 1)],
           [("marauder", 3), ("marine", 8), ("medivac", 1)], 180, 3, "super hard"),
        _s("2s3z", [("stalker", 2), ("zealot", 3)], [("stalker", 2), ("zealot", 3)], 120, 2, "easy"),
        _s("3s5z", [("stalker", 3), ("zealot", 5)], [("stalker", 3), ("zealot", 5)], 150, 2, "easy"),
        _s("3s5z_vs_3s6z", [("stalker", 3), ("zealot", 5)], [("stalker", 3), ("zealot", 6)], 170, 2,
           "super hard"),
        _s("1c3s5z", [("colossus", 1), ("stalker", 3), ("zealot", 5)],
           [("colossus", 1), ("stalker", 3), ("zealot", 5)], 180, 3, "easy"),
        # SMAC_Maps/2s_vs_1sc.SC2Map, Objects: "Stalker 1" (11.1208, 10.338), "Stalker 2" (16.976, 10.3662), one
        # stalker each, "Spine Crawler" (13.92, 20.0397); the script gives no order. Grid: SMAClite pentagon.slt.
        _s("2s_vs_1sc", [("stalker", 2)], [("spine_crawler", 1)], 300, difficulty="easy",
           playable=_OPEN, ally_center=(14.05, 10.35), enemy_center=(13.92, 20.04), terrain="pentagon",
           ally_groups=(("stalker", 1, (11.12, 10.34)), ("stalker", 1, (16.98, 10.37)))),
        # SMAC_Maps/3s_vs_{3,4,5}z.SC2Map: "Team 1"/"Team 2" as on the open maps; the walkable box x, y in
        # [3, 29) is SMAClite's all_green.slt (the outer ring it also marks walkable cannot be reached).
        _s("3s_vs_5z", [("stalker", 3)], [("zealot", 5)], 250, difficulty="hard",
           playable=(3.0, 3.0, 29.0, 29.0)),
        # SMAC_Maps/6h_vs_8z.SC2Map, Objects: "Hydralisks" (14.5998, 9.49), "Zealots" (14.41, 16.7597); the
        # zealots attack-move to "Hydralisks". Grid: terrain/6h_vs_8z.txt (from the map's cliff levels).
        _s("6h_vs_8z", [("hydralisk", 6)], [("zealot", 8)], 150, difficulty="super hard",
           ally_center=(14.60, 9.49), enemy_center=(14.41, 16.76), terrain="6h_vs_8z"),
        # SMAC_Maps/bane_vs_bane.SC2Map, Objects: "Team 1 Banelings" (16, 8), "Team 1 Zerglings" (16, 11),
        # "Team 2 Banelings" (16, 24), "Team 2 Zerglings" (16, 21); enemies attack-move to "Team 1 Banelings".
        # Grid: SMAClite octagon.slt.
        _s("bane_vs_bane", [("baneling", 4), ("zergling", 20)], [("baneling", 4), ("zergling", 20)], 200, 2,
           "hard", playable=_OPEN, ally_center=(16.0, 11.0), enemy_center=(16.0, 21.0),
           attack_point=(16.0, 8.0), ally_centers={"baneling": (16.0, 8.0), "zergling": (16.0, 11.0)},
           enemy_centers={"baneling": (16.0, 24.0), "zergling": (16.0, 21.0)}, terrain="octagon"),
        # SMAC_Maps/2c_vs_64zg.SC2Map, Objects: "Colossi" (16, 16), "Zerglings" (16, 9); the zerglings
        # attack the colossi (a unit-group order, here a move to their start). Kept open: SMAClite's ravine.slt
        # splits the map by a cliff that only colossi (cliff walkers in SC2) cross, which a grid cannot say.
        _s("2c_vs_64zg", [("colossus", 2)], [("zergling", 64)], 400, difficulty="hard",
           playable=_OPEN, ally_center=(16.0, 16.0), enemy_center=(16.0, 9.0)),
        # SMAC_Maps/corridor.SC2Map, Objects: "Zealot Point" (19.0397, 19.1198), "Zergling Point" (27.91, 28.24),
        # "Attack Point" (4.47, 4.3298), the zerglings' attack-move goal. Grid: SMAClite corridor.slt.
        _s("corridor", [("zealot", 6)], [("zergling", 24)], 400, difficulty="super hard",
           playable=(0.0, 0.0, 32.0, 32.0), ally_center=(19.04, 19.12), enemy_center=(27.91, 28.24),
           attack_point=(4.47, 4.33), terrain="corridor"),
        # SMAC_Maps/so_many_baneling.SC2Map, Objects: "Zealot Point" (11.469, 12.0234), "Baneling Point"
        # (27.91, 28.24), "Attack Point" (4.47, 4.3298). Grid: terrain/so_many_baneling.txt (cliff levels).
        _s("so_many_baneling", [("zealot", 7)], [("baneling", 32)], 100, difficulty="easy",
           playable=(0.0, 0.0, 32.0, 32.0), ally_center=(11.47, 12.02), enemy_center=(27.91, 28.24),
           attack_point=(4.47, 4.33), terrain="so_many_baneling"),
        # SMAC_Maps/2m_vs_1z.SC2Map, Objects: "Marine 1" (13, 12), "Marine 2" (19, 12), one marine each, "Zealot"
        # (16, 19); the zealot attack-moves to a random point between the marines' points (here their midpoint).
        # Grid: SMAClite octagon.slt (the map's cliff levels equal bane_vs_bane's).
        _s("2m_vs_1z", [("marine", 2)], [("zealot", 1)], 150, difficulty="easy",
           playable=_OPEN, ally_center=(16.0, 12.0), enemy_center=(16.0, 19.0), attack_point=(16.0, 12.0),
           ally_groups=(("marine", 1, (13.0, 12.0)), ("marine", 1, (19.0, 12.0))), terrain="octagon"),
        _s("3s_vs_3z", [("stalker", 3)], [("zealot", 3)], 150, difficulty="easy", playable=(3.0, 3.0, 29.0, 29.0)),
        _s("3s_vs_4z", [("stalker", 3)], [("zealot", 4)], 200, difficulty="easy", playable=(3.0, 3.0, 29.0, 29.0)),
    )
}
"""SMAC's micromanagement scenarios with their unit compositions and episode limits."""


def scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return list(SCENARIOS)


def get_scenario(spec: str) -> Scenario:
    """A built-in scenario by name, or one loaded from a ``.yaml``/``.yml`` file path."""
    if isinstance(spec, Scenario):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"scenario must be a non-empty name or YAML path; known: {', '.join(SCENARIOS)}")
    if spec in SCENARIOS:
        return SCENARIOS[spec]
    if spec.endswith((".yaml", ".yml")) or os.path.sep in spec:
        return load_scenario(spec)
    raise ValueError(f"unknown StarCraft scenario {spec!r}; known: {', '.join(SCENARIOS)} "
                     "(or pass the path of a .yaml scenario file)")


MAX_FILE_BYTES = 64 * 1024
"""Scenario files are short; a bound keeps a malformed or hostile file from exhausting memory."""
MAX_UNITS = 512
"""Most units in one battle (both armies): pairwise tensors are [B, U, U]; SMAC's largest map has 66."""
MAX_MAP = 1024.0
"""Largest map side."""

_KEYS = {"name", "episode_limit", "allies", "enemies", "unit_type_bits", "map", "ally_center", "enemy_center",
         "attack_point", "ally_centers", "enemy_centers"}


def load_scenario(path: str) -> Scenario:
    """Read and validate a YAML scenario file (schema in this module's docstring)."""
    import yaml

    from ...config import safe_load_unique

    if not os.path.exists(path):
        raise ValueError(f"scenario file {path!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"scenario {path!r} is a folder; give a .yaml scenario file")
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise ValueError(f"{path}: a scenario file is at most {MAX_FILE_BYTES // 1024} KiB, this one has "
                         f"{os.path.getsize(path)} bytes")
    try:
        with open(path, encoding="utf-8") as f:
            data = safe_load_unique(f.read())
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text (YAML) file") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from None
    name = os.path.splitext(os.path.basename(path))[0]
    return scenario_from_dict(data, default_name=name, where=path)


def scenario_from_dict(data: dict, default_name: str = "custom", where: str = "scenario") -> Scenario:
    """Validate a scenario given as a plain dict (the parsed YAML)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    unknown = set(data) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    for key in ("allies", "enemies", "episode_limit"):
        if key not in data:
            raise ValueError(f"{where}: missing required key {key!r}")
    limit = data["episode_limit"]
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"{where}: episode_limit must be a positive int, got {limit!r}")
    allies, enemies = _army(data["allies"], "allies", where), _army(data["enemies"], "enemies", where)
    total = sum(c for _, c in allies) + sum(c for _, c in enemies)
    if total > MAX_UNITS:
        raise ValueError(f"{where}: {total} units in one battle; at most {MAX_UNITS} (both armies together)")
    kw: dict = {}
    if "unit_type_bits" in data:
        bits = data["unit_type_bits"]
        if not isinstance(bits, int) or isinstance(bits, bool) or not 0 <= bits <= 64:
            raise ValueError(f"{where}: unit_type_bits must be an int in [0, 64], got {bits!r}")
        n_types = len({t for t, _ in allies} | {t for t, _ in enemies})
        if 0 < bits < n_types:
            raise ValueError(f"{where}: unit_type_bits={bits} is too small for {n_types} unit types")
        kw["unit_type_bits"] = bits
    m = data.get("map") or {}
    if not isinstance(m, dict) or set(m) - {"size", "playable", "terrain"}:
        raise ValueError(f"{where}: map must be a mapping with keys 'size', 'playable' and/or 'terrain', got {m!r}")
    if "terrain" in m:
        from .terrain import terrains

        if m["terrain"] not in terrains():
            raise ValueError(f"{where}: map.terrain must be one of {terrains()}, got {m['terrain']!r}")
        kw["terrain"] = m["terrain"]
    if "size" in m:
        kw["map_size"] = _point(m["size"], "map.size", where)
        if not all(0 < v <= MAX_MAP for v in kw["map_size"]):
            raise ValueError(f"{where}: map.size must be a [width, height] in (0, {MAX_MAP:g}], got {m['size']!r}")
    size = kw.get("map_size", Scenario.map_size)
    if "playable" in m:
        box = m["playable"]
        if not (isinstance(box, (list, tuple)) and len(box) == 4 and all(_is_number(v) for v in box)
                and box[0] < box[2] and box[1] < box[3]):
            raise ValueError(f"{where}: map.playable must be finite [x0, y0, x1, y1] with x0 < x1, y0 < y1, got {box!r}")
        if not (0 <= box[0] and 0 <= box[1] and box[2] <= size[0] and box[3] <= size[1]):
            raise ValueError(f"{where}: map.playable {box!r} must lie inside the map [0, 0, {size[0]:g}, {size[1]:g}]")
        kw["playable"] = tuple(float(v) for v in box)
    for key in ("ally_center", "enemy_center", "attack_point"):
        if key in data:
            kw[key] = _inside(_point(data[key], key, where), size, key, where)
    for key in ("ally_centers", "enemy_centers"):
        if key in data:
            groups = data[key]
            if not isinstance(groups, dict):
                raise ValueError(f"{where}: {key} must be a mapping of unit type to [x, y] (e.g. {{marine: [9, 16]}}), "
                                 f"got {groups!r}")
            kw[key] = {unit_type(t).name: _inside(_point(p, f"{key}.{t}", where), size, f"{key}.{t}", where)
                       for t, p in groups.items()}
    name = data.get("name", default_name)
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise ValueError(f"{where}: name must be a string, got {name!r}")
    return Scenario(str(name), allies, enemies, limit, **kw)


def _army(spec, side: str, where: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"{where}: {side} must be a non-empty mapping of unit type to count, got {spec!r}")
    army = []
    for name, count in spec.items():
        if name not in UNIT_TYPES:
            raise ValueError(f"{where}: unknown unit type {name!r} in {side}; known: {', '.join(UNIT_TYPES)}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1 or count > 256:
            raise ValueError(f"{where}: count of {name!r} in {side} must be an int in [1, 256], got {count!r}")
        army.append((name, count))
    return tuple(army)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _point(p, key: str, where: str) -> Point:
    if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(_is_number(v) for v in p)):
        raise ValueError(f"{where}: {key} must be a pair of finite numbers [x, y], got {p!r}")
    return float(p[0]), float(p[1])


def _inside(p: Point, size: Point, key: str, where: str) -> Point:
    if not (0 <= p[0] <= size[0] and 0 <= p[1] <= size[1]):
        raise ValueError(f"{where}: {key} {list(p)} lies outside the {size[0]:g} x {size[1]:g} map")
    return p
