"""Observation and state entries mean what SMAC says they mean (checked entry by entry on small maps)."""
import torch

from qtran_lib.envs import make_env
from qtran_lib.envs.starcraft import heuristic_actions


def run_some(name, steps=6, **kw):
    env = make_env(f"starcraft:{name}", batch_size=3, seed=2, random_start=True, **kw)
    env.reset()
    for _ in range(steps):
        env.step(heuristic_actions(env))
    return env


def test_3m_observation_entries():
    env = run_some("3m", steps=8)
    obs, avail, s = env.get_obs(), env.get_avail_actions(), env.battle
    N, E = 3, 3
    for b in range(3):
        for i in range(N):
            o = obs[b, i]
            if not s.alive[b, i]:
                assert (o == 0).all()
                continue
            assert torch.equal(o[:4], avail[b, i, 2:6])
            for j in range(E):
                u = N + j
                row = o[4 + 5 * j: 9 + 5 * j]
                dx, dy = s.x[b, u] - s.x[b, i], s.y[b, u] - s.y[b, i]
                d = torch.hypot(dx, dy)
                if s.alive[b, u] and d < 9:
                    want = torch.stack([avail[b, i, 6 + j], d / 9, dx / 9, dy / 9, s.hp[b, u] / 45])
                    assert torch.allclose(row, want, atol=1e-5)
                else:
                    assert (row == 0).all()
            others = [k for k in range(N) if k != i]
            for n, k in enumerate(others):
                row = o[19 + 5 * n: 24 + 5 * n]
                d = torch.hypot(s.x[b, k] - s.x[b, i], s.y[b, k] - s.y[b, i])
                assert float(row[0]) == float(bool(s.alive[b, k]) and float(d) < 9)
            assert torch.isclose(o[-1], s.hp[b, i] / 45)


def test_2s3z_shields_and_types_in_obs_and_state():
    env = run_some("2s3z", steps=10)
    obs, state, s = env.get_obs(), env.get_state(), env.battle
    b, i = 0, 0
    if s.alive[b, i]:
        own = obs[b, i, -4:]  # hp, shield, type one-hot (stalker, zealot)
        assert torch.allclose(own, torch.tensor([float(s.hp[b, 0] / 80), float(s.shield[b, 0] / 80), 1.0, 0.0]))
    # state ally row: hp, cooldown, x, y, shield, type(2); 5 allies x 7 then enemies x 6
    row = state[b, 7 * 3: 7 * 4]  # ally 3 is a zealot
    if s.alive[b, 3]:
        assert torch.allclose(row[[0, 4, 5, 6]], torch.tensor([float(s.hp[b, 3] / 100), float(s.shield[b, 3] / 50),
                                                               0.0, 1.0]))
    last = state[b, -5 * 11:].view(5, 11)
    assert torch.equal(last.argmax(-1), env.battle.last_action[b])


def test_obs_last_action_and_agent_id_options():
    env = make_env("starcraft:3m", batch_size=2, obs_last_action=True, obs_agent_id=True, obs_timestep_number=True)
    obs, _, _ = env.reset()
    assert obs.shape[-1] == 30 + 2 * 9 + 1 + 3 == env.env_info().obs_dim
    assert torch.equal(obs[0, :, -3:], torch.eye(3))


def test_2s3z_enemy_type_bits_are_smacs_swapped_order():
    """SMAC numbers enemy types from SC2's ids on its stalker/zealot maps: enemy zealot bit 0, stalker bit 1."""
    env = make_env("starcraft:2s3z", batch_size=1)
    env.reset()
    state = env.get_state()[0]
    enemies = state[5 * 7: 5 * 7 + 5 * 6].view(5, 6)  # enemy rows: hp, cooldown, x, y, shield, type(2)
    kinds = [t for t, n in env.scenario.enemies for _ in range(n)]  # stalker, stalker, zealot x3
    for row, kind in zip(enemies, kinds):
        assert row[4:].tolist() == ([0.0, 1.0] if kind == "stalker" else [1.0, 0.0]), kind
    allies = state[:5 * 7].view(5, 7)
    assert allies[0, 5:].tolist() == [1.0, 0.0]  # an allied stalker keeps bit 0


def test_west_is_available_at_x_below_one_as_in_smac():
    """SMAC checks int(x - 1), which truncates towards zero: west stays available for x in (0, 1)."""
    env = make_env("starcraft:3m", batch_size=1)
    env.reset()
    s = env.get_battle_state()
    s.x[0, 0] = 0.5
    env.set_battle_state(s)
    assert env.get_avail_actions()[0, 0, 5] == 1.0  # 5: west
    s.x[0, 0] = 1.5
    env.set_battle_state(s)
    assert env.get_avail_actions()[0, 0, 5] == 1.0
    s = env.get_battle_state()
    s.y[0, 0] = 8.5  # the playable band starts at y = 8: south looks at cell 7, outside it
    env.set_battle_state(s)
    assert env.get_avail_actions()[0, 0, 3] == 0.0
