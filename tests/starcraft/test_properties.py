"""Property-based invariants of the batched simulator (hypothesis; small batches, few examples)."""
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from starcraft_helpers import custom_env

from qtran_lib.envs import make_env
from qtran_lib.envs.starcraft import heuristic_actions, random_actions
from qtran_lib.envs.starcraft.battle import apply_orders, simulate, walkable

FAST = settings(max_examples=8, deadline=None)
MAPS = ["3m", "2s3z", "MMM2", "bane_vs_bane", "1c3s5z", "3s_vs_5z", "corridor", "2s_vs_1sc"]


def mixed_policy(env, gen, p_heuristic):
    """Heuristic for some battles, random legal actions for the others (both respect the mask)."""
    h = heuristic_actions(env)
    r = random_actions(env.get_avail_actions(), gen)
    pick = torch.rand(env.batch_size, 1, generator=gen) < p_heuristic
    return torch.where(pick, h, r)


@FAST
@given(name=st.sampled_from(MAPS), seed=st.integers(0, 10_000), random_start=st.booleans(),
       p=st.floats(0.0, 1.0))
def test_invariants_hold_every_step(name, seed, random_start, p):
    env = make_env(f"starcraft:{name}", batch_size=3, seed=seed, random_start=random_start)
    env.reset()
    T, N = env.tables, env.n_agents
    gen = torch.Generator().manual_seed(seed)
    for _ in range(12):
        if not env.active.any():
            break
        before, was_active = env.get_battle_state(), env.active.clone()
        env.step(mixed_policy(env, gen, p))
        s = env.battle
        # health and shields stay within [0, max]; alive iff HP > 0
        assert (s.hp >= 0).all() and (s.hp <= T.hp_max).all()
        assert (s.shield >= 0).all() and (s.shield <= T.shield_max).all()
        assert torch.equal(s.alive, s.hp > 0)
        # the dead stay dead and never move, heal or take damage
        dead = ~before.alive
        assert not (s.alive & dead).any()
        for f in ("x", "y", "hp", "shield"):
            assert torch.equal(getattr(s, f)[dead], getattr(before, f)[dead])
        # finished battles are frozen
        for f in ("x", "y", "hp", "shield", "alive"):
            assert torch.equal(getattr(s, f)[~was_active], getattr(before, f)[~was_active])
        # masks: dead agents only no-op; alive agents never no-op, may stop; attacks match shoot range
        avail = env.get_avail_actions()
        alive = s.alive[:, :N]
        assert torch.equal(avail[..., 0] > 0, ~alive)
        assert torch.equal(avail[..., 1] > 0, alive)
        assert (avail[~alive][:, 1:] == 0).all()
        d = torch.hypot(s.x[:, N:, None].transpose(1, 2) - s.x[:, :N, None], s.y[:, N:, None].transpose(1, 2)
                        - s.y[:, :N, None])  # [B, N, E]
        in_range = (d <= env.config.shoot_range) & s.alive[:, None, N:] & alive[..., None]
        fighters = ~T.healer[:N]
        assert torch.equal((avail[..., 6:] > 0)[:, fighters], in_range[:, fighters])
        # ground units stay on walkable terrain (corridor) and inside the playable box
        x0, y0, x1, y1 = T.box
        assert ((s.x >= x0) & (s.x <= x1) & (s.y >= y0) & (s.y <= y1)).all()
        if T.walkable is not None:
            assert (walkable(T.walkable, s.x, s.y) | T.air).all()
        # observations of the dead are zero
        obs = env.get_obs()
        assert (obs[~alive] == 0).all() and torch.isfinite(obs).all() and torch.isfinite(env.get_state()).all()


@FAST
@given(name=st.sampled_from(["3m", "8m", "5m_vs_6m"]), seed=st.integers(0, 10_000), p=st.floats(0.0, 1.0))
def test_reward_equals_damage_and_kill_accounting(name, seed, p):
    """Marines neither regenerate nor heal, so SMAC's abs() never bites: the scaled return equals
    enemy HP lost + 10 per kill + 200 per win, divided by max_reward / 20."""
    env = make_env(f"starcraft:{name}", batch_size=4, seed=seed, random_start=True)
    env.reset()
    gen = torch.Generator().manual_seed(seed)
    ret = torch.zeros(4)
    won = torch.zeros(4, dtype=torch.bool)
    while env.active.any():
        r, term, info = env.step(mixed_policy(env, gen, p))
        ret += r
        won |= info["battle_won"]
    T, N = env.tables, env.n_agents
    s = env.battle
    lost_hp = (T.hp_max[N:] - s.hp[:, N:]).sum(1)
    kills = (~s.alive[:, N:]).sum(1)
    expected = (lost_hp + 10 * kills + 200 * won) / (T.max_reward / 20)
    assert torch.allclose(ret, expected, atol=1e-3)
    assert (ret <= 20 + 1e-4).all()
    assert torch.equal(kills, info["dead_enemies"])


@FAST
@given(xs=st.lists(st.floats(5, 27), min_size=4, max_size=4), ys=st.lists(st.floats(5, 27), min_size=4, max_size=4),
       dead_side=st.sampled_from(["allies", "enemies"]))
def test_dead_units_deal_no_damage(xs, ys, dead_side):
    env = custom_env({"marine": 2}, {"marine": 2}, list(zip(xs, ys)))
    s = env.get_battle_state()
    side = slice(0, 2) if dead_side == "allies" else slice(2, 4)
    s.hp[:, side] = 0.0
    s.alive[:, side] = False
    before = s.clone()
    actions = torch.tensor([[6, 7]]) if dead_side == "enemies" else torch.tensor([[0, 0]])
    apply_orders(s, actions, env.tables, 2.0)
    simulate(s, env.tables, env.config, env._consts)
    other = slice(2, 4) if dead_side == "allies" else slice(0, 2)
    assert torch.equal(s.hp[:, other], before.hp[:, other])
    assert torch.equal(s.hp[:, side], before.hp[:, side])
