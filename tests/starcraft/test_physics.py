"""Physics as SMAC's (issue 22): collisions, reach, ground-only weapons, shields, healing, enemy AI."""
import pytest
import torch
from starcraft_helpers import custom_env

from qtran_lib.envs import make_env
from qtran_lib.envs.starcraft import battle, collisions, heuristic_actions
from qtran_lib.envs.starcraft.collisions import overlap_share, pair_buffers, separate
from qtran_lib.envs.starcraft.state import IDLE


@pytest.mark.parametrize("name", ["3m", "8m", "2s3z", "3s5z", "5m_vs_6m", "MMM2", "27m_vs_30m", "corridor"])
def test_ground_units_do_not_overlap_under_focus_fire(name):
    """Issue 22's statistic: the share of live ground pairs closer than 0.8 of touching, averaged
    over the steps of a focus-fire battle from the fixed start, is at most 0.01 (measured, 200 battles, one
    collision pass per tick: <= 0.003)."""
    env = make_env(f"starcraft:{name}", batch_size=1, seed=0)
    env.reset()
    T, shares = env.tables, []
    while env.active.any():
        env.step(heuristic_actions(env))
        s = env.battle
        shares.append(float(overlap_share(s.x, s.y, s.alive, T.radius, ~T.air)[0]))
    assert sum(shares) / len(shares) <= 0.01, max(shares)


def test_overlap_share_counts_pairs_closer_than_four_fifths_of_touching():
    x = torch.tensor([[0.0, 0.5, 5.0, 5.7]])  # marines, r = 0.375: touching at 0.75, overlapping below 0.6
    y = torch.zeros(1, 4)
    alive = torch.ones(1, 4, dtype=torch.bool)
    share = overlap_share(x, y, alive, torch.full((4,), 0.375), torch.ones(4, dtype=torch.bool))
    assert torch.allclose(share, torch.tensor([1 / 6]))  # only (0, 1) of the 6 pairs


@pytest.mark.parametrize("name", ["3m", "2s3z", "MMM2", "27m_vs_30m"])
def test_both_evaluation_orders_of_the_collision_pass_agree(monkeypatch, name):
    """``separate``'s unit-major pair tables (small U * B) and its batched matmuls (large) compute one sum: on
    crowded battle states (every unit pressed into a clump, some dead, some walking) they agree
    to float rounding, with and without reused buffers, and both push pairs apart. (On corridor a unit on a wall's
    edge may be held by one order and not the other: a discrete effect of the rounding.)"""
    env = make_env(f"starcraft:{name}", batch_size=64, seed=0)
    T = env.tables
    g = torch.Generator().manual_seed(0)
    s = env.get_battle_state()
    cx, cy = s.x.mean(1, keepdim=True), s.y.mean(1, keepdim=True)
    x = cx + (s.x - cx) * 0.6 + 0.05 * torch.randn(s.x.shape, generator=g)  # a clump: many pairs overlap
    y = cy + (s.y - cy) * 0.6 + 0.05 * torch.randn(s.y.shape, generator=g)
    alive = torch.rand(x.shape, generator=g) < 0.85
    walking = torch.rand(x.shape, generator=g) < 0.5
    c = env._consts
    confine = lambda x1, y1, x0, y0: battle._confine(x1, y1, x0, y0, T, c)  # noqa: E731

    def run(pairwise, reuse=False):
        monkeypatch.setattr(collisions, "PAIRWISE_MAX", 1 << 40 if pairwise else 0)
        monkeypatch.setattr(collisions, "PAIRWISE_UNITS", 1 << 10)
        buffers = pair_buffers(T.n_units, 64) if reuse else None
        return separate(x, y, alive, walking, T.collide_r, T.mobile, 2, c.centre, confine, buffers)

    matmul, pairwise, reused = run(False), run(True), run(True, reuse=True)
    for a, b, r, tol in zip(matmul, pairwise, reused, (1e-3, 1e-3, 0.05)):  # x, y, crowd (a sum of w_ij: coarser)
        assert torch.allclose(a, b, atol=tol, rtol=1e-3) and torch.equal(b, r)
    before = overlap_share(x, y, alive, T.radius, ~T.air).mean()
    assert overlap_share(pairwise[0], pairwise[1], alive, T.radius, ~T.air).mean() < 0.5 * before


def test_melee_units_cannot_pass_through_a_wall_of_enemies():
    """A zealot ordered to attack a zergling behind a touching line of zerglings stays on its side."""
    wall = [(12.0, 12.0 + 0.75 * k) for k in range(11)]  # x = 12, y in [12, 19.5]
    pos = [(10.0, 15.75)] + wall + [(16.0, 15.75)]
    env = custom_env({"zealot": 1}, {"zergling": 12}, pos)
    behind = 11  # enemy index of the zergling behind the wall
    for _ in range(15):
        if not env.active.any() or not bool(env.battle.alive[0, 0]):
            break
        avail = env.get_avail_actions()
        a = 6 + behind if avail[0, 0, 6 + behind] > 0 else 4  # attack it, else walk east towards it
        env.step(torch.tensor([[a]]))
        s = env.battle
        assert float(s.x[0, 0]) < 12.0 - 0.5  # never further east than the wall's near surface
    assert float(env.battle.hp[0, 1 + behind]) == 35.0  # never reached


def test_marauder_orders_on_medivacs_do_nothing():
    env = custom_env({"marauder": 1}, {"medivac": 1, "marine": 1}, [(10, 16), (12, 18), (12, 16)])  # slots: marine, medivac
    for _ in range(3):
        assert env.get_avail_actions()[0, 0, 7] == 1  # SMAC's mask allows it ...
        env.step(torch.tensor([[7]]))  # ... but SC2 rejects the order: the marauder stays idle
    s = env.battle
    assert float(s.hp[0, 2]) == 150.0 and int(s.mode[0, 0]) == IDLE
    assert (float(s.x[0, 0]), float(s.y[0, 0])) == (10.0, 16.0)


def test_enemy_marauders_never_target_medivacs():
    env = custom_env({"medivac": 1, "marine": 1}, {"marauder": 1}, [(2, 2), (12, 16), (10, 16)])  # marine, medivac
    for _ in range(10):
        env.step(torch.tensor([[1, 1]]))
    assert float(env.battle.hp[0, 1]) == 150.0


def test_shields_regenerate_one_per_step_after_twenty_steps():
    """ShieldRegenDelay 10 and ShieldRegenRate 2 (game seconds, SMAC map files) are 20 steps and 1.0 per step."""
    env = custom_env({"stalker": 1}, {"spine_crawler": 1}, [(3, 3), (29, 29)])  # the crawler cannot reach it
    s = env.get_battle_state()
    s.shield[0, 0] = 0.0
    s.since_hit[0, 0] = 0.0  # hit at the end of the previous tick
    env.set_battle_state(s)
    shields = []
    for _ in range(23):
        env.step(torch.tensor([[1]]))
        shields.append(float(env.battle.shield[0, 0]))
    assert shields[:20] == [0.0] * 20
    assert shields[20:] == pytest.approx([1.0, 2.0, 3.0], abs=1e-4)


def test_medivac_heals_four_and_a_half_hp_per_step():
    """9 HP per game second (SC2 data) over a step of 8 game loops (half a game second)."""
    env = custom_env({"marine": 1, "medivac": 1}, {"marine": 1}, [(10, 16), (10.5, 16), (28, 28)])
    s = env.get_battle_state()
    s.hp[0, 0] = 20.0
    env.set_battle_state(s)
    env.step(torch.tensor([[1, 6]]))
    assert float(env.battle.hp[0, 0]) == pytest.approx(24.5, abs=1e-4)
    assert float(env.battle.energy[0, 1]) == pytest.approx(50.0 - 4.5 / 3 + 0.5625 / 2, abs=1e-4)


def test_enemies_idle_at_the_attack_point_when_no_ally_is_in_range():
    """SMAC's single attack-move order: the enemies walk to the attack point and stay there."""
    env = custom_env({"marine": 1}, {"marine": 2}, [(3, 3), (20, 16), (20, 17)], limit=200)
    ap = env.battle.attack_point[0]
    for _ in range(25):
        env.step(torch.tensor([[1]]))  # the agent stays in its corner, out of their scan range
    e1 = env.battle.pos[0, 1:].clone()
    for _ in range(10):
        env.step(torch.tensor([[1]]))
    e2 = env.battle.pos[0, 1:]
    assert torch.allclose(e1, e2)  # idle: no chase across the map
    assert bool(((e2 - ap).norm(dim=-1) < 2.5).all())
    assert float(env.battle.hp[0, 0]) == 45.0
