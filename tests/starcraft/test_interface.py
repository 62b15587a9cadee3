"""Sizes, registry, errors and the action protocol of the StarCraft env."""
import pytest
import torch

from qtran_lib.envs import InvalidActionError, make_env
from qtran_lib.envs.starcraft import SCENARIOS, StarCraftEnv, scenarios

# (n_actions, obs_dim, state_dim) computed with SMAC's formulas (spec §3.2)
SMAC_SIZES = {
    "3m": (9, 30, 48), "8m": (14, 80, 168), "25m": (31, 250, 950), "5m_vs_6m": (12, 55, 98),
    "8m_vs_9m": (15, 85, 179), "10m_vs_11m": (17, 105, 243), "27m_vs_30m": (36, 285, 1170),
    "MMM": (16, 160, 290), "MMM2": (18, 176, 322), "2s3z": (11, 80, 120), "3s5z": (14, 128, 216),
    "3s5z_vs_3s6z": (15, 136, 230), "3s_vs_5z": (11, 48, 68), "1c3s5z": (15, 162, 270), "corridor": (30, 156, 282),
    "6h_vs_8z": (14, 78, 140), "2s_vs_1sc": (7, 17, 27), "so_many_baneling": (38, 202, 397),
    "bane_vs_bane": (30, 336, 984), "2c_vs_64zg": (70, 332, 342),
}
MAX_REWARD = {"3m": 365, "8m": 640, "5m_vs_6m": 530, "2s3z": 1020, "3s5z": 1510, "MMM2": 1205, "corridor": 1280,
              "27m_vs_30m": 1850, "2c_vs_64zg": 3080}


@pytest.mark.parametrize("name", sorted(SMAC_SIZES))
def test_sizes_match_smac(name):
    env = make_env(f"starcraft:{name}", batch_size=2)
    info = env.env_info()
    assert (info.n_actions, info.obs_dim, info.state_dim) == SMAC_SIZES[name]
    obs, state, avail = env.reset()
    assert obs.shape == (2, info.n_agents, info.obs_dim) and obs.dtype == torch.float32
    assert state.shape == (2, info.state_dim) and state.dtype == torch.float32
    assert avail.shape == (2, info.n_agents, info.n_actions) and avail.dtype == torch.float32
    if name in MAX_REWARD:
        assert env.tables.max_reward == MAX_REWARD[name]


def test_every_listed_scenario_runs_a_step():
    from qtran_lib.envs.starcraft import random_actions

    for name in scenarios():
        env = make_env(f"starcraft:{name}", batch_size=2, seed=1)
        env.reset()
        r, term, info = env.step(random_actions(env.get_avail_actions(), env.generator))
        assert r.dtype == torch.float32 and term.dtype == torch.bool
        for key in ("battle_won", "dead_allies", "dead_enemies", "truncated", "active"):
            assert info[key].shape == (2,)
        assert env.scenario.episode_limit == SCENARIOS[name].episode_limit


def test_episode_limits_follow_smac():
    limits = {"3m": 60, "8m": 120, "25m": 150, "5m_vs_6m": 70, "8m_vs_9m": 120, "10m_vs_11m": 150, "2s3z": 120,
              "3s5z": 150, "3s5z_vs_3s6z": 170, "1c3s5z": 180, "MMM": 150, "MMM2": 180, "2s_vs_1sc": 300,
              "3s_vs_5z": 250, "6h_vs_8z": 150, "bane_vs_bane": 200, "2c_vs_64zg": 400, "corridor": 400,
              "so_many_baneling": 100}
    for name, limit in limits.items():
        assert SCENARIOS[name].episode_limit == limit


def test_unknown_scenario_lists_known_ones():
    with pytest.raises(ValueError, match="known: .*3m.*MMM2"):
        make_env("starcraft:4m_vs_nothing")


def test_unknown_option_is_rejected():
    with pytest.raises(TypeError, match="unknown StarCraft option"):
        StarCraftEnv("3m", nonsense=1)


def test_wrong_action_shape_raises():
    env = make_env("starcraft:3m", batch_size=4)
    env.reset()
    with pytest.raises(InvalidActionError):
        env.step(torch.ones(4, 2, dtype=torch.long))
    with pytest.raises(InvalidActionError):
        env.step(torch.ones(4, 3))  # float actions


def test_unavailable_attack_raises():
    env = make_env("starcraft:3m", batch_size=4)
    _, _, avail = env.reset()
    assert avail[..., 6:].sum() == 0  # armies start 14 apart: nobody in shoot range
    actions = torch.ones(4, 3, dtype=torch.long)
    actions[2, 1] = 6
    with pytest.raises(InvalidActionError, match="unavailable action 6"):
        env.step(actions)
    with pytest.raises(InvalidActionError):
        env.step(torch.zeros(4, 3, dtype=torch.long))  # no-op is only for the dead


def test_timeout_truncates():
    env = make_env("starcraft:3m", batch_size=3)
    env.reset()
    stop = torch.ones(3, 3, dtype=torch.long)
    # enemies attack-move into the allies, so "stop" battles end early; just check bookkeeping
    steps = 0
    while env.active.any():
        avail = env.get_avail_actions()
        r, term, info = env.step(torch.where(avail[..., 1] > 0, stop, 0))
        steps += 1
        assert not (term & info["truncated"]).any()
    assert steps <= env.env_info().episode_limit
