"""Per-battle restarts (``autoreset=True``): what ``step`` returns, per-row seed streams, and the default unchanged."""

import torch

from qtran_lib.envs.starcraft import StarCraftEnv, heuristic_actions, random_actions
from qtran_lib.envs.starcraft.resets import counter_uniforms, fresh_battles


def test_counter_uniforms_are_uniform_and_independent_of_the_subset():
    rows = torch.arange(4096).repeat_interleave(4)
    eps = torch.arange(4).repeat(4096)
    u = counter_uniforms(3, rows, eps)  # [16384, 5]
    assert u.min() >= 0 and u.max() < 1
    assert abs(float(u.mean()) - 0.5) < 0.01 and abs(float(u.var()) - 1 / 12) < 0.005
    c = torch.corrcoef(u.T)
    assert (c - torch.eye(5)).abs().max() < 0.05
    sub = torch.tensor([5, 100, 7])
    assert torch.equal(counter_uniforms(3, rows[sub], eps[sub]), u[sub])
    assert not torch.equal(counter_uniforms(4, rows[sub], eps[sub]), u[sub])


def _run(env, steps, policy=heuristic_actions):
    out = []
    for _ in range(steps):
        out.append(env.step(policy(env)))
    return out


def test_lockstep_default_is_unchanged_by_the_option():
    a = StarCraftEnv("2s3z", batch_size=5, seed=1, random_start=True)
    b = StarCraftEnv("2s3z", batch_size=5, seed=1, random_start=True, autoreset=False)
    a.reset(), b.reset()
    for (ra, ta, ia), (rb, tb, ib) in zip(_run(a, 30), _run(b, 30)):
        assert torch.equal(ra, rb) and torch.equal(ta, tb) and torch.equal(ia["active"], ib["active"])
        assert "final_obs" not in ia
    assert torch.equal(a.get_obs(), b.get_obs())


def test_autoreset_step_returns_the_ended_battle_and_restarts_it():
    for random_start in (False, True):
        env = StarCraftEnv("3m", batch_size=6, seed=2, autoreset=True, random_start=random_start)
        obs, state, avail = env.reset()
        ref = StarCraftEnv("3m", batch_size=6, seed=2, random_start=random_start)  # lockstep twin of the first battles
        ref.set_battle_state(env.get_battle_state())
        ref.t.zero_(), ref.active.fill_(True)
        first_done = torch.zeros(6, dtype=torch.bool)
        restarts = 0
        for _ in range(200):
            actions = heuristic_actions(env)
            live = ~first_done
            r, term, info = env.step(actions)
            if live.any():
                r2, term2, info2 = ref.step(torch.where(live[:, None], actions, torch.zeros_like(actions)))
                # rows in their first battle agree with the lockstep twin, end step included
                assert torch.equal(r[live], r2[live]) and torch.equal(term[live], term2[live])
                assert torch.equal(info["truncated"][live], info2["truncated"][live])
                assert torch.equal(info["battle_won"][live], info2["battle_won"][live])
                assert torch.equal(info["final_obs"][live], ref.get_obs()[live])
                assert torch.equal(info["final_state"][live], ref.get_state()[live])
                assert torch.equal(info["final_avail"][live], ref.get_avail_actions()[live])
            assert info["active"].all()
            done = info["reset"]
            assert torch.equal(done, term | info["truncated"])
            assert (env.t[done] == 0).all() and (env.t[~done] > 0).all()
            restarts += int(done.sum())
            first_done |= done
            # restarted rows now show the start of their next battle
            rows = done.nonzero().squeeze(1)
            if len(rows):
                fresh = fresh_battles(env.tables, env.config, 9, 2, rows, env.episode[rows])
                assert torch.equal(env.get_battle_state().rows(rows).x, fresh.x)
                new = StarCraftEnv("3m", batch_size=len(rows), seed=0, random_start=random_start)
                new.set_battle_state(fresh)
                assert torch.equal(env.get_obs()[rows], new.get_obs())
                assert torch.equal(env.get_state()[rows], new.get_state())
                assert torch.equal(env.get_avail_actions()[rows], new.get_avail_actions())
            assert torch.equal(env.get_obs()[~done], info["final_obs"][~done])
        assert restarts > 6 and first_done.all()


def test_row_streams_do_not_depend_on_other_rows():
    """Row b's k-th battle starts from (seed, b, k) alone: different play in the other rows changes nothing."""
    a = StarCraftEnv("3m", batch_size=4, seed=9, autoreset=True, random_start=True)
    b = StarCraftEnv("3m", batch_size=4, seed=9, autoreset=True, random_start=True)
    a.reset(), b.reset()
    g = torch.Generator().manual_seed(0)
    starts_a, starts_b = {}, {}
    for _ in range(150):
        act_a = heuristic_actions(a)
        act_b = heuristic_actions(b)
        act_b[1:] = random_actions(b.get_avail_actions(), g)[1:]  # rows 1..3 play differently in b
        a.step(act_a), b.step(act_b)
        for env, starts in ((a, starts_a), (b, starts_b)):
            for row in (env.t == 0).nonzero().flatten().tolist():
                starts[(row, int(env.episode[row]))] = env.battle.x[row].clone()
    common = set(starts_a) & set(starts_b)
    assert len({k for k in common if k[0] != 0}) >= 3
    for key in common:
        assert torch.equal(starts_a[key], starts_b[key])
    row0 = sorted(k for k in starts_a if k[0] == 0)
    assert len(row0) >= 2 and not torch.equal(starts_a[row0[0]], starts_a[row0[1]])  # each battle its own start


def test_reset_with_a_seed_replays_the_battles():
    a = StarCraftEnv("8m", batch_size=3, seed=4, autoreset=True, random_start=True)
    obs1 = a.reset()[0]
    _run(a, 40)
    obs2 = a.reset(seed=4)[0]
    assert torch.equal(obs1, obs2)
    assert torch.equal(StarCraftEnv("8m", batch_size=3, seed=4, autoreset=True, random_start=True).reset()[0], obs1)
