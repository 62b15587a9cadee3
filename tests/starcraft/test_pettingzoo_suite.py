"""PettingZoo's own test functions on the adapter, and its action policy (issue 21, items 8 and 9).

PettingZoo's ``parallel_seed_test`` and ``state_test`` sample ``action_space(agent).sample()`` without
a mask, so they pass only because the default ``invalid_action="noop"`` replaces an unavailable action
by stop/no-op (and says so in info). Few cycles keep each scenario at a couple of seconds.
"""
import numpy as np
import pytest
import torch

pytest.importorskip("pettingzoo")

from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test, seed_test, state_test  # noqa: E402
from pettingzoo.utils.conversions import parallel_to_aec  # noqa: E402

from qtran_lib.envs import InvalidActionError, make_env  # noqa: E402
from qtran_lib.envs.starcraft import StarCraftEnv, to_pettingzoo  # noqa: E402

SCENARIOS = ["3m", "MMM", "2s3z", "corridor", "3s_vs_5z", "bane_vs_bane"]
CYCLES = 20


@pytest.mark.filterwarnings("ignore:unavailable actions were replaced")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pettingzoo_test_suite_passes(scenario, capsys):
    def parallel(**kw):
        return to_pettingzoo(scenario, seed=0, **kw)

    def aec(**kw):
        return parallel_to_aec(parallel(**kw))

    parallel_api_test(parallel(), num_cycles=CYCLES)
    parallel_seed_test(parallel, num_cycles=CYCLES)
    api_test(aec(), num_cycles=CYCLES)
    seed_test(aec, num_cycles=CYCLES)
    state_test(aec(), parallel(), num_cycles=CYCLES)
    render_test(aec)
    out = capsys.readouterr().out
    assert "Passed Parallel API test" in out and "Passed API test" in out


def _unavailable(env) -> tuple[str, int]:
    """An agent and an action its mask forbids right after reset (an attack on an enemy out of range)."""
    obs, _ = env.reset(seed=0)
    for agent in env.agents:
        bad = np.flatnonzero(obs[agent]["action_mask"] == 0)
        if bad.size:
            return agent, int(bad[-1])
    raise AssertionError("every action is available: the test checks nothing")


def test_noop_policy_substitutes_and_reports():
    env = to_pettingzoo("3m", seed=0)
    agent, bad = _unavailable(env)
    obs, _ = env.reset(seed=0)
    acts = {a: int(np.flatnonzero(obs[a]["action_mask"])[0]) for a in env.agents}
    acts[agent] = bad
    with pytest.warns(UserWarning, match="invalid_action='raise'"):
        _, _, _, _, infos = env.step(acts)
    assert infos[agent]["invalid_action"] == {"requested": bad, "applied": 1}  # stop for a live unit
    assert all("invalid_action" not in infos[a] for a in env.agents if a != agent)
    assert all(infos[a]["action_mask"].dtype == np.int8 for a in env.agents)  # the mask in info, too


def test_raise_policy_and_the_native_api_refuse_unavailable_actions():
    env = to_pettingzoo("3m", seed=0, invalid_action="raise")
    agent, bad = _unavailable(env)
    obs, _ = env.reset(seed=0)
    acts = {a: int(np.flatnonzero(obs[a]["action_mask"])[0]) for a in env.agents}
    acts[agent] = bad
    with pytest.raises(InvalidActionError, match=f"unavailable action {bad} for {agent}"):
        env.step(acts)
    native = make_env("starcraft:3m", batch_size=1, seed=0)
    native.reset()
    actions = torch.ones(1, native.n_agents, dtype=torch.long)
    actions[0, int(agent.split("_")[1])] = bad
    with pytest.raises(InvalidActionError, match="unavailable action"):
        native.step(actions)
    with pytest.raises(ValueError, match="invalid_action must be one of noop, raise"):
        to_pettingzoo("3m", invalid_action="ignore")


@pytest.mark.parametrize("policy", ["noop", "raise"])
@pytest.mark.parametrize("action, message", [("1", "must be an integer"), (1.7, "must be an integer"),
                                             (True, "must be an integer"), (99, "must lie in"), (-1, "must lie in")])
def test_malformed_actions_raise_under_every_policy(policy, action, message):
    env = to_pettingzoo("3m", seed=0, invalid_action=policy)
    env.reset(seed=0)
    acts = {a: 1 for a in env.agents}
    acts["agent_0"] = action
    with pytest.raises(InvalidActionError, match=message):
        env.step(acts)
    ok = {a: np.int64(1) for a in env.agents}  # NumPy integers, as action_space.sample() returns, are fine
    env.step(ok)
    with pytest.raises(InvalidActionError, match="missing"):
        env.step({"agent_0": 1})


def test_seeded_constructor_and_seeded_reset_start_the_same_battle():
    a = StarCraftEnv("2s3z", seed=5, random_start=True)
    b = StarCraftEnv("2s3z", seed=0, random_start=True)
    obs_a, state_a, _ = a.reset()
    obs_b, state_b, _ = b.reset(seed=5)
    assert torch.equal(obs_a, obs_b) and torch.equal(state_a, state_b)
    assert torch.equal(a.get_battle_state().pos, b.get_battle_state().pos)
    b.reset(seed=6)
    assert not torch.equal(a.get_battle_state().pos, b.get_battle_state().pos)  # random_start moves the armies
