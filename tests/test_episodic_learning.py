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
