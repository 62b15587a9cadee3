"""SMAC's map geometry: stored walkable grids and start placements (SMAC_Maps/*.SC2Map, SMAClite)."""
from collections import deque

import pytest
import torch

from qtran_lib.envs.starcraft import StarCraftEnv
from qtran_lib.envs.starcraft.battle import walkable
from qtran_lib.envs.starcraft.scenarios import SCENARIOS
from qtran_lib.envs.starcraft.tables import build_tables
from qtran_lib.envs.starcraft.terrain import terrain_grid, terrains

CPU = torch.device("cpu")


def _reachable(grid, start):
    """Cells 4-connected to ``start`` (x, y) over walkable cells."""
    H, W = grid.shape
    seen, todo = {start}, deque([start])
    while todo:
        x, y = todo.popleft()
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < W and 0 <= ny < H and grid[ny, nx] and (nx, ny) not in seen:
                seen.add((nx, ny))
                todo.append((nx, ny))
    return seen


def _span(grid, y):
    xs = grid[y].nonzero().flatten().tolist()
    return (xs[0], xs[-1], len(xs)) if xs else None


def test_corridor_grid_is_smaclite_transcription():
    g = terrain_grid("corridor")  # [y, x]
    assert g.shape == (32, 32) and int(g.sum()) == 440  # SMAClite corridor.slt: 440 '_' cells
    assert not g[0].any() and not g[31].any() and not g[:, 0].any()  # rim blocked
    # the south-west room (rows 1-12) and the open start area (rows 13-30), row by row (x0, x1, count)
    assert _span(g, 1) == (2, 13, 12) and _span(g, 5) == (1, 12, 12) and _span(g, 12) == (2, 14, 13)
    assert _span(g, 13) == (11, 25, 15) and _span(g, 20) == (11, 30, 20) and _span(g, 30) == (20, 29, 10)
    # the choke: the room connects to the start area only through x = 11..14 between rows 12 and 13,
    # a diagonal passage whose walls (corners (12, 14) and (14, 12)) are 2.83 apart
    assert (g[12] & g[13]).nonzero().flatten().tolist() == [11, 12, 13, 14]
    assert not g[14, 11] and not g[11, 14] and g[13, 12] and g[12, 13]


def test_corridor_start_points_walkable_and_connected():
    g = terrain_grid("corridor")
    ally, enemy, goal = (19.04, 19.12), (27.91, 28.24), (4.47, 4.33)  # SMAC_Maps/corridor.SC2Map, Objects
    cells = [(int(x), int(y)) for x, y in (ally, enemy, goal)]
    assert all(g[y, x] for x, y in cells)
    assert set(cells) <= _reachable(g, cells[0])
    assert len(_reachable(g, cells[0])) == 440  # one connected region


@pytest.mark.parametrize("name", terrains())
def test_every_grid_loads_and_is_connected(name):
    g = terrain_grid(name)
    start = tuple(reversed(g.nonzero()[0].tolist()))  # (x, y) of the first walkable cell
    assert g.shape == (32, 32) and len(_reachable(g, start)) == int(g.sum())


# SMAC_Maps/<name>.SC2Map, Objects: spawn points (x, y) of the allies and enemies, and the enemies' goal
SMAC_POINTS = {
    "3m": ((9, 16), (23, 16), (9, 16)),
    "2s3z": ((9, 16), (23, 16), (9, 16)),
    "MMM2": ((9, 16), (23, 16), (9, 16)),
    "27m_vs_30m": ((9, 16), (23, 16), (9, 16)),
    "corridor": ((19.04, 19.12), (27.91, 28.24), (4.47, 4.33)),
    "so_many_baneling": ((11.47, 12.02), (27.91, 28.24), (4.47, 4.33)),
    "6h_vs_8z": ((14.60, 9.49), (14.41, 16.76), (14.60, 9.49)),
    "2m_vs_1z": ((16.0, 12.0), (16, 19), (16.0, 12.0)),  # the marines' two points' midpoint
    "2s_vs_1sc": ((14.05, 10.35), (13.92, 20.04), None),
}


@pytest.mark.parametrize("name", sorted(SMAC_POINTS))
def test_placements_follow_the_map_file(name):
    ally, enemy, goal = SMAC_POINTS[name]
    T = build_tables(SCENARIOS[name], CPU)
    A = T.n_agents
    mean_a, mean_e = T.group_center[:A].mean(0), T.group_center[A:].mean(0)
    assert torch.allclose(mean_a, torch.tensor(ally, dtype=torch.float32), atol=0.01)
    assert torch.allclose(mean_e, torch.tensor(enemy, dtype=torch.float32), atol=0.01)
    if goal is not None:
        assert torch.allclose(T.attack_point, torch.tensor(goal, dtype=torch.float32), atol=0.01)
    if T.walkable is not None:
        assert (walkable(T.walkable, T.start_pos[:, 0], T.start_pos[:, 1]) | T.air).all()
    # units never start on top of each other
    d = torch.cdist(T.start_pos, T.start_pos) + torch.eye(T.n_units) * 1e3
    assert (d >= T.collide_r - 1e-4).all()


def test_one_unit_per_point_maps():
    """2s_vs_1sc and 2m_vs_1z spawn each ally at its own point (SMAC_Maps Objects), not in one formation."""
    T = build_tables(SCENARIOS["2s_vs_1sc"], CPU)
    assert torch.allclose(T.start_pos[:2], torch.tensor([[11.12, 10.34], [16.98, 10.37]]))
    T = build_tables(SCENARIOS["2m_vs_1z"], CPU)
    assert torch.allclose(T.start_pos[:2], torch.tensor([[13.0, 12.0], [19.0, 12.0]]))


@pytest.mark.parametrize("random_start", [False, True])
def test_corridor_battles_run_on_the_grid(random_start):
    env = StarCraftEnv("corridor", batch_size=8, seed=1, random_start=random_start)
    env.reset()
    g = torch.Generator().manual_seed(0)
    T = env.tables
    steps = 0
    while env.active.any():
        steps += 1
        avail = env.get_avail_actions()  # [B, N, A]
        a = torch.multinomial(avail.flatten(0, 1) + 1e-9 * (avail.flatten(0, 1) == 0), 1, generator=g)
        env.step(a.view(avail.shape[:2]))
        s = env.get_battle_state()
        assert (walkable(T.walkable, s.x, s.y) | T.air | ~s.alive).all()
    assert 5 < steps <= 400
