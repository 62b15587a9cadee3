"""Environment registry: ``make_env("matrix:paper", batch_size=32)``.

A name is ``family`` or ``family:spec``; the family picks a factory below, which parses its own spec.
Factories import their module lazily so optional pieces cost nothing until used.
"""
from __future__ import annotations

from collections.abc import Callable

from .base import EnvInfo, InvalidActionError, MultiAgentEnv


def _matrix(spec: str, **kw) -> MultiAgentEnv:
    from .matrix_game import make_matrix_game

    return make_matrix_game(spec, **kw)


def _gaussian_squeeze(spec: str, **kw) -> MultiAgentEnv:
    from .gaussian_squeeze import make_gaussian_squeeze

    return make_gaussian_squeeze(spec, **kw)


def _predator_prey(spec: str, **kw) -> MultiAgentEnv:
    from .predator_prey import make_predator_prey

    return make_predator_prey(spec, **kw)


def _starcraft(spec: str, **kw) -> MultiAgentEnv:
    from .starcraft import make_starcraft

    return make_starcraft(spec, **kw)


ENVS: dict[str, Callable[..., MultiAgentEnv]] = {
    "matrix": _matrix,
    "gaussian_squeeze": _gaussian_squeeze,
    "predator_prey": _predator_prey,
    "starcraft": _starcraft,
}


def make_env(name: str, batch_size: int = 1, device="cpu", seed: int | None = None, **kwargs) -> MultiAgentEnv:
    """Build a batched environment from a name such as ``matrix:paper`` or ``starcraft:3m``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"environment name must be a non-empty string, got {name!r}")
    family, _, spec = name.partition(":")
    if family not in ENVS:
        raise ValueError(f"unknown environment family {family!r} in {name!r}; known: {', '.join(sorted(ENVS))}")
    return ENVS[family](spec, batch_size=batch_size, device=device, seed=seed, **kwargs)


__all__ = ["ENVS", "EnvInfo", "InvalidActionError", "MultiAgentEnv", "make_env"]
