"""Small builders shared by the StarCraft tests."""
import torch

from qtran_lib.envs.starcraft import StarCraftEnv
from qtran_lib.envs.starcraft.scenarios import scenario_from_dict


def custom_env(allies: dict, enemies: dict, positions=None, batch_size: int = 1, limit: int = 100, **kw):
    """A battle from a dict scenario; ``positions`` [(x, y)] per slot (allies then enemies) if given."""
    sc = scenario_from_dict({"episode_limit": limit, "allies": allies, "enemies": enemies,
                             "map": {"playable": [0, 0, 32, 32]}})
    env = StarCraftEnv(sc, batch_size=batch_size, **kw)
    env.reset()
    if positions is not None:
        p = torch.tensor(positions, dtype=torch.float32)
        s = env.get_battle_state()
        s.x[:] = p[:, 0]
        s.y[:] = p[:, 1]
        s.goal_x[:] = p[:, 0]
        s.goal_y[:] = p[:, 1]
        env.set_battle_state(s)
    return env
