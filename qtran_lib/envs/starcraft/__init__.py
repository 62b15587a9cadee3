"""A batched, pure-PyTorch re-creation of SMAC's StarCraft II micromanagement battles.

Introduced in book/07_starcraft. ``make_starcraft("3m", batch_size=1024)`` (or
``make_env("starcraft:3m", ...)``) builds a :class:`StarCraftEnv`; ``scenarios()`` lists the
built-in maps; a YAML file path defines a custom battle (schema in ``scenarios.py``).
Rendering (matplotlib) and the PettingZoo adapter import their dependencies lazily.
"""
from .config import StarCraftConfig
from .env import StarCraftEnv, make_starcraft
from .heuristic import heuristic_actions, random_actions
from .scenarios import SCENARIOS, Scenario, get_scenario, load_scenario, scenarios
from .units import UNIT_TYPES, UnitType


def __getattr__(name):
    if name in ("render_frame", "animate_episode", "EpisodeRecorder"):
        from . import render

        return getattr(render, name)
    if name in ("StarCraftParallelEnv", "to_pettingzoo"):
        from . import pettingzoo_env

        return getattr(pettingzoo_env, name)
    raise AttributeError(name)


__all__ = ["SCENARIOS", "Scenario", "StarCraftConfig", "StarCraftEnv", "UNIT_TYPES", "UnitType", "get_scenario",
           "heuristic_actions", "load_scenario", "make_starcraft", "random_actions", "scenarios",
           "render_frame", "animate_episode", "EpisodeRecorder", "StarCraftParallelEnv", "to_pettingzoo"]
