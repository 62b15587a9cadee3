"""The autoreset runner stores the same episodes a lockstep batch would, and trains (runner: autoreset)."""
import math

import pytest
import torch

from qtran_lib import make_config, train
from qtran_lib.checkpoint import load_checkpoint
from qtran_lib.config import load_yaml
from qtran_lib.envs.starcraft import StarCraftEnv
from qtran_lib.envs.starcraft.resets import fresh_battles
from qtran_lib.learners import make_learner
from qtran_lib.runner import AutoresetRunner, run_episodes

SMALL = dict(batch_size_run=8, batch_size=8, buffer_size=64, hidden_dim=16, mixing_embed_dim=8, hypernet_embed=16,
             qtran_embed_dim=16)


def _learner(env):
    torch.manual_seed(0)
    cfg = make_config(load_yaml("starcraft"), algo="qmix", **SMALL)
    return make_learner(cfg, env.env_info())


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_greedy_episodes_equal_lockstep_ones_from_the_same_starts():
    env = StarCraftEnv("3m", batch_size=8, seed=5, autoreset=True, random_start=True)
    learner = _learner(env)
    runner = AutoresetRunner(env)
    for _ in range(2):
        data, stats = runner.collect(learner, 0.0)
        assert data["filled"].shape[0] == 8 and stats["steps"] % 8 == 0
        # lockstep twin: the same 8 battles (same rows' k-th starts), played to the end by the same greedy agents
        ref = StarCraftEnv("3m", batch_size=8, seed=0, random_start=True)
        starts = fresh_battles(ref.tables, ref.config, 9, 5, stats["row"], stats["episode"])
        ref._reset = lambda env=ref, s=starts: setattr(env, "battle", s)
        want, want_stats = run_episodes(ref, learner, 0.0)
        assert torch.equal(stats["length"], want_stats["length"])
        assert torch.allclose(stats["return"], want_stats["return"])
        assert torch.equal(stats["battle_won"], want_stats["battle_won"])
        for i, n in enumerate(stats["length"].long().tolist()):
            for k in ("obs", "state", "avail"):
                assert torch.equal(data[k][i, :n + 1], want[k][i, :n + 1]), k
            for k in ("actions", "reward", "terminated", "filled"):
                assert torch.equal(data[k][i, :n], want[k][i, :n]), k
            assert not data["filled"][i, n:].any() and not data["obs"][i, n + 1:].any()  # zero padding


def test_random_play_episodes_are_well_formed():
    env = StarCraftEnv("2s3z", batch_size=16, seed=1, autoreset=True, random_start=True)
    learner = _learner(env)
    runner = AutoresetRunner(env)
    limit = env.env_info().episode_limit
    seen = set()
    for _ in range(3):
        data, stats = runner.collect(learner, 1.0, torch.Generator().manual_seed(0))
        n = stats["length"].long()
        assert torch.equal(data["filled"].sum(1).long(), n)
        assert torch.allclose(data["reward"].sum(1), stats["return"], atol=1e-5)
        for i, L in enumerate(n.tolist()):
            assert data["filled"][i, :L].all()
            term = data["terminated"][i]
            assert not term[:L - 1].any()  # a terminal flag only at the last step
            assert bool(term[L - 1]) == (L < limit) or (L == limit)  # before the limit every ending is terminal
            if stats["battle_won"][i]:
                assert term[L - 1] == 1
            assert (data["avail"][i, L].sum(-1) > 0).all()  # the final obs/avail of the step it ended at
            key = (int(stats["row"][i]), int(stats["episode"][i]))
            assert key not in seen  # every battle is handed over once
            seen.add(key)
    # no bias: each row's battles come in order, none skipped
    for row in range(16):
        ks = sorted(k for r, k in seen if r == row)
        assert ks == list(range(ks[0], ks[0] + len(ks))) if ks else True


def test_train_with_the_autoreset_runner_on_3m(tmp_path):
    base = dict(load_yaml("starcraft"), algo="qmix", env="starcraft:3m", seed=0, **SMALL, updates_per_iteration=1,
                t_max=1600, test_interval=0, test_episodes=8, log_interval=400, save_interval=400)
    cfg = make_config(base, runner="autoreset")
    result = train(cfg, out=tmp_path / "full", progress=False)
    assert result.learner.n_updates > 0
    for row in result.metrics:
        assert math.isfinite(row["return_mean"]) and 0 <= row["return_mean"] <= 20
        if "loss" in row:
            assert math.isfinite(row["loss"])
    assert 0.0 <= result.final["test_won_mean"] <= 1.0
    # resuming continues the episodes in progress exactly
    train(cfg, out=tmp_path / "part", progress=False, stop_after_iterations=3)
    assert load_checkpoint(tmp_path / "part")["runner"] is not None
    resumed = train(cfg, out=tmp_path / "part", resume=tmp_path / "part", progress=False)
    assert [{k: v for k, v in r.items() if k != "wall_time"} for r in resumed.metrics] == \
        [{k: v for k, v in r.items() if k != "wall_time"} for r in result.metrics]


def test_autoreset_runner_is_validated():
    with pytest.raises(ValueError, match="runner must be lockstep or autoreset"):
        make_config(runner="async")
    with pytest.raises(ValueError, match="needs an env with per-episode restarts"):
        make_config(env="predator_prey", runner="autoreset")
