"""A batched, pure-PyTorch re-creation of SMAC's StarCraft II micromanagement battles.

Introduced in book/06_starcraft. Thousands of battles advance together with tensor ops on
CPU or GPU, behind the library's batched env protocol (``qtran_lib/envs/base.py``)::

    env = make_env("starcraft:3m", batch_size=1024)     # or make_starcraft("3m", ...)
    obs, state, avail = env.reset()                       # [B,N,30], [B,48], [B,N,9]
    reward, terminated, info = env.step(heuristic_actions(env))
    info["battle_won"], info["draw"], info["dead_allies"], info["dead_enemies"],
    info["truncated"], info["active"]                     # all [B]

- ``scenarios()`` lists SMAC's maps; a ``.yaml`` path defines a custom battle (schema in
  ``scenarios.py``); options are ``StarCraftConfig`` fields passed as keywords
  (``random_start=True`` for SMACv2-style randomised starts).
- ``heuristic_actions(env)`` (focus fire) and ``random_actions(avail)`` are scripted baselines.
- ``render_frame(env, b)``, ``EpisodeRecorder`` and ``animate_episode(recorder)`` draw
  battles (matplotlib, imported lazily); ``to_pettingzoo("3m")`` wraps one battle as a
  PettingZoo ``ParallelEnv`` (optional dependency, imported lazily).

Files: ``units.py`` (stats), ``scenarios.py`` (maps, YAML), ``terrain.py`` (SMAC's pathing grids),
``tables.py`` (static tensors), ``layout.py`` (start positions), ``resets.py`` (per-battle restarts),
``state.py`` (dynamic tensors), ``battle.py`` (orders and ticks), ``collisions.py``, ``enemy_ai.py``,
``features.py`` (obs/state/masks), ``reward.py``, ``env.py``.
"""
from .config import StarCraftConfig
from .env import SIMULATOR_VERSION, StarCraftEnv, make_starcraft
from .heuristic import heuristic_actions, random_actions
from .scenarios import SCENARIOS, Scenario, get_scenario, load_scenario, scenarios
from .units import UNIT_TYPES, UnitType

_LAZY = {"render_frame": "render", "animate_episode": "render", "EpisodeRecorder": "render",
         "StarCraftParallelEnv": "pettingzoo_env", "to_pettingzoo": "pettingzoo_env"}


def __getattr__(name):
    """Rendering and PettingZoo pieces load their optional dependencies only when asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SCENARIOS", "SIMULATOR_VERSION", "Scenario", "StarCraftConfig", "StarCraftEnv", "UNIT_TYPES", "UnitType",
           "get_scenario", "heuristic_actions", "load_scenario", "make_starcraft", "random_actions", "scenarios",
           "render_frame", "animate_episode", "EpisodeRecorder", "StarCraftParallelEnv", "to_pettingzoo"]
