"""The episodic stack learns: VDN on a tiny predator-prey captures far more often than untrained."""
import torch

from qtran_lib import make_config, make_env, train
from qtran_lib.learners import make_learner
from qtran_lib.train import evaluate

CFG = dict(env="predator_prey:grid_size=3,episode_limit=10,penalty=0.0", algo="vdn", agent="mlp",
           obs_last_action=False, hidden_dim=32, t_max=8000, batch_size_run=16, batch_size=16, buffer_size=500,
           updates_per_iteration=8, epsilon_anneal_time=3000, target_update_interval=50, lr=2e-3,
           test_interval=0, test_episodes=128, log_interval=2000, device="cpu", seed=0)


def test_vdn_learns_to_capture_on_tiny_predator_prey():
    torch.manual_seed(0)
    cfg = make_config(CFG)
    env = make_env(cfg.env, batch_size=128, seed=99)
    untrained = evaluate(env, make_learner(cfg, env.env_info()), 128)["test_return_mean"]
    result = train(cfg, progress=False)
    trained = result.final["test_return_mean"]
    assert trained > untrained + 0.25, (untrained, trained)
    assert trained > 0.7  # return 1 = the prey is caught within 10 steps


def test_td_lambda_targets_learn_too_for_every_mixer():
    """TD(lambda) targets (td_lambda > 0) plug into both learner families and still learn the tiny task."""
    import pytest

    env = make_env(CFG["env"], batch_size=128, seed=99)
    for algo in ("qmix", "qtran_base"):
        torch.manual_seed(0)
        cfg = make_config(CFG, algo=algo, td_lambda=0.6)
        untrained = evaluate(env, make_learner(cfg, env.env_info()), 128)["test_return_mean"]
        trained = train(cfg, progress=False).final["test_return_mean"]
        assert trained > untrained + 0.2, (algo, untrained, trained)
    with pytest.raises(ValueError, match="td_lambda"):
        make_config(CFG, td_lambda=1.5)
