"""Walkable grids of SMAC's maps that are not open boxes, stored as text pictures in ``terrain/``.

Introduced in book/06_starcraft. SMAC's agents never see the grid, but it shapes every battle on
these maps: on ``corridor`` both armies start in an open area that reaches the enemy's goal, the
south-west room, only through a narrow diagonal choke. Each file names its source in its header.
SMAC's other maps (3m, 8m, 2s3z, 3s5z, 5m_vs_6m, MMM2, 27m_vs_30m, ...) are open boxes: their
whole playable area is walkable, so they carry no grid (the scenario's ``playable`` box suffices).
"""
from __future__ import annotations

import os
from functools import cache

import torch

TERRAIN_DIR = os.path.join(os.path.dirname(__file__), "terrain")
WALKABLE, BLOCKED = "_", "X"
"""Cell characters (SMAClite's .slt convention)."""


def terrains() -> list[str]:
    """Names of the stored grids."""
    return sorted(f[:-4] for f in os.listdir(TERRAIN_DIR) if f.endswith(".txt"))


@cache
def _rows(name: str) -> tuple[str, ...]:
    path = os.path.join(TERRAIN_DIR, f"{name}.txt")
    if not os.path.exists(path):
        raise ValueError(f"unknown terrain {name!r}; known: {', '.join(terrains())}")
    with open(path, encoding="ascii") as f:
        rows = tuple(line.strip() for line in f if line.strip() and not line.startswith("#"))
    if len({len(r) for r in rows}) != 1 or set("".join(rows)) - {WALKABLE, BLOCKED}:
        raise ValueError(f"terrain {name!r}: rows must be equally long and use only {WALKABLE!r}/{BLOCKED!r}")
    return rows


def terrain_grid(name: str) -> torch.Tensor:
    """[H, W] bool walkable grid indexed [y, x]: cell (x, y) covers [x, x+1) x [y, y+1).

    The file's first row is the top of the map, so rows are reversed: row y of the tensor is
    line H-1-y of the picture (as SMAClite reads its .slt files).
    """
    rows = _rows(name)
    return torch.tensor([[c == WALKABLE for c in r] for r in reversed(rows)], dtype=torch.bool)
