"""Batched battles equal the same battles run one at a time; seeds reproduce runs.

All randomness of a reset is one [B, 5] draw (layout.py), and a step draws none, so a
battle's trajectory depends only on its start state and actions. We check it by copying
each row of a randomised batch into its own B = 1 env and replaying with the
deterministic heuristic.
"""
import pytest
import torch

from qtran_lib.envs import make_env
from qtran_lib.envs.starcraft import heuristic_actions, random_actions


@pytest.mark.parametrize("name", ["3m", "2s3z", "MMM2", "bane_vs_bane"])
def test_batch_equals_one_at_a_time(name):
    B = 4
    env = make_env(f"starcraft:{name}", batch_size=B, seed=3, random_start=True)
    env.reset()
    start = env.get_battle_state()
    singles = []
    for b in range(B):
        e = make_env(f"starcraft:{name}", batch_size=1, seed=99)
        e.reset()
        e.set_battle_state(start.rows(slice(b, b + 1)))
        singles.append(e)
    for _ in range(20):
        if not env.active.any():
            break
        obs = env.get_obs()
        a = heuristic_actions(env)
        r, term, info = env.step(a)
        for b, e in enumerate(singles):
            if not e.active.any():
                assert not bool(env.active[b])
                continue
            assert torch.allclose(e.get_obs()[0], obs[b], atol=1e-5)
            ab = heuristic_actions(e)
            assert torch.equal(ab[0], a[b])
            rb, tb, ib = e.step(ab)
            assert torch.allclose(rb[0], r[b], atol=1e-5)
            assert bool(tb[0]) == bool(term[b]) and bool(ib["battle_won"][0]) == bool(info["battle_won"][b])
            assert torch.allclose(e.battle.hp[0], env.battle.hp[b], atol=1e-4)


def test_fixed_starts_make_every_row_identical():
    env = make_env("starcraft:8m", batch_size=4)
    env.reset()
    for _ in range(10):
        env.step(heuristic_actions(env))
    assert (env.battle.hp == env.battle.hp[:1]).all()


def test_same_seed_same_trajectory():
    def run(seed):
        env = make_env("starcraft:2s3z", batch_size=6, seed=seed, random_start=True)
        env.reset()
        rewards = []
        for _ in range(15):
            if not env.active.any():
                break
            r, _, _ = env.step(random_actions(env.get_avail_actions(), env.generator))
            rewards.append(r)
        return torch.stack(rewards), env.get_state()

    r1, s1 = run(7)
    r2, s2 = run(7)
    r3, _ = run(8)
    assert torch.equal(r1, r2) and torch.equal(s1, s2)
    assert not torch.equal(r1, r3)
