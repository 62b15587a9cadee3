"""The batched env protocol and the matrix games: shapes, payoffs, and clear errors on bad input."""
import pytest
import torch

from qtran_lib.envs import InvalidActionError, make_env
from qtran_lib.envs.matrix_game import PRESETS, MatrixGame, joint_action_episodes, parse_payoff
from toy_envs import CoordinationChain


def test_reset_and_step_shapes():
    env = make_env("matrix:paper", batch_size=5)
    obs, state, avail = env.reset()
    assert obs.shape == (5, 2, 1) and state.shape == (5, 1) and avail.shape == (5, 2, 3)
    reward, terminated, info = env.step(torch.tensor([[0, 0]] * 5))
    assert reward.tolist() == [8.0] * 5 and terminated.all()
    assert not info["active"].any() and not info["truncated"].any()
    assert env.env_info().as_dict() == dict(n_agents=2, n_actions=3, obs_dim=1, state_dim=1, episode_limit=1)


def test_payoff_lookup_rows_are_agent_one():
    env = make_env("matrix:1,2;3,4", batch_size=4)
    env.reset()
    reward, _, _ = env.step(torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]))
    assert reward.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_presets_and_custom_payoffs():
    assert parse_payoff("paper").tolist() == PRESETS["paper"]
    assert parse_payoff("climbing").max() == 11
    assert parse_payoff("penalty:k=-50")[0, 2] == -50 and parse_payoff("penalty")[0, 2] == -100
    assert parse_payoff("8,-12,-12;-12,0,0;-12,0,0").tolist() == PRESETS["paper"]
    three = MatrixGame(torch.arange(8.0).reshape(2, 2, 2), batch_size=1)
    assert three.env_info().n_agents == 3 and three.optimal_joint_action() == (1, 1, 1)


@pytest.mark.parametrize("spec, message", [
    ("1,2;3", "same number of entries"),
    ("1,x;3,4", "'x'"),
    ("1,2,3;4,5,6", "same number of actions"),
    ("nonsense", "unknown matrix game"),
    ("penalty:q=3", "parameter k"),
])
def test_bad_payoffs_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_payoff(spec)


def test_unknown_env_family():
    with pytest.raises(ValueError, match="unknown environment family 'smac'"):
        make_env("smac:3m")


@pytest.mark.parametrize("actions, message", [
    (torch.tensor([[0, 0]]), r"shape \[B, N\] = \[2, 2\]"),
    (torch.zeros(2, 2), "integer tensor"),
    ([[0, 0], [0, 0]], "torch.Tensor"),
    (torch.tensor([[0, 3], [0, 0]]), r"in \[0, 2\]"),
    (torch.tensor([[0, 0], [0, 2]]), "unavailable action 2 chosen by agent 1 in episode 1"),
])
def test_invalid_actions_raise_clear_errors(actions, message):
    env = CoordinationChain(batch_size=2)
    env.reset()
    with pytest.raises(InvalidActionError, match=message):
        env.step(actions)


def test_episode_limit_truncates_and_freezes_finished_episodes():
    env = CoordinationChain(batch_size=2)
    env.reset()
    for _ in range(3):
        reward, terminated, info = env.step(torch.tensor([[1, 1], [0, 1]]))
        assert reward.tolist() == [1.0, 0.0]
    assert info["truncated"].all() and not terminated.any() and not info["active"].any()
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(torch.tensor([[1, 1], [0, 1]]))


def test_joint_action_episodes_cover_every_cell_once():
    env = make_env("matrix:climbing")
    batch = joint_action_episodes(env)
    assert batch["actions"].shape == (9, 2, 2)
    assert sorted(batch["reward"][:, 0].tolist()) == sorted(env.payoff.flatten().tolist())
    assert batch["filled"][:, 0].all() and not batch["filled"][:, 1].any()


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        make_env("matrix:paper", batch_size=0)
